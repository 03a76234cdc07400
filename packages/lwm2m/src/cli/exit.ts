/** What every `lwm2m` command shares: its version, its exit codes, the hint after a usage error. */

/** The version `lwm2m --version` prints: the package's (test/cli/main.test.ts checks it). */
export const VERSION = '0.1.0';

export const HELP_HINT = '`lwm2m --help` lists the options';

export const EXIT_CODES = `Exit codes:
  0   done, or stopped by SIGINT / SIGTERM
  1   the command failed at run time (a firmware push that failed, a server that could not start)
  2   usage error (unknown option or command, bad or missing value), one line on stderr
  66  a file given does not exist (bootstrap-server --config)
  69  cannot listen or bind (address in use, not available)
  70  internal error (a bug: please report it with the stack trace)
`;
