/**
 * Child process of sequence-concurrency.test.ts: one sender sharing a credentials directory with others.
 * It boots `runs` times (a fresh context from the directory each time, like separate command-line
 * invocations), protects `perRun` requests per boot with plaintexts unique to this process, and sends each
 * protected request to the test's UDP listener, which records the (kid, Partial IV) pairs. It prints the
 * number of requests sent and the number of stale locks it broke.
 *
 *   node --import tsx sender.ts <dir> <port> <runs> <perRun> <block> [crashAtWrite]
 *
 * With `crashAtWrite` N the process kills itself (SIGKILL, no cleanup) inside its N-th reservation, while it
 * holds the lock file: the others must recover the stale lock and go on.
 */
import { createSocket } from 'node:dgram';
import { Code, encodeMessage, MessageType } from '@thimble/coap-core';
import { protectRequest } from '@thimble/oscore';
import { FileSequenceStore, loadContextDirectory } from '@thimble/oscore/node';

const [dir, portText, runsText, perRunText, blockText, crashText] = process.argv.slice(2);
if (dir === undefined || blockText === undefined) {
  process.stderr.write('usage: sender.ts <dir> <port> <runs> <perRun> <block>\n');
  process.exit(2);
}
const port = Number(portText);
const runs = Number(runsText);
const perRun = Number(perRunText);
const block = Number(blockText);
if (crashText !== undefined) {
  const crashAt = Number(crashText);
  let writes = 0;
  // a test-only hook on the protected write step, which runs under the lock
  const proto = FileSequenceStore.prototype as unknown as { writeDurably(file: string, text: string): void };
  const original = proto.writeDurably;
  proto.writeDurably = function (this: unknown, file: string, text: string) {
    if (++writes === crashAt) process.kill(process.pid, 'SIGKILL');
    original.call(this, file, text);
  };
}
const socket = createSocket('udp4');
const send = (bytes: Uint8Array) =>
  new Promise<void>((resolve, reject) =>
    socket.send(bytes, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
  );

let sent = 0;
let brokenLocks = 0;
for (let run = 0; run < runs; run++) {
  const { context, store } = loadContextDirectory(dir, { sequenceBlock: block });
  for (let i = 0; i < perRun; i++) {
    const payload = new TextEncoder().encode(`${process.pid}/${run}/${i}`);
    const { message } = protectRequest(context, {
      type: MessageType.NON,
      code: Code.POST,
      messageId: sent & 0xffff,
      payload,
    });
    await send(encodeMessage(message));
    sent++;
  }
  brokenLocks += store.brokenLocks;
}
socket.close();
process.stdout.write(`${sent} ${brokenLocks}\n`);
