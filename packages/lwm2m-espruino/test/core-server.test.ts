/**
 * The core profile (dist/lwm2m-core.js) in the 1,600-variable interpreter (ESP8266 layout) against
 * `lwm2m server` of this repository, in-process on UDP loopback, driven through its REST API:
 * Register (LwM2M TS Core 1.1 §6.2.1), Read in text and TLV (§6.3.1, §7.3), Write (§6.3.3), Execute
 * (§6.3.5), Discover (§6.3.4), Write-Attributes (§6.3.2), Observe with notifications and cancel (§6.4),
 * De-register (§6.2.3), and the board's memory (process.memory().usage) at each step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, requireEspruino, runDevice, sseEvents, until } from './espruino.js';
import { api, app, type RunningServer, startLwm2mServer } from './server.js';

const run = requireEspruino('lwm2m-espruino core vs lwm2m server');
const EP = `esp-core-${process.pid}`;
const sensor = readFileSync(join(__dirname, 'apps/sensor.js'), 'utf8');

describe.runIf(run)('core profile (1,600 variables) against lwm2m server', () => {
  let server: RunningServer;
  let device: Device;
  let events: ReturnType<typeof sseEvents>;
  const dev = (path: string) => `${server.api}/api/clients/${EP}${path}`;

  beforeAll(async () => {
    server = await startLwm2mServer();
    events = sseEvents(`${server.api}/api/events?endpoint=${EP}`);
    device = runDevice(
      'core',
      app(sensor, { EP, HOST: '127.0.0.1', PORT: server.coapPort, LIFETIME: 60 }),
      90,
    );
    await device.waitFor(/^REG \/rd\/\S+/, 30_000);
  }, 60_000);

  afterAll(async () => {
    events?.close();
    device?.kill();
    if (server) expect(await server.stop()).toBe(0);
  });

  it('registers (LwM2M TS Core 1.1 §6.2.1): the server lists the endpoint with objects 1, 3 and 3303', async () => {
    const list = await api<{ endpoint: string; objects: { path: string }[]; binding: string }[]>(
      `${server.api}/api/clients`,
    );
    const me = list.find((c) => c.endpoint === EP);
    expect(me).toBeDefined();
    expect(me!.objects.map((o) => o.path)).toEqual(['/1/0', '/3/0', '/3303/0']);
    expect(me!.binding).toBe('U');
  });

  it('reads single resources in text (Core §6.3.1, §7.3.1) and instances in TLV (§7.3.3)', async () => {
    expect(await api(dev('/3/0/0?format=text'))).toMatchObject({ kind: 'resource', id: 0, value: 'Thimble' });
    const t = await api<{ value: unknown }>(dev('/3303/0/5700?format=text'));
    expect(t.value).toBeCloseTo(21.5);
    const inst = await api<{ resources: { id: number; value?: unknown; values?: unknown }[] }>(dev('/3/0'));
    const byId = new Map(inst.resources.map((r) => [r.id, r]));
    expect(byId.get(0)!.value).toBe('Thimble');
    expect(byId.get(9)!.value).toBe(87);
    expect(byId.has(4)).toBe(false); // execute-only: not in a Read
    const sensorTlv = await api<{ resources: { id: number; value?: unknown }[] }>(dev('/3303/0?format=tlv'));
    expect(sensorTlv.resources.find((r) => r.id === 5700)!.value).toBeCloseTo(21.5);
    expect(sensorTlv.resources.find((r) => r.id === 5701)!.value).toBe('Cel');
  });

  it('writes a string resource in text and in TLV (Core §6.3.3); a read-only resource answers 4.05', async () => {
    await api(dev('/3303/0/5750?format=text'), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'hall' }),
    });
    await device.waitFor(/^LABEL hall$/);
    await api(dev('/3303/0/5750?format=tlv'), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'attic' }),
    });
    await device.waitFor(/^LABEL attic$/);
    expect((await api<{ value: unknown }>(dev('/3303/0/5750'))).value).toBe('attic');
    const res = await fetch(dev('/3303/0/5700'), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 99.5 }),
    });
    expect(res.status).toBe(405);
  });

  it('executes (Core §6.3.5) with arguments; Execute on a readable resource answers 4.05', async () => {
    await api(dev('/3303/0/5605'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: "0='x'",
    });
    await device.waitFor(/^BUMP 22\.5$/);
    expect((await api<{ value: unknown }>(dev('/3303/0/5700'))).value).toBeCloseTo(22.5);
    const res = await fetch(dev('/3/0/0'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '',
    });
    expect(res.status).toBe(405);
  });

  it('discovers (Core §6.3.4) and takes Write-Attributes pmin/pmax (§6.3.2)', async () => {
    await api(dev('/3303/0/5700/attributes'), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pmin: 0, pmax: 2 }),
    });
    const links = await api<{ path: string; attributes: Record<string, unknown> }[]>(dev('/3303/0/discover'));
    expect(links.map((l) => l.path).sort()).toEqual([
      '/3303/0',
      '/3303/0/5605',
      '/3303/0/5700',
      '/3303/0/5701',
      '/3303/0/5750',
    ]);
    const byPath = new Map(links.map((l) => [l.path, l.attributes]));
    expect(byPath.get('/3303/0/5700')).toEqual({ pmin: 0, pmax: 2 });
  });

  it('notifies an observer on change and at pmax, and stops after cancel (Core §6.4, RFC 7641)', async () => {
    const first = await api<{ node: { value: number } }>(dev('/3303/0/5700/observe'), { method: 'POST' });
    expect(first.node.value).toBeCloseTo(22.5);
    const notes = () => events.events.filter((e) => e.event === 'notification');
    const before = notes().length;
    await api(dev('/3303/0/5605'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' });
    await until(
      () => notes().some((n) => JSON.stringify(n.data).includes('23.5')),
      10_000,
      'a notification with 23.5',
    );
    // pmax 2 s: notifications keep coming without a change
    await until(() => notes().length >= before + 3, 15_000, 'pmax notifications');
    expect(await api(dev('/3303/0/5700/observe'), { method: 'DELETE' })).toEqual({ cancelled: 1 });
    await new Promise((r) => setTimeout(r, 3000));
    const settled = notes().length;
    await new Promise((r) => setTimeout(r, 4500));
    expect(notes().length).toBe(settled);
  }, 40_000);

  it('de-registers (Core §6.2.3) when the app stops the client; memory stayed under 1,450 of 1,600 variables', async () => {
    await api(dev('/3/0/4'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' });
    await device.waitFor(/^STOPPED$/);
    await until(() => events.events.some((e) => e.event === 'deregistered'), 10_000, 'deregistered event');
    const list = await api<{ endpoint: string }[]>(`${server.api}/api/clients`);
    expect(list.some((c) => c.endpoint === EP)).toBe(false);
    const peak = device.peakMemory();
    console.log(`core profile: peak ${peak} of 1600 variables`);
    expect(peak).toBeGreaterThan(0);
    // the issue targets 1,000 (not met yet, see bench/RESULTS.md); this guards against growth
    expect(peak).toBeLessThanOrEqual(1450);
  }, 30_000);
});
