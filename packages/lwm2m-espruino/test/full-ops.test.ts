/**
 * The full profile (dist/lwm2m-full.js) in the 16,383-variable interpreter against `lwm2m server`:
 * Create of an object instance (LwM2M TS Core 1.1 §6.3.7), its Delete (§6.3.8), both followed by an
 * Update with the new object links (§6.2.2), and Send (§6.4.3, SenML JSON to /dp) seen as the REST
 * API's `send` event.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, requireEspruino, runDevice, sseEvents, until } from './espruino.js';
import { api, app, type RunningServer, startLwm2mServer } from './server.js';

const run = requireEspruino('lwm2m-espruino full profile Create/Delete/Send');
const EP = `esp-ops-${process.pid}`;
const opsApp = readFileSync(join(__dirname, 'apps/ops.js'), 'utf8');

describe.runIf(run)('full profile (16,383 variables): Create, Delete and Send against lwm2m server', () => {
  let server: RunningServer;
  let device: Device;
  let events: ReturnType<typeof sseEvents>;
  const dev = (path: string) => `${server.api}/api/clients/${EP}${path}`;
  const objects = async () =>
    (await api<{ endpoint: string; objects: { path: string }[] }[]>(`${server.api}/api/clients`))
      .find((c) => c.endpoint === EP)!
      .objects.map((o) => o.path);

  beforeAll(async () => {
    server = await startLwm2mServer();
    events = sseEvents(`${server.api}/api/events?endpoint=${EP}`);
    device = runDevice('full', app(opsApp, { EP, HOST: '127.0.0.1', PORT: server.coapPort }), 120);
    await device.waitFor(/^REG \/rd\/\S+/, 30_000);
  }, 60_000);

  afterAll(async () => {
    events?.close();
    device?.kill();
    if (server) expect(await server.stop()).toBe(0);
  });

  it('Create (Core §6.3.7): POST /3303 makes instance 1, readable, announced by an Update', async () => {
    const from = device.lines.length;
    const created = await api<{ path: string; instanceId: number }>(dev('/3303'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resources: [{ id: 5701, value: 'Far' }] }),
    });
    expect(created).toEqual({ path: '/3303/1', instanceId: 1 });
    await device.waitFor(/^OP 2 \/3303 65$/, 10_000, from);
    expect((await api<{ value: unknown }>(dev('/3303/1/5701'))).value).toBe('Far');
    await device.waitFor(/^UPD$/, 20_000, from);
    expect(await objects()).toEqual(expect.arrayContaining(['/3303/0', '/3303/1']));
  }, 60_000);

  it('Create of an instance id that exists is refused (4.00), nothing changes', async () => {
    const res = await fetch(dev('/3303'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 0, resources: [{ id: 5701, value: 'K' }] }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect((await api<{ value: unknown }>(dev('/3303/0/5701'))).value).toBe('Cel');
  }, 30_000);

  it('Delete (Core §6.3.8): DELETE /3303/1 removes it (then 4.04), announced by an Update; /3/0 is refused', async () => {
    const from = device.lines.length;
    const res = await fetch(dev('/3303/1'), { method: 'DELETE' });
    expect(res.status).toBe(204);
    await device.waitFor(/^OP 4 \/3303\/1 66$/, 10_000, from);
    await device.waitFor(/^UPD$/, 20_000, from);
    expect(await objects()).not.toContain('/3303/1');
    expect((await fetch(dev('/3303/1/5701'))).status).toBe(404);
    expect((await fetch(dev('/3/0'), { method: 'DELETE' })).status).toBeGreaterThanOrEqual(400);
    expect((await api<{ value: unknown }>(dev('/3/0/0'))).value).toBe('Thimble');
  }, 60_000);

  it('Send (Core §6.4.3): the device POSTs /dp in SenML JSON; the server publishes the values', async () => {
    const from = device.lines.length;
    const had = events.events.length;
    const res = await fetch(dev('/3303/0/5605'), { method: 'POST' });
    expect(res.status).toBe(204);
    await device.waitFor(/^SENT true$/, 20_000, from);
    const sent = await until(
      () => events.events.slice(had).find((e) => e.event === 'send'),
      10_000,
      'a send event',
    );
    const text = JSON.stringify(sent.data);
    expect(text).toContain('/3303/0/5700');
    expect(text).toContain('23.5');
    expect(text).toContain('/3/0/3');
    expect(text).toContain('1.0.0');
  }, 60_000);
});
