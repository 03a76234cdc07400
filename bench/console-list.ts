/**
 * What the web console's device list costs the server at 100,000 registrations (issue 19): the REST routes
 * `/api/registrations` (a page, by cursor, by prefix, with filters), `/api/stats` and the unpaginated
 * `/api/clients` for comparison, through Fastify's `inject` on an `Lwm2mServer` whose in-memory store holds
 * the registrations. Prints a markdown table of the median and worst of 30 requests each.
 *
 *   npm run bench:console        (from the repository root)
 */
import { CoapEndpoint, FakeClock, MemoryNetwork } from '../packages/coap-core/src/index.js';
import { Lwm2mServer, MemoryRegistrationStore, type Registration } from '../packages/lwm2m/src/index.js';
import { createRestApi } from '../packages/lwm2m/src/node/index.js';

const COUNT = 100_000;
const RUNS = 30;

function registration(i: number): Registration {
  const name = `device-${String(i).padStart(6, '0')}`;
  return {
    id: `id${i}`,
    endpoint: name,
    lifetime: 300,
    version: i % 10 === 0 ? '1.0' : '1.1',
    binding: i % 7 === 0 ? 'UQ' : 'U',
    queueMode: i % 7 === 0,
    peer: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 56830 },
    rootPath: '/',
    contentFormats: [110, 112, 11542],
    objects: [{ path: [1, 0] }, { path: [3, 0] }, { path: [4, 0] }, { path: [3303, 0], version: '1.1' }],
    registeredAt: i,
    updatedAt: i,
    expiresAt: 1e12,
  };
}

const clock = new FakeClock();
const store = new MemoryRegistrationStore();
for (let i = 0; i < COUNT; i++) store.put(registration(i));
const network = new MemoryNetwork({ clock });
const server = new Lwm2mServer({
  endpoint: new CoapEndpoint({ transport: network.bind('10.0.0.1', 5683), clock }),
  store,
  clock,
});
const app = await createRestApi({ server });

async function time(url: string): Promise<{ median: number; worst: number; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const res = await app.inject({ method: 'GET', url });
    ms.push(performance.now() - t0);
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    bytes = res.body.length;
  }
  ms.sort((a, b) => a - b);
  return { median: ms[RUNS >> 1]!, worst: ms[RUNS - 1]!, bytes };
}

const cases: [string, string][] = [
  ['first page (50)', '/api/registrations?limit=50'],
  [
    'a page in the middle, by cursor',
    `/api/registrations?limit=50&cursor=device-${String(COUNT >> 1).padStart(6, '0')}`,
  ],
  ['prefix search (100 matches)', `/api/registrations?prefix=device-0123`],
  ['filter: version 1.0 (10 % match)', '/api/registrations?version=1.0'],
  ['filter: queue mode, seen since the middle', `/api/registrations?queueMode=true&seenSince=${COUNT >> 1}`],
  ['prefix + filter', '/api/registrations?prefix=device-01&version=1.0'],
  ['/api/stats', '/api/stats'],
  ['/api/clients (every registration, unpaginated)', '/api/clients'],
];

console.log(`${COUNT} registrations, ${RUNS} requests each (Fastify inject, no network)\n`);
console.log('| request | median | worst | body |');
console.log('| --- | --- | --- | --- |');
for (const [name, url] of cases) {
  const r = await time(url);
  console.log(
    `| ${name} | ${r.median.toFixed(2)} ms | ${r.worst.toFixed(2)} ms | ${(r.bytes / 1024).toFixed(1)} KiB |`,
  );
}
// the sorted index is built on the first page after a registration came or went: a fresh API's first page
const fresh = await createRestApi({ server });
const t0 = performance.now();
await fresh.inject({ method: 'GET', url: '/api/registrations?limit=50' });
console.log(`\nfirst page with the index to (re)build: ${(performance.now() - t0).toFixed(1)} ms`);
await fresh.close();
await app.close();
await server.close();
