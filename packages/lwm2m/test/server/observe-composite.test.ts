/**
 * Observe-Composite (LwM2M TS Core 1.1 §6.4.3, Cancel §6.4.4; TS Transport 1.1 §6.4: FETCH on / with
 * Observe and a SenML path list) between our server and our client, and the notification attributes of
 * LwM2M 1.2 the client honours (edge, con) with epmin.
 */
import { Code, decodeMessage, MessageType } from '@thimble/coap-core';
import type { CompositeNotificationEvent, Lwm2mCompositeEntry, Lwm2mNode } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { type DeviceEndpointOptions, drive, registered, serverSetup, until } from './harness.js';

async function withDevice(endpoint: DeviceEndpointOptions = {}) {
  const s = serverSetup();
  const client = s.device(1, {}, endpoint);
  client.addInstance(3303, 1, { 5700: 5, 5701: 'Cel' });
  await registered(s, client);
  return { ...s, client };
}

const values = (entries: readonly Lwm2mCompositeEntry[]) =>
  Object.fromEntries(
    entries.map((e) => [`/${e.path.join('/')}`, (e.node as { value?: unknown }).value ?? e.node.kind]),
  );

describe('Observe-Composite (Core §6.4.3)', () => {
  it('the current values first, then every observed path in each notification when any of them changes', async () => {
    const s = await withDevice();
    const events: CompositeNotificationEvent[] = [];
    s.server.on('compositeNotification', (e) => events.push(e));
    const obs = await drive(
      s.clock,
      s.server.observeComposite('dev1', ['/3303/0/5700', '/3303/1/5700', '/3/0/0']),
    );
    expect(values(obs.latest!)).toEqual({ '/3303/0/5700': 21.5, '/3303/1/5700': 5, '/3/0/0': 'Thimble' });
    const seen: Lwm2mCompositeEntry[][] = [];
    obs.on('notification', (e) => seen.push(e));
    s.client.set('/3303/1/5700', 6);
    await until(s.clock, () => seen.length >= 1);
    expect(values(seen[0]!)).toEqual({ '/3303/0/5700': 21.5, '/3303/1/5700': 6, '/3/0/0': 'Thimble' });
    s.client.set('/3303/0/5700', 22);
    await until(s.clock, () => seen.length >= 2);
    expect(values(seen[1]!)).toMatchObject({ '/3303/0/5700': 22, '/3303/1/5700': 6 });
    // a change elsewhere notifies nothing
    s.client.set('/3303/0/5701', 'K');
    await s.clock.advance(5_000);
    expect(seen).toHaveLength(2);
    expect(events.map((e) => [e.endpoint, e.paths.length, e.entries.length])).toEqual([
      ['dev1', 3, 3],
      ['dev1', 3, 3],
    ]);
    expect(s.server.compositeObservationsOf('dev1')).toEqual([obs]);
    expect(s.server.observationsOf('dev1')).toEqual([]);
  });

  it('SenML JSON, an instance among the paths, and a path that does not exist is left out', async () => {
    const s = await withDevice();
    const obs = await drive(
      s.clock,
      s.server.observeComposite('dev1', ['/3303/1', '/3303/9/5700'], { format: 110 }),
    );
    expect(obs.latest!.map((e) => e.path.join('/'))).toEqual(['3303/1']);
    const seen: Lwm2mCompositeEntry[][] = [];
    obs.on('notification', (e) => seen.push(e));
    s.client.set('/3303/1/5700', 7);
    await until(s.clock, () => seen.length >= 1);
    const instance = seen[0]![0]!.node as Lwm2mNode & { kind: 'objectInstance' };
    expect(instance.resources.find((r) => r.id === 5700)).toMatchObject({ value: 7 });
  });

  it('two composite observations of one server stay apart; cancelling one (FETCH Observe=1) keeps the other', async () => {
    const s = await withDevice();
    const a = await drive(s.clock, s.server.observeComposite('dev1', ['/3303/0/5700', '/3/0/0']));
    const b = await drive(s.clock, s.server.observeComposite('dev1', ['/3303/1/5700']));
    expect(s.client.endpoint.observerTotal('')).toBe(2);
    const seenA: unknown[] = [];
    const seenB: unknown[] = [];
    a.on('notification', (e) => seenA.push(e));
    b.on('notification', (e) => seenB.push(e));
    s.client.set('/3303/1/5700', 8);
    await until(s.clock, () => seenB.length >= 1);
    await s.clock.advance(1_000);
    expect(seenA).toHaveLength(0);
    // paths in another order name the same observation
    expect(await drive(s.clock, s.server.cancelObserveComposite('dev1', ['/3/0/0', '/3303/0/5700']))).toBe(1);
    expect(a.done).toBe(true);
    await until(s.clock, () => s.client.endpoint.observerTotal('') === 1);
    s.client.set('/3303/0/5700', 30);
    s.client.set('/3303/1/5700', 9);
    await until(s.clock, () => seenB.length >= 2);
    expect(seenA).toHaveLength(0);
    expect(await drive(s.clock, s.server.cancelObserveComposite('dev1', ['/3303/1/5700']))).toBe(1);
    await until(s.clock, () => s.client.endpoint.observerTotal('') === 0);
  });

  it('each path keeps its own attributes: st on one, pmin on another; pmax is the smallest', async () => {
    const s = await withDevice();
    await drive(s.clock, s.server.writeAttributes('dev1', '/3303/0/5700', { st: 5 }));
    await drive(s.clock, s.server.writeAttributes('dev1', '/3303/1/5700', { pmin: 10, pmax: 60 }));
    await drive(s.clock, s.server.writeAttributes('dev1', '/3303/0', { pmax: 30 }));
    const start = s.clock.now();
    const obs = await drive(s.clock, s.server.observeComposite('dev1', ['/3303/0/5700', '/3303/1/5700']));
    const seen: { at: number; v: Record<string, unknown> }[] = [];
    obs.on('notification', (e) => seen.push({ at: s.clock.now() - start, v: values(e) }));
    // a step below st on the first path: no notification
    s.client.set('/3303/0/5700', 23);
    await s.clock.advance(2_000);
    expect(seen).toHaveLength(0);
    // the second path changes within its pmin: the notification waits until pmin has passed
    s.client.set('/3303/1/5700', 6);
    await until(s.clock, () => seen.length >= 1);
    expect(seen[0]!.at).toBeGreaterThanOrEqual(10_000);
    expect(seen[0]!.at).toBeLessThan(11_000);
    expect(seen[0]!.v).toEqual({ '/3303/0/5700': 23, '/3303/1/5700': 6 });
    // a step of st on the first path notifies at once (its pmin is not set)
    s.client.set('/3303/0/5700', 29);
    await until(s.clock, () => seen.length >= 2);
    expect(seen[1]!.at - seen[0]!.at).toBeLessThan(1_000);
    // nothing changes: pmax 30 (the smallest) drives the next one
    await until(s.clock, () => seen.length >= 3);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(30_000);
    expect(seen[2]!.at - seen[1]!.at).toBeLessThan(31_000);
  });

  it('an object instance deleted under an observed path is left out of the next notification', async () => {
    const s = await withDevice();
    const obs = await drive(s.clock, s.server.observeComposite('dev1', ['/3303/1', '/3303/0/5700']));
    const seen: Lwm2mCompositeEntry[][] = [];
    obs.on('notification', (e) => seen.push(e));
    await drive(s.clock, s.server.delete('dev1', '/3303/1'));
    await until(s.clock, () => seen.length >= 1);
    expect(seen[0]!.map((e) => e.path.join('/'))).toEqual(['3303/0/5700']);
    expect(obs.done).toBe(false);
  });

  it('refuses an empty path list and bad paths before sending anything', async () => {
    const s = await withDevice();
    await expect(s.server.observeComposite('dev1', [])).rejects.toThrow(/paths/);
    await expect(s.server.observeComposite('dev1', ['/x'])).rejects.toThrow();
    await expect(s.server.observeComposite('nobody', ['/3/0/0'])).rejects.toThrow(/not registered/);
  });
});

describe('notification attributes of LwM2M 1.2 (Core 1.2 §5.1.2): edge, con; and epmin', () => {
  it('edge=1 notifies the rising edge of a boolean resource only; edge=0 the falling one', async () => {
    const s = await withDevice();
    await drive(s.clock, s.server.writeAttributes('dev1', '/1/0/6', { edge: 1 }));
    const obs = await drive(s.clock, s.server.observe('dev1', '/1/0/6'));
    const seen: unknown[] = [];
    obs.on('notification', (n) => seen.push((n as { value: unknown }).value));
    s.client.set('/1/0/6', true);
    await until(s.clock, () => seen.length >= 1);
    s.client.set('/1/0/6', false);
    await s.clock.advance(2_000);
    s.client.set('/1/0/6', true);
    await until(s.clock, () => seen.length >= 2);
    expect(seen).toEqual([true, true]);
    await drive(s.clock, s.server.writeAttributes('dev1', '/1/0/6', { edge: 0 }));
    s.client.set('/1/0/6', false);
    await until(s.clock, () => seen.length >= 3);
    s.client.set('/1/0/6', true);
    await s.clock.advance(2_000);
    expect(seen).toEqual([true, true, false]);
    // edge is for resources only
    await expect(drive(s.clock, s.server.writeAttributes('dev1', '/1/0', { edge: 1 }))).rejects.toThrow(
      /4\.00/,
    );
  });

  it('con=1 sends Confirmable notifications, con=0 Non-confirmable ones', async () => {
    const types: number[] = [];
    const s = await withDevice({
      trace: (direction, bytes) => {
        if (direction !== 'out') return;
        const m = decodeMessage(bytes);
        if (m.code === Code.Content && m.hasOption(6) && m.type !== MessageType.ACK) types.push(m.type);
      },
    });
    await drive(s.clock, s.server.writeAttributes('dev1', '/3303/0', { con: 1 }));
    const obs = await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    let n = 0;
    obs.on('notification', () => n++);
    s.client.set('/3303/0/5700', 1);
    await until(s.clock, () => n >= 1);
    await drive(s.clock, s.server.writeAttributes('dev1', '/3303/0/5700', { con: 0 }));
    s.client.set('/3303/0/5700', 2);
    await until(s.clock, () => n >= 2);
    expect(types).toEqual([MessageType.CON, MessageType.NON]);
    // discovered like the other attributes
    const links = await drive(s.clock, s.server.discover('dev1', '/3303/0'));
    expect(links.find((l) => l.path.join('/') === '3303/0')?.attributes).toMatchObject({ con: 1 });
    expect(links.find((l) => l.path.join('/') === '3303/0/5700')?.attributes).toMatchObject({ con: 0 });
  });

  it('epmin: a change within epmin of the last evaluation is evaluated when epmin has passed', async () => {
    const s = await withDevice();
    await drive(s.clock, s.server.writeAttributes('dev1', '/3303/0/5700', { epmin: 10, epmax: 20 }));
    await expect(
      drive(s.clock, s.server.writeAttributes('dev1', '/3303/0/5700', { epmin: 20, epmax: 20 })),
    ).rejects.toThrow(/epmax/);
    const start = s.clock.now();
    const obs = await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    const seen: { at: number; value: unknown }[] = [];
    obs.on('notification', (n) =>
      seen.push({ at: s.clock.now() - start, value: (n as { value: unknown }).value }),
    );
    s.client.set('/3303/0/5700', 30);
    await s.clock.advance(2_000);
    s.client.set('/3303/0/5700', 31);
    await until(s.clock, () => seen.length >= 1);
    expect(seen[0]!.at).toBeGreaterThanOrEqual(10_000);
    expect(seen[0]!.value).toBe(31);
    // a change that comes back before epmin ends notifies nothing
    s.client.set('/3303/0/5700', 32);
    s.client.set('/3303/0/5700', 31);
    await s.clock.advance(15_000);
    expect(seen).toHaveLength(1);
  });
});
