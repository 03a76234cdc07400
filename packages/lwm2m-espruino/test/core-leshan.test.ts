/**
 * The core profile (dist/lwm2m-core.js) in the 1,600-variable interpreter against Leshan's server demo
 * 2.0.0-M4 (`.interop/leshan`), on UDP loopback, through Leshan's REST API: Register (LwM2M TS Core 1.1
 * §6.2.1), Read in text and TLV (§6.3.1), Write of the lifetime with the Update that follows (§6.3.3,
 * §6.2.2), Execute (§6.3.5), Observe with notifications and cancel (§6.4).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  type Leshan,
  type LeshanNode,
  listenEvents,
  requireLeshan,
  rest,
  startLeshan,
} from '../../lwm2m/test/interop/leshan.js';
import { type Device, requireEspruino, runDevice } from './espruino.js';
import { app } from './server.js';

const run = requireEspruino('lwm2m-espruino core vs Leshan') && requireLeshan();
const EP = `esp-leshan-${process.pid}`;
const sensor = readFileSync(join(__dirname, 'apps/sensor.js'), 'utf8');

describe.runIf(run)('core profile (1,600 variables) against Leshan server demo 2.0.0-M4', () => {
  let leshan: Leshan;
  let device: Device;
  let base: string;

  beforeAll(async () => {
    leshan = await startLeshan();
    base = `${leshan.api}/clients/${EP}`;
    device = runDevice(
      'core',
      app(sensor, { EP, HOST: '127.0.0.1', PORT: leshan.coapPort, LIFETIME: 60 }),
      120,
    );
    await device.waitFor(/^REG \/rd\/\S+/, 30_000);
  }, 90_000);

  afterAll(() => device?.kill());

  it('registers: Leshan lists the endpoint with its object links (no /0)', async () => {
    const { json } = await rest('GET', base);
    const urls = (json.objectLinks as { url: string }[]).map((l) => l.url);
    expect(urls).toEqual(expect.arrayContaining(['/1/0', '/3/0', '/3303/0']));
    expect(urls.some((u) => u.startsWith('/0'))).toBe(false);
  });

  it('Leshan reads /3/0/0 as text and /3/0, /3303/0 as TLV', async () => {
    expect((await rest('GET', `${base}/3/0/0?format=TEXT`)).json.content).toEqual({
      id: 0,
      value: 'Thimble',
    });
    const dev = await rest('GET', `${base}/3/0?format=TLV`);
    expect(dev.json.status).toBe('CONTENT(205)');
    const byId = new Map((dev.json.content!.resources ?? []).map((r: LeshanNode) => [r.id, r]));
    expect(byId.get(1)!.value).toBe('Espruino test');
    expect(byId.get(9)!.value).toBe(87);
    expect(byId.get(11)!.values).toEqual({ 0: 0 });
    const s = await rest('GET', `${base}/3303/0?format=TLV`);
    const temp = (s.json.content!.resources ?? []).find((r: LeshanNode) => r.id === 5700);
    expect(temp!.value).toBeCloseTo(21.5);
  });

  it('Leshan writes /1/0/1 (lifetime); the device sends an Update with it', async () => {
    const { json } = await rest('PUT', `${base}/1/0/1?format=TLV`, { id: 1, value: 90 });
    expect(json.status).toBe('CHANGED(204)');
    await device.waitFor(/^UPD$/, 15_000);
    await eventually(
      async () => ((await rest('GET', base)).json.lifetime as number) === 90,
      10_000,
      'lifetime 90',
    );
  });

  it('Leshan executes /3303/0/5605; Execute on /3/0/0 answers METHOD_NOT_ALLOWED', async () => {
    expect((await rest('POST', `${base}/3303/0/5605`)).json.status).toBe('CHANGED(204)');
    await device.waitFor(/^BUMP 22\.5$/);
    expect((await rest('POST', `${base}/3/0/0`)).json.status).toBe('METHOD_NOT_ALLOWED(405)');
  });

  it('Leshan observes /3303/0/5700, gets notifications of changes, and cancels', async () => {
    const sse = listenEvents(leshan.api, EP);
    try {
      await sse.ready;
      const obs = await rest('POST', `${base}/3303/0/5700/observe?format=TEXT`);
      expect(obs.json.status).toBe('CONTENT(205)');
      const notified = () =>
        sse.events
          .filter((e) => e.event === 'NOTIFICATION' && e.data.res === '/3303/0/5700')
          .map((e) => (e.data.val as LeshanNode).value);
      await rest('POST', `${base}/3303/0/5605`);
      await eventually(() => notified().includes(23.5), 10_000, 'notification of 23.5');
      await rest('POST', `${base}/3303/0/5605`);
      await eventually(() => notified().includes(24.5), 10_000, 'notification of 24.5');
      expect((await rest('DELETE', `${base}/3303/0/5700/observe`)).status).toBe(200);
    } finally {
      sse.close();
    }
  }, 30_000);

  it('de-registers when the app stops the client: Leshan forgets the endpoint', async () => {
    await rest('POST', `${base}/3/0/4`);
    await device.waitFor(/^STOPPED$/, 15_000);
    const listed = async () => {
      const { json } = await rest('GET', `${leshan.api}/clients`);
      return (json as unknown as { endpoint: string }[]).some((c) => c.endpoint === EP);
    };
    await eventually(async () => !(await listed()), 10_000, 'endpoint gone from the list');
  }, 30_000);
});
