/**
 * Queue mode (LwM2M TS Core 1.1 §6.5, Transport §6.5) of the full profile in the 16,383-variable
 * interpreter against `lwm2m server` (built in-process with a 2 s awake time, the device's too): the
 * device registers with the Q parameter, goes to sleep after 2 s without traffic and then answers
 * nothing; a Read the REST API makes meanwhile waits in the server's queue and reaches the device right
 * after its next Update.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, requireEspruino, runDevice } from './espruino.js';
import { api, app, type RunningServer, startTunedServer } from './server.js';

const run = requireEspruino('lwm2m-espruino full profile queue mode');
const EP = `esp-queue-${process.pid}`;
const queueApp = readFileSync(join(__dirname, 'apps/queue.js'), 'utf8');

/** Sends a CON GET /3/0/3 (RFC 7252 §3) straight to the device; resolves with the answer or undefined. */
async function probe(port: number, ms: number): Promise<Uint8Array | undefined> {
  const sock = createSocket('udp4');
  // CON GET, message id 0x7e57, token 0x51, Uri-Path 3 / 0 / 3
  const get = new Uint8Array([0x41, 0x01, 0x7e, 0x57, 0x51, 0xb1, 0x33, 0x01, 0x30, 0x01, 0x33]);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sock.close();
      resolve(undefined);
    }, ms);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(new Uint8Array(m));
    });
    sock.send(get, port, '127.0.0.1');
  });
}

describe.runIf(run)('full profile: queue mode against lwm2m server', () => {
  let server: RunningServer;
  let device: Device;

  beforeAll(async () => {
    server = await startTunedServer({ awakeTime: 2000 });
    device = runDevice(
      'full',
      app(queueApp, { EP, HOST: '127.0.0.1', PORT: server.coapPort, LIFETIME: 15, AWAKE: 2 }),
      120,
    );
    await device.waitFor(/^REG \/rd\/\S+/, 30_000);
  }, 60_000);

  afterAll(async () => {
    device?.kill();
    if (server) expect(await server.stop()).toBe(0);
  });

  it('registers in queue mode (Q parameter, Core 1.1 §6.2.1.1)', async () => {
    const list = await api<{ endpoint: string; queueMode: boolean; binding: string }[]>(
      `${server.api}/api/clients`,
    );
    const me = list.find((c) => c.endpoint === EP)!;
    expect(me.queueMode).toBe(true);
  });

  it('awake it answers a request sent straight to it; asleep it does not (Transport §6.5)', async () => {
    const me = (await api<{ endpoint: string; port: number }[]>(`${server.api}/api/clients`)).find(
      (c) => c.endpoint === EP,
    )!;
    // just registered: awake for 2 s
    const awake = await probe(me.port, 1500);
    expect(awake?.[1]).toBe(69); // 2.05 Content
    const n = device.lines.length;
    await device.waitFor(/^SLEEP$/, 20_000, n);
    expect(await probe(me.port, 1500)).toBeUndefined();
  }, 60_000);

  it('asleep, a Read waits for the next Update and is answered right after it (Core §6.5)', async () => {
    const asleep = await device.waitFor(/^SLEEP$/, 20_000);
    const from = device.lines.indexOf(asleep[0]);
    const read = api<{ value: unknown }>(`${server.api}/api/clients/${EP}/3/0/3?timeout=60`);
    const value = (await read).value;
    expect(value).toBe('1.0.0');
    const after = device.lines.slice(from);
    const upd = after.indexOf('UPD');
    const op = after.findIndex((l) => /^OP 1 \/3\/0\/3 69$/.test(l));
    // the Update came first (the client was asleep until then), the Read right after it
    expect(upd).toBeGreaterThan(0);
    expect(op).toBeGreaterThan(-1);
    expect(after.slice(0, Math.min(upd, op)).some((l) => l.startsWith('OP '))).toBe(false);
  }, 60_000);

  it('goes back to sleep after the awake time, and wakes again with the following Update', async () => {
    const n = device.lines.length;
    await device.waitFor(/^SLEEP$/, 20_000, n);
    await device.waitFor(/^UPD$/, 30_000, n);
  }, 60_000);
});
