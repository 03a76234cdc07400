/** Where a command writes: `process.stdout` / `process.stderr` in the `lwm2m` binary, buffers in tests. */
export interface CliIo {
  readonly stdout: { write(data: string): unknown };
  readonly stderr: { write(data: string): unknown };
}
