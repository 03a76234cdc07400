/** A mistake of the user's: one line on stderr, no stack trace, and the exit code (see `coap --help`). */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** A usage error (exit 64): the line and where to find the options. */
export class UsageError extends CliFailure {
  constructor(message: string) {
    super(message, 64);
  }
}

/** A file or directory given on the command line cannot be read (exit 66, EX_NOINPUT). */
export const noInput = (what: string, e: unknown): CliFailure =>
  new CliFailure(`${what}: ${systemMessage(e)}`, 66);

export function systemMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  switch (err.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'not a directory';
    case 'EADDRINUSE':
      return 'address already in use';
    case 'EADDRNOTAVAIL':
      return 'address not available';
    default:
      return err.message ?? String(e);
  }
}
