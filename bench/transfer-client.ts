/**
 * Child process for bench/transfer.ts: Thimble's client uploading (Block1) and downloading (Block2) the
 * 1 MiB body against Thimble's server (bench/transfer-server.ts). Prints one JSON line with the wall
 * times (ms) and the CPU time per block (µs, user + system) of this process and of the server.
 *
 *   node transfer-client.js PORT RUNS WARMUP
 */
import { createUdpEndpoint } from '../packages/coap-core/src/node.js';

const [port, runs, warmup] = process.argv.slice(2).map(Number) as [number, number, number];
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

const out = {
  up: [] as number[],
  down: [] as number[],
  upClient: [] as number[],
  upServer: [] as number[],
  downClient: [] as number[],
  downServer: [] as number[],
};
for (let i = 0; i < runs + warmup; i++) {
  const c0 = await cpu();
  let t = process.hrtime.bigint();
  const r = await client.put(uri, body, { blockSize: 1024 });
  const u = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.code !== 0x44) throw new Error(`upload failed: ${r.code}`);
  const c1 = await cpu();
  t = process.hrtime.bigint();
  const got = (await client.get(uri, { blockSize: 1024 })).payload;
  const d = Number(process.hrtime.bigint() - t) / 1e6;
  const c2 = await cpu();
  if (!same(got, body)) throw new Error('thimble download differs');
  if (i >= warmup) {
    out.up.push(u);
    out.down.push(d);
    out.upClient.push((c1[0] - c0[0]) / BLOCKS);
    out.upServer.push((c1[1] - c0[1]) / BLOCKS);
    out.downClient.push((c2[0] - c1[0]) / BLOCKS);
    out.downServer.push((c2[1] - c1[1]) / BLOCKS);
  }
}
await client.close();
console.log(JSON.stringify(out));
