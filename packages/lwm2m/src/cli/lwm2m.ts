#!/usr/bin/env node
/** Entry point of the `lwm2m` bin. */
import { main } from './main.js';

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // a bug (every user mistake is a one-line message and an exit code of main): exit 70 with the stack
    process.stderr.write(`lwm2m: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(70);
  },
);
