/**
 * Server reliability: a restart on the SQLite store in the middle of a fleet's life, and a flood of
 * malformed registrations (docs/ARCHITECTURE.md, "Bad input is normal input", "Bounded everything").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CoapEndpoint, type CoapResponse, Code, seededRandom } from '@thimble/coap-core';
import type { CompositeNotificationEvent, Lwm2mClient, NotificationEvent } from '@thimble/lwm2m';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/node/index.js';
import { drive, SERVER, serverSetup, until } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'thimble-reliability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FLEET = 50;

describe('a server restarted on the SQLite store in the middle of a fleet’s life', () => {
  it('still has every registration, reads every device, and its observations still deliver', async () => {
    const path = join(dir, 'fleet.db');
    const stores1 = openSqliteStores(path);
    const s1 = serverSetup({
      store: stores1.registrations,
      server: { security: stores1.security, observationStore: stores1.observations },
    });
    const { clock, network } = s1;
    const clients: Lwm2mClient[] = [];
    for (let i = 1; i <= FLEET; i++) clients.push(s1.device(i, { lifetime: 600 }));
    for (const c of clients) c.start();
    await until(clock, () => clients.every((c) => c.registrationState === 'registered'));
    expect(s1.server.registrations()).toHaveLength(FLEET);
    // every device observed on one resource, every fifth one with an Observe-Composite too
    for (let i = 1; i <= FLEET; i++) {
      await drive(clock, s1.server.observe(`dev${i}`, '/3303/0/5700'));
      if (i % 5 === 0) await drive(clock, s1.server.observeComposite(`dev${i}`, ['/3303/0/5700', '/3/0/0']));
    }
    expect(stores1.observations.size).toBe(FLEET + FLEET / 5);
    // some life: updates, a value or two
    clock.advance(30_000);
    await drive(clock, clients[0]!.triggerUpdate());
    const before = new Map(s1.server.registrations().map((r) => [r.endpoint, r]));

    // the server goes down (its endpoint with it) and comes back on the same database
    s1.server.close();
    await s1.serverEndpoint.close();
    stores1.close();
    const stores2 = openSqliteStores(path);
    const s2 = serverSetup({
      clock,
      network,
      store: stores2.registrations,
      server: { security: stores2.security, observationStore: stores2.observations },
    });
    const after = s2.server.registrations();
    expect(after).toHaveLength(FLEET);
    for (const r of after) expect(r).toEqual(before.get(r.endpoint));
    expect(s2.server.observationsOf()).toHaveLength(FLEET);
    expect(s2.server.compositeObservationsOf()).toHaveLength(FLEET / 5);

    // every registration is readable through the restarted server
    for (let i = 1; i <= FLEET; i++) {
      const node = await drive(clock, s2.server.read(`dev${i}`, '/3/0/2'));
      expect(node).toMatchObject({ value: 'SN-1' });
    }
    // notifications sent with the old tokens are delivered as events of the new server
    const single: NotificationEvent[] = [];
    const composite: CompositeNotificationEvent[] = [];
    s2.server.on('notification', (e) => single.push(e));
    s2.server.on('compositeNotification', (e) => composite.push(e));
    for (const [i, c] of clients.entries()) c.set('/3303/0/5700', 30 + i);
    await until(clock, () => single.length >= FLEET && composite.length >= FLEET / 5);
    expect(new Set(single.map((e) => e.endpoint)).size).toBe(FLEET);
    expect(single.find((e) => e.endpoint === 'dev7')?.node).toMatchObject({ value: 36 });
    expect(composite.find((e) => e.endpoint === 'dev10')?.entries.map((e) => e.path.join('/'))).toEqual([
      '3303/0/5700',
      '3/0/0',
    ]);
    // the devices keep their registrations: an Update reaches the restarted server
    await drive(clock, clients[3]!.triggerUpdate());
    expect(s2.events.updated.map((r) => r.endpoint)).toEqual(['dev4']);
    // and cancelling a resumed observation reaches the device
    expect(await drive(clock, s2.server.cancelObserve('dev2', '/3303/0/5700'))).toBe(1);
    await until(clock, () => clients[1]!.endpoint.observerTotal('3303/0/5700') === 0);
    expect(stores2.observations.size).toBe(FLEET - 1 + FLEET / 5);
    s2.server.close();
    stores2.close();
  }, 60_000);

  it('an observation whose registration is gone is dropped at restart; its notification gets a Reset', async () => {
    const path = join(dir, 'gone.db');
    const stores1 = openSqliteStores(path);
    const s1 = serverSetup({
      store: stores1.registrations,
      server: { observationStore: stores1.observations },
    });
    const dev = s1.device(1);
    dev.start();
    await until(s1.clock, () => dev.registrationState === 'registered');
    await drive(s1.clock, s1.server.observe('dev1', '/3303/0/5700'));
    s1.server.close();
    await s1.serverEndpoint.close();
    // the registration vanished from the store while the server was down
    stores1.registrations.remove(s1.server.registration('dev1')!.id);
    stores1.close();
    const stores2 = openSqliteStores(path);
    const s2 = serverSetup({
      clock: s1.clock,
      network: s1.network,
      store: stores2.registrations,
      server: { observationStore: stores2.observations },
    });
    expect(s2.server.observationsOf()).toHaveLength(0);
    expect(stores2.observations.size).toBe(0);
    // RFC 7641 §3.6: the device's next notification is answered with RST and it drops the observer
    dev.set('/3303/0/5700', 40);
    await until(s2.clock, () => dev.endpoint.observerTotal('3303/0/5700') === 0);
    stores2.close();
  });
});

/** The V8 garbage collector, for heap measurements. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('a flood of malformed registrations', () => {
  it('thousands of bad queries, oversized payloads and bad link formats: 4.00 (4.13 for Block1 beyond the limit), no crash, memory flat', async () => {
    const s = serverSetup({ limits: { maxPayloadSize: 512 } });
    const good = s.device(1);
    good.start();
    await until(s.clock, () => good.registrationState === 'registered');
    const senders: CoapEndpoint[] = [];
    for (let i = 0; i < 8; i++)
      senders.push(
        new CoapEndpoint({
          transport: s.network.bind(`10.0.9.${i + 1}`, 5683),
          clock: s.clock,
          random: seededRandom(900 + i),
        }),
      );
    const to = { address: SERVER, port: 5683 };
    const big = 'x'.repeat(900);
    const bad: { query: string[]; payload: Uint8Array | string; contentFormat?: number }[] = [
      { query: [], payload: '</1/0>' }, // no ep
      { query: ['ep=a', 'lt=abc'], payload: '</1/0>' },
      { query: ['ep=a', 'lt=0'], payload: '</1/0>' },
      { query: ['ep=a', 'ep=b'], payload: '</1/0>' },
      { query: ['ep=a b'], payload: '</1/0>' },
      { query: [`ep=${'e'.repeat(300)}`], payload: '</1/0>' },
      { query: ['ep=a', 'lwm2m=9.9'], payload: '</1/0>' },
      { query: ['ep=a', 'b=XYZ'], payload: '</1/0>' },
      { query: ['ep=a', 'Q=1'], payload: '</1/0>' },
      { query: ['ep=a', 'sms=abc'], payload: '</1/0>' },
      { query: ['ep=a'], payload: '' },
      { query: ['ep=a'], payload: `</1/0>,<${big}` }, // above maxPayloadSize in one datagram
      { query: ['ep=a'], payload: '</1/0' },
      { query: ['ep=a'], payload: '<x>;;;,' },
      { query: ['ep=a'], payload: '</99999999/0>' },
      { query: ['ep=a'], payload: '</1/0>;ver="', contentFormat: 40 },
      { query: ['ep=a'], payload: Uint8Array.of(0xff, 0xfe, 0xc3, 0x28) }, // not UTF-8
      { query: ['ep=a'], payload: '</1/0>', contentFormat: 0 }, // not link-format
    ];
    const send = (i: number): Promise<CoapResponse> => {
      const b = bad[i % bad.length]!;
      const query = b.query.map((q) => q.replace(/^ep=a$/, `ep=flood${i}`));
      return senders[i % senders.length]!.request({
        method: 'POST',
        peer: to,
        path: 'rd',
        query,
        payload: b.payload,
        contentFormat: b.contentFormat ?? 40,
      });
    };
    const gc = collector();
    const round = async (from: number, count: number) => {
      const codes = new Map<string, number>();
      for (let start = from; start < from + count; start += 200) {
        const batch: Promise<CoapResponse>[] = [];
        for (let i = start; i < Math.min(start + 200, from + count); i++) batch.push(send(i));
        for (const r of await drive(s.clock, Promise.all(batch))) {
          const k = `${r.code >> 5}.${String(r.code & 31).padStart(2, '0')}`;
          codes.set(k, (codes.get(k) ?? 0) + 1);
        }
      }
      return codes;
    };
    // warm up, then measure the heap around a much larger flood
    await round(0, 1_000);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const codes = await round(1_000, 6_000);
    // Block1 bodies beyond the limit: 4.13 with Size1 (RFC 7959 §2.9.3)
    const huge: CoapResponse[] = [];
    for (let i = 0; i < 20; i++)
      huge.push(
        await drive(
          s.clock,
          senders[i % senders.length]!.request({
            method: 'POST',
            peer: to,
            path: 'rd',
            query: [`ep=huge${i}`],
            contentFormat: 40,
            payload: '</1/0>,'.repeat(10_000),
          }),
        ),
      );
    s.clock.advance(600_000); // let the exchange and transfer state expire
    await s.clock.advance(1_000);
    gc();
    const heapAfter = process.memoryUsage().heapUsed;

    expect([...codes.keys()]).toEqual(['4.00']);
    expect(codes.get('4.00')).toBe(6_000);
    expect(huge.every((r) => r.code === Code.RequestEntityTooLarge)).toBe(true);
    expect(s.server.registrations().map((r) => r.endpoint)).toEqual(['dev1']);
    expect(s.serverEndpoint.pendingRequests).toBe(0);
    expect(s.serverEndpoint.transfersInProgress).toBe(0);
    // memory flat: a generous margin (GC timing varies), far below what keeping the flood would take
    expect(heapAfter - heapBefore).toBeLessThan(8 * 1024 * 1024);
    // and the server still serves the good device
    expect(await drive(s.clock, s.server.read('dev1', '/3/0/0'))).toMatchObject({ value: 'Thimble' });
  }, 120_000);
});
