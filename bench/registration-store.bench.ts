/**
 * Registration store micro-benchmark (issue 8): what a Registration Update costs the store (a `put` that
 * replaces the endpoint's registration) and what the server's lookups cost (`get` by id), for the
 * in-memory store and the SQLite store (a file in the temp directory, WAL, synchronous=NORMAL), with
 * 10 000 registrations in the store. Prints a markdown table.
 *
 *   npm run bench:store          (from the repository root)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { do_not_optimize, bench as mbench, run, summary } from 'mitata';
import {
  MemoryRegistrationStore,
  type Registration,
  type RegistrationStore,
} from '../packages/lwm2m/src/index.js';
import { openSqliteStores } from '../packages/lwm2m/src/node/index.js';

const COUNT = 10_000;

function registration(i: number, updatedAt: number): Registration {
  return {
    id: `id${i}`,
    endpoint: `device-${i}`,
    lifetime: 300,
    version: '1.1',
    binding: 'U',
    queueMode: false,
    peer: { address: `10.0.${i >> 8}.${i & 255}`, port: 56830 },
    rootPath: '/',
    contentFormats: [110, 112, 11542],
    objects: [{ path: [1, 0] }, { path: [3, 0] }, { path: [4, 0] }, { path: [3303, 0], version: '1.1' }],
    registeredAt: 0,
    updatedAt,
    expiresAt: updatedAt + 315_000,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'thimble-bench-store-'));
const sqlite = openSqliteStores(join(dir, 'bench.db'));
const stores: [string, RegistrationStore][] = [
  ['memory', new MemoryRegistrationStore()],
  ['sqlite', sqlite.registrations],
];
for (const [, store] of stores) for (let i = 0; i < COUNT; i++) store.put(registration(i, 0));

let tick = 1;
summary(() => {
  for (const [name, store] of stores) {
    mbench(`${name}: put (an Update replaces a registration)`, () => {
      const i = tick++ % COUNT;
      do_not_optimize(store.put(registration(i, tick)));
    });
    mbench(`${name}: get by id`, () => {
      do_not_optimize(store.get(`id${tick++ % COUNT}`));
    });
  }
});

const result = await run({ format: 'quiet' });
console.log('| store | operation | avg | p99 |\n|---|---|---|---|');
const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
for (const b of result.benchmarks) {
  const stats = b.runs[0]?.stats;
  if (stats === undefined) continue;
  const [store, operation] = b.alias.split(': ');
  console.log(`| ${store} | ${operation} | ${fmt(stats.avg)} | ${fmt(stats.p99)} |`);
}
sqlite.close();
rmSync(dir, { recursive: true, force: true });
