#!/usr/bin/env node
/** Entry point of the `lwm2m` bin. */
import { main } from './main.js';

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`lwm2m: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
