import { type CoapResponse, Code } from '@thimble/coap-core';
import { BUILTIN_OBJECTS, decodeNode, ObjectRegistry } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { CLIENT, CLIENT_PORT, drive, type Setup, setup, until } from './harness.js';

const model = new ObjectRegistry(BUILTIN_OBJECTS);

async function observing(path: string, accept = 0, options: Parameters<typeof setup>[0] = {}) {
  const s = setup(options);
  s.client.start();
  await until(s.clock, () => s.client.registrationState === 'registered');
  const seen: { at: number; response: CoapResponse }[] = [];
  const observation = await drive(
    s.clock,
    s.server.endpoint!.observe(`coap://${CLIENT}:${CLIENT_PORT}${path}`, { accept }),
  );
  observation.on('notification', (response) => seen.push({ at: s.clock.now(), response }));
  return { ...s, observation, seen };
}

const writeAttributes = (s: Setup, path: string, query: string) =>
  drive(
    s.clock,
    s.server.endpoint!.request({ method: 'PUT', uri: `coap://${CLIENT}:${CLIENT_PORT}${path}?${query}` }),
  );

describe('Lwm2mClient information reporting (LwM2M TS Core 1.1 §6.4, Transport §6.4)', () => {
  it('Observe on a resource: set() sends a notification with the new value', async () => {
    const s = await observing('/3303/0/5700');
    expect(s.client.registrationState).toBe('registered');
    expect(s.clientEndpoint.observerTotal('3303/0/5700')).toBe(1);
    s.client.set('/3303/0/5700', 22.75);
    await until(s.clock, () => s.seen.length >= 1);
    expect(s.seen.at(-1)!.response.text()).toBe('22.75');
    s.client.set('/3303/0/5700', 23);
    await until(s.clock, () => s.seen.length >= 2);
    expect(s.seen.at(-1)!.response.text()).toBe('23');
  });

  it('Observe on an instance and an object notifies on changes below them', async () => {
    const s = await observing('/3303/0', 112);
    const obj = await drive(
      s.clock,
      s.server.endpoint!.observe(`coap://${CLIENT}:${CLIENT_PORT}/3303`, { accept: 11542 }),
    );
    const objSeen: CoapResponse[] = [];
    obj.on('notification', (r) => objSeen.push(r));
    s.client.set('/3303/0/5700', 30);
    await until(s.clock, () => s.seen.length >= 1 && objSeen.length >= 1);
    const node = decodeNode(112, [3303, 0], s.seen.at(-1)!.response.payload, model);
    expect(node.kind === 'objectInstance' && node.resources.find((r) => r.id === 5700)).toMatchObject({
      value: 30,
    });
    expect(objSeen.at(-1)!.contentFormat).toBe(11542);
  });

  it('changed() notifies a callback-backed resource', async () => {
    const s = setup();
    let v = 1;
    s.client.addInstance(3303, 3, { 5700: { read: () => v } });
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    const seen: string[] = [];
    const o = await drive(
      s.clock,
      s.server.endpoint!.observe(`coap://${CLIENT}:${CLIENT_PORT}/3303/3/5700`, { accept: 0 }),
    );
    o.on('notification', (r) => seen.push(r.text()));
    v = 2;
    s.client.changed('/3303/3/5700');
    await until(s.clock, () => seen.includes('2'));
  });

  it('pmin holds notifications back; the newest value goes out when it ends (§5.1.2)', async () => {
    const s = await observing('/3303/0/5700');
    expect((await writeAttributes(s, '/3303/0/5700', 'pmin=10')).code).toBe(Code.Changed);
    const t0 = s.clock.now();
    s.client.set('/3303/0/5700', 1);
    s.client.set('/3303/0/5700', 2);
    s.client.set('/3303/0/5700', 3);
    await s.clock.advance(5_000);
    expect(s.seen).toHaveLength(0);
    await until(s.clock, () => s.seen.length >= 1, 20_000);
    expect(s.seen).toHaveLength(1);
    expect(s.seen[0]!.at - t0).toBeGreaterThanOrEqual(10_000);
    expect(s.seen[0]!.response.text()).toBe('3');
  });

  it('pmax sends a notification even when nothing changed', async () => {
    const s = await observing('/3303/0/5700');
    await writeAttributes(s, '/3303/0/5700', 'pmax=30');
    await s.clock.advance(95_000);
    expect(s.seen.length).toBeGreaterThanOrEqual(3);
    expect(s.seen.length).toBeLessThanOrEqual(4);
    expect(s.seen.every((n) => n.response.text() === '21.5')).toBe(true);
  });

  it('pmin / pmax set on the instance apply to its resources; the Server object gives defaults', async () => {
    const s = await observing('/3303/0/5700');
    await writeAttributes(s, '/3303/0', 'pmax=20');
    await s.clock.advance(45_000);
    expect(s.seen.length).toBe(2);
    const d = setup();
    d.client.removeInstance(1, 0);
    d.client.addInstance(1, 0, { 0: 1, 1: 300, 3: 15, 6: false, 7: 'U' });
    d.client.start();
    await until(d.clock, () => d.client.registrationState === 'registered');
    const seen: string[] = [];
    const o = await drive(
      d.clock,
      d.server.endpoint!.observe(`coap://${CLIENT}:${CLIENT_PORT}/3303/0/5700`, { accept: 0 }),
    );
    o.on('notification', (r) => seen.push(r.text()));
    await d.clock.advance(31_000);
    expect(seen.length).toBe(2);
  });

  it('gt / lt / st filter notifications of a numeric resource', async () => {
    const s = await observing('/3303/0/5700');
    await writeAttributes(s, '/3303/0/5700', 'st=2');
    s.client.set('/3303/0/5700', 22); // +0.5: below the step
    await s.clock.advance(1_000);
    expect(s.seen).toHaveLength(0);
    s.client.set('/3303/0/5700', 24); // +2.5 from the last notified value
    await until(s.clock, () => s.seen.length === 1);
    await writeAttributes(s, '/3303/0/5700', 'st&gt=30');
    s.client.set('/3303/0/5700', 29);
    await s.clock.advance(1_000);
    expect(s.seen).toHaveLength(1);
    s.client.set('/3303/0/5700', 31); // crosses gt
    await until(s.clock, () => s.seen.length === 2);
    expect(s.seen[1]!.response.text()).toBe('31');
  });

  it('Cancel Observe stops notifications and the client drops the observation state', async () => {
    const s = await observing('/3303/0/5700');
    await writeAttributes(s, '/3303/0/5700', 'pmax=10');
    await drive(s.clock, s.observation.cancel());
    expect(s.clientEndpoint.observerTotal('3303/0/5700')).toBe(0);
    const n = s.seen.length;
    s.client.set('/3303/0/5700', 40);
    await s.clock.advance(60_000);
    expect(s.seen.length).toBe(n);
  });

  it('Delete of an observed instance ends the observation with 4.04', async () => {
    const s = setup();
    s.client.addInstance(3303, 1, { 5700: 5 });
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    const o = await drive(
      s.clock,
      s.server.endpoint!.observe(`coap://${CLIENT}:${CLIENT_PORT}/3303/1`, { accept: 112 }),
    );
    await drive(
      s.clock,
      s.server.endpoint!.observe(`coap://${CLIENT}:${CLIENT_PORT}/3303/1/5700`, { accept: 0 }),
    );
    expect(s.clientEndpoint.observerTotal('3303/1/5700')).toBe(1);
    const codes: number[] = [];
    o.on('notification', (r) => codes.push(r.code));
    o.on('error', () => codes.push(-1));
    o.on('end', () => codes.push(0));
    const del = await drive(
      s.clock,
      s.server.endpoint!.request({ method: 'DELETE', uri: `coap://${CLIENT}:${CLIENT_PORT}/3303/1` }),
    );
    expect(del.code).toBe(Code.Deleted);
    await s.clock.advance(5_000);
    expect(s.clientEndpoint.observerTotal('3303/1')).toBe(0);
    expect(s.clientEndpoint.observerTotal('3303/1/5700')).toBe(0);
    expect(codes.length).toBeGreaterThan(0);
  });

  it('Send posts SenML CBOR to /dp (§6.4.3)', async () => {
    const s = setup();
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    await drive(s.clock, s.client.send(['/3303/0/5700', '/3/0/0']));
    const [dp] = s.server.requests.filter((r) => r.path === '/dp');
    expect(dp!.contentFormat).toBe(112);
    const v10 = setup({ version: '1.0' });
    await expect(v10.client.send(['/3/0/0'])).rejects.toThrow(/1\.1/);
  });
});

describe('Lwm2mClient queue mode (LwM2M TS Core 1.1 §6.5)', () => {
  it('goes quiet after queueTimeout; a due notification goes out after a wake-up Update', async () => {
    const s = setup({ queueMode: true, queueTimeout: 10_000 });
    const events: string[] = [];
    s.client.on('sleeping', () => events.push(`sleeping@${s.clock.now()}`));
    s.client.on('awake', () => events.push(`awake@${s.clock.now()}`));
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    const seen: number[] = [];
    const o = await drive(
      s.clock,
      s.server.endpoint!.observe(`coap://${CLIENT}:${CLIENT_PORT}/3303/0/5700`, { accept: 0 }),
    );
    o.on('notification', () => seen.push(s.clock.now()));
    expect(s.client.sleeping).toBe(false);
    await s.clock.advance(11_000);
    expect(s.client.sleeping).toBe(true);
    expect(events).toHaveLength(1);
    const updatesBefore = s.server.updates().length;
    s.client.set('/3303/0/5700', 30);
    await until(s.clock, () => seen.length === 1);
    const update = s.server.updates()[updatesBefore];
    expect(update).toBeDefined();
    expect(update!.at).toBeLessThanOrEqual(seen[0]!);
    expect(s.client.sleeping).toBe(false);
    expect(events[1]).toMatch(/^awake@/);
    // awake for another queueTimeout: the next change goes out at once, without an Update
    s.client.set('/3303/0/5700', 31);
    await until(s.clock, () => seen.length === 2);
    expect(s.server.updates()).toHaveLength(updatesBefore + 1);
  });

  it('does not sleep without queue mode', async () => {
    const s = setup();
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    await s.clock.advance(200_000);
    expect(s.client.sleeping).toBe(false);
  });
});

describe('Lwm2mClient evaluation period (LwM2M TS Core 1.1 §5.1.2)', () => {
  it('epmax reads a callback-backed resource periodically and notifies when it changed', async () => {
    const s = setup();
    let v = 1;
    let reads = 0;
    s.client.addInstance(3303, 3, {
      5700: {
        read: () => {
          reads++;
          return v;
        },
      },
    });
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    const seen: string[] = [];
    const o = await drive(
      s.clock,
      s.server.endpoint!.observe(`coap://${CLIENT}:${CLIENT_PORT}/3303/3/5700`, { accept: 0 }),
    );
    o.on('notification', (r) => seen.push(r.text()));
    await writeAttributes(s, '/3303/3/5700', 'epmax=5');
    const r0 = reads;
    await s.clock.advance(12_000);
    // evaluated twice, nothing changed, nothing sent
    expect(reads - r0).toBe(2);
    expect(seen).toEqual([]);
    v = 7; // changed behind the client's back (no changed() call)
    await s.clock.advance(5_000);
    expect(seen).toEqual(['7']);
    await s.clock.advance(10_000);
    expect(seen).toEqual(['7']);
  });
});
