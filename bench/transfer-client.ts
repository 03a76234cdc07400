/**
 * Child process for bench/transfer.ts: Thimble's client uploading (Block1) and downloading (Block2) the
 * 1 MiB body against Thimble's server (bench/transfer-server.ts), one transfer per command so the
 * orchestrator can interleave them with libcoap's. After WARMUP uploads and downloads it reads lines
 * `up` / `down` from stdin and answers each with a JSON line: wall time (ms) and the CPU time per block
 * (µs, user + system) of this process and of the server. It exits at the end of its input.
 *
 *   node transfer-client.js PORT WARMUP
 */
import { createInterface } from 'node:readline';
import { createUdpEndpoint } from '../packages/coap-core/src/node.js';

const [port, warmup] = process.argv.slice(2).map(Number) as [number, number];
const SIZE = 1024 * 1024;
const BLOCKS = SIZE / 1024;
const body = new Uint8Array(SIZE);
for (let i = 0; i < SIZE; i++) body[i] = (i * 7 + (i >> 10)) & 0xff;

const client = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
const uri = `coap://127.0.0.1:${port}/file`;
/** CPU time (µs) of this process and of the server process so far. */
async function cpu(): Promise<readonly [number, number]> {
  const own = process.cpuUsage();
  const server = Number((await client.get(`coap://127.0.0.1:${port}/cpu`)).text());
  return [own.user + own.system, server];
}
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function transfer(kind: string) {
  const c0 = await cpu();
  const t = process.hrtime.bigint();
  let got: Uint8Array | undefined;
  if (kind === 'up') {
    const r = await client.put(uri, body, { blockSize: 1024 });
    if (r.code !== 0x44) throw new Error(`upload failed: ${r.code}`);
  } else {
    got = (await client.get(uri, { blockSize: 1024 })).payload;
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const c1 = await cpu();
  if (got !== undefined && !same(got, body)) throw new Error('thimble download differs');
  return { kind, ms, client: (c1[0] - c0[0]) / BLOCKS, server: (c1[1] - c0[1]) / BLOCKS };
}

for (let i = 0; i < warmup; i++) {
  await transfer('up');
  await transfer('down');
}
console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const kind = line.trim();
  if (kind === 'up' || kind === 'down') console.log(JSON.stringify(await transfer(kind)));
}
await client.close();
