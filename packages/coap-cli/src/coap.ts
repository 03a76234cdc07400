#!/usr/bin/env node
/** The `coap` command-line tool (bin of @thimble/coap-cli). */
import { runCli } from './main.js';

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());

runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  controller.signal,
).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`coap: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 70;
  },
);
