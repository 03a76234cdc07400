/**
 * Read-Composite and Write-Composite on our Lwm2mClient from Eclipse Leshan's server library (2.0.0-M4,
 * ReadCompositeRequest / WriteCompositeRequest) through a small peer (ThimbleLeshanServer in
 * test/interop/leshan-bsserver/), since the M4 server demo's REST API has no composite route. The client
 * registers over UDP on loopback; the peer runs each command it reads on stdin and prints Leshan's answer.
 */
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { Lwm2mClient } from '@thimble/lwm2m';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './leshan.js';
import { type LeshanServerPeer, requireLeshanServerPeer, startLeshanServerPeer } from './leshan-bsserver.js';

const available = requireLeshanServerPeer();

const EP = `thimble-composite-${process.pid}`;
/** SenML CBOR and SenML JSON (RFC 8428 §12.3, LwM2M TS Core 1.1 §7.4.4 / §7.4.5). */
const FORMAT = { cbor: 112, json: 110 } as const;
const PATHS = ['/3/0/0', '/3/0/9', '/3/0/11', '/3303/0/5700', '/3303/0/5701', '/1/0/1'];

describe.skipIf(!available)('Lwm2mClient with Leshan 2.0.0-M4 server library: composite operations', () => {
  let peer: LeshanServerPeer;
  let client: Lwm2mClient;
  let close: () => Promise<void>;
  const operations: string[] = [];
  const changed: string[] = [];

  beforeAll(async () => {
    peer = await startLeshanServerPeer();
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    client = new Lwm2mClient({
      endpointName: EP,
      endpoint,
      serverUri: peer.uri,
      lifetime: 60,
      version: '1.1',
      objectVersions: { 1: '1.1', 3: '1.1' },
      requestTimeout: 2_000,
    });
    client.addInstance(1, 0, { 0: 123, 1: 60, 6: false, 7: 'U' });
    client.addInstance(3, 0, { 0: 'Thimble', 1: 'composite-test', 9: 87, 11: [0], 16: 'U' });
    client.addInstance(3303, 0, { 5700: 21.5, 5701: 'Cel', 5750: 'Indoor' });
    client.on('operation', (o) => operations.push(`${o.operation} ${o.path} ${o.code}`));
    client.on('changed', (p) => changed.push(`/${p.join('/')}`));
    client.start();
    close = async () => {
      await client.stop();
      await endpoint.close();
    };
    await eventually(() => client.registrationState === 'registered', 15_000, 'client registered');
    await eventually(
      () => peer.events().includes(`EVENT registered ep=${EP}`),
      5_000,
      'Leshan saw the registration',
    );
  }, 45_000);

  afterAll(async () => {
    await close?.();
    peer?.stop();
  }, 10_000);

  /** What the client holds at a path, in the shape the peer prints (multiple resources as an object). */
  function held(path: string): unknown {
    const v = client.get(path);
    if (!Array.isArray(v)) return v;
    const out: { [id: string]: unknown } = {};
    for (const [id, x] of v as [number, unknown][]) out[String(id)] = x;
    return out;
  }

  for (const format of ['cbor', 'json'] as const) {
    it(`LwM2M TS Core 1.1 §6.3.2 Read-Composite (SenML ${format.toUpperCase()}): Leshan gets exactly the values the client holds`, async () => {
      const r = await peer.command(`read-composite ${EP} ${format} ${PATHS.join(' ')}`);
      expect(r.failure).toBeUndefined();
      expect(r.name).toBe('CONTENT');
      expect(r.code).toBe(205);
      expect(r.format).toBe(FORMAT[format]);
      expect(Object.keys(r.values ?? {}).sort()).toEqual([...PATHS].sort());
      const expected: { [path: string]: unknown } = {};
      for (const p of PATHS) expected[p] = held(p);
      expect(r.values).toEqual(expected);
      // and those are the values set above, not something both sides got wrong the same way
      expect(r.values).toEqual({
        '/3/0/0': 'Thimble',
        '/3/0/9': 87,
        '/3/0/11': { '0': 0 },
        '/3303/0/5700': 21.5,
        '/3303/0/5701': 'Cel',
        '/1/0/1': 60,
      });
      expect(operations).toContain('Read-Composite / 2.05');
    });
  }

  it('LwM2M TS Core 1.1 §6.3.2 Read-Composite after a change: Leshan sees the new value', async () => {
    client.set('/3303/0/5700', 23.75);
    const r = await peer.command(`read-composite ${EP} cbor /3303/0/5700 /3/0/0`);
    expect(r.code).toBe(205);
    expect(r.values).toEqual({ '/3303/0/5700': 23.75, '/3/0/0': 'Thimble' });
  });

  it('LwM2M TS Core 1.1 §6.3.2 Read-Composite with a path the client lacks: Leshan gets the others, 2.05', async () => {
    // Max Measured Value is in Leshan's model of 3303 but not in the client's instance
    expect(client.get('/3303/0/5602')).toBeUndefined();
    const r = await peer.command(`read-composite ${EP} json /3303/0/5602 /3/0/0 /3303/0/5701`);
    expect(r.failure).toBeUndefined();
    expect(r.code).toBe(205);
    // Leshan M4 keys its result by the requested paths: one the response left out maps to no node (null)
    expect(r.values).toEqual({ '/3303/0/5602': null, '/3/0/0': 'Thimble', '/3303/0/5701': 'Cel' });
  });

  for (const [format, type, lifetime] of [
    ['cbor', 'Outdoor', 120],
    ['json', 'Cellar', 90],
  ] as const) {
    it(`LwM2M TS Core 1.1 §6.3.3 Write-Composite (SenML ${format.toUpperCase()}): both resources change, Leshan gets 2.04`, async () => {
      const w = await peer.command(
        `write-composite ${EP} ${format} /3303/0/5750=s:${type} /1/0/1=i:${lifetime}`,
      );
      expect(w.failure).toBeUndefined();
      expect(w.name).toBe('CHANGED');
      expect(w.code).toBe(204);
      expect(changed.slice(-2).sort()).toEqual(['/1/0/1', '/3303/0/5750']);
      expect(client.get('/3303/0/5750')).toBe(type);
      expect(client.get('/1/0/1')).toBe(lifetime);
      expect(operations).toContain('Write-Composite / 2.04');
      // a plain Read (Core §6.3.1) of each confirms it on Leshan's side
      const a = await peer.command(`read ${EP} ${format} /3303/0/5750`);
      expect(a.code).toBe(205);
      expect(a.format).toBe(FORMAT[format]);
      expect(a.values).toEqual({ '/3303/0/5750': type });
      const b = await peer.command(`read ${EP} ${format} /1/0/1`);
      expect(b.values).toEqual({ '/1/0/1': lifetime });
    });
  }
});
