/**
 * The device side of a Register alone: a fleet (`Fleet`, objects 0, 1, 3, 3303, 200 in flight) on the
 * in-memory network, against a stub server that answers every Register with a fixed piggybacked 2.01
 * (Location-Path rd/x) built by copying the message ID and token into a template, so nearly all the CPU
 * measured is the clients' and their endpoints'.
 *
 *   node --import tsx bench/registration/client-cost.ts [--count 10000] [--rounds 5]
 */
import { CoapEndpoint, cryptoRandom, MemoryNetwork } from '../../packages/coap-core/src/index.js';
import { Fleet } from '../../packages/lwm2m/src/fleet/fleet.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const count = Number(arg('count', '10000'));
const rounds = Number(arg('rounds', '5'));

const network = new MemoryNetwork();
const server = network.bind('10.0.0.1', 5683);
server.onDatagram((data, from) => {
  const tkl = data[0]! & 0x0f;
  // ACK, 2.01 Created, same message ID and token, Location-Path "rd", "x"
  const out = new Uint8Array(4 + tkl + 5);
  out[0] = 0x60 | tkl;
  out[1] = 0x41;
  out[2] = data[2]!;
  out[3] = data[3]!;
  out.set(data.subarray(4, 4 + tkl), 4);
  out.set([0x82, 0x72, 0x64, 0x01, 0x78], 4 + tkl);
  server.send(out, from);
});
const random = cryptoRandom();
let base = 0;
for (let r = 0; r < rounds; r++) {
  const offset = base;
  base += count;
  const fleet = new Fleet({
    count,
    serverUri: 'coap://10.0.0.1:5683',
    prefix: `c${r}`,
    rate: Number.POSITIVE_INFINITY,
    maxInFlight: 200,
    lifetime: 3600,
    temperatureInterval: 0,
    random,
    createEndpoint: (i) =>
      new CoapEndpoint({
        transport: network.bind(`10.1.${((offset + i) >> 8) & 255}.${(offset + i) & 255}`, 40000 + r),
        random,
        maxPendingRequests: 16,
        limits: { maxPeers: 8, maxDedupEntries: 256, maxDedupPerPeer: 128, maxQueuedPerPeer: 32 },
      }),
  });
  await fleet.prepare();
  (globalThis as { gc?: () => void }).gc?.();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // the network and the clients run on unref'd timers: this keeps the process up meanwhile
  const keep = setInterval(() => {}, 1000);
  fleet.start();
  await fleet.whenComplete();
  clearInterval(keep);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  console.log(
    `round ${r}: ${fleet.stats().everRegistered}/${count} registered in ${ms.toFixed(0)} ms, ` +
      `${((c.user + c.system) / count).toFixed(1)} µs CPU per registration`,
  );
}
process.exit(0);
