/**
 * The full profile (dist/lwm2m-full.js) in the 16,383-variable interpreter against Leshan's server demo
 * 2.0.0-M4 (`.interop/leshan`), on UDP loopback, through Leshan's REST API: Register in LwM2M 1.1 (TS Core
 * 1.1 §6.2.1), Read in text, TLV and SenML JSON (§6.3.1, §7.4.4), Write of the lifetime with the Update
 * that follows (§6.3.3, §6.2.2), Observe with notifications and cancel (§6.4).
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

const run = requireEspruino('lwm2m-espruino full vs Leshan') && requireLeshan();
const EP = `esp-leshan-full-${process.pid}`;
const sensor = readFileSync(join(__dirname, 'apps/sensor.js'), 'utf8');

describe.runIf(run)('full profile (16,383 variables) against Leshan server demo 2.0.0-M4', () => {
  let leshan: Leshan;
  let device: Device;
  let base: string;

  beforeAll(async () => {
    leshan = await startLeshan();
    base = `${leshan.api}/clients/${EP}`;
    device = runDevice(
      'full',
      app(sensor, { EP, HOST: '127.0.0.1', PORT: leshan.coapPort, LIFETIME: 60 }),
      120,
    );
    await device.waitFor(/^REG \/rd\/\S+/, 30_000);
  }, 90_000);

  afterAll(() => device?.kill());

  it('registers in LwM2M 1.1: Leshan lists the object links with /5/0 and /3303/0', async () => {
    const { json } = await rest('GET', base);
    expect(json.lwM2mVersion ?? json.version).toBe('1.1');
    const urls = (json.objectLinks as { url: string }[]).map((l) => l.url);
    expect(urls).toEqual(expect.arrayContaining(['/1/0', '/3/0', '/5/0', '/3303/0']));
  });

  it('Leshan reads /3/0/0 as text, /3/0 as TLV and /3303/0 as SenML JSON', async () => {
    expect((await rest('GET', `${base}/3/0/0?format=TEXT`)).json.content).toEqual({
      id: 0,
      value: 'Thimble',
    });
    const dev = await rest('GET', `${base}/3/0?format=TLV`);
    expect(dev.json.status).toBe('CONTENT(205)');
    const byId = new Map((dev.json.content!.resources ?? []).map((r: LeshanNode) => [r.id, r]));
    expect(byId.get(9)!.value).toBe(87);
    const s = await rest('GET', `${base}/3303/0?format=SENML_JSON`);
    expect(s.json.status).toBe('CONTENT(205)');
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
      await eventually(() => notified().includes(22.5), 10_000, 'notification of 22.5');
      expect((await rest('DELETE', `${base}/3303/0/5700/observe`)).status).toBe(200);
    } finally {
      sse.close();
    }
  }, 30_000);
});
