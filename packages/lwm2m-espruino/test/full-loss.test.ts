/**
 * Loss: the full profile in the 16,383-variable interpreter registers through a lossy UDP relay (20 % of
 * the datagrams dropped each way, seeded) to `lwm2m server`: CON retransmission (RFC 7252 §4.2) on the
 * device. A firmware push through the same relay does not complete yet (it stalls after about 2 KiB and
 * the server's Block1 request gets no answer; not diagnosed): that half of the loss test is open.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, requireEspruino, runDevice } from './espruino.js';
import { type LossyRelay, startLossyRelay } from './lossy-relay.js';
import { api, app, type RunningServer, startLwm2mServer } from './server.js';

const run = requireEspruino('lwm2m-espruino full profile through a lossy relay');
const EP = `esp-loss-${process.pid}`;
const firmwareApp = readFileSync(join(__dirname, 'apps/firmware.js'), 'utf8');

describe.runIf(run)('full profile through a relay losing 20 % each way', () => {
  let server: RunningServer;
  let relay: LossyRelay;
  let device: Device;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-esp-loss-'));
    server = await startLwm2mServer();
    relay = await startLossyRelay(server.coapPort, Number(process.env.LOSS ?? 0.2), 20261207);
    device = runDevice(
      'full',
      app(firmwareApp, { EP, HOST: '127.0.0.1', PORT: relay.port, LIFETIME: 300, EXTRA: '' }),
      300,
    );
  }, 60_000);

  afterAll(async () => {
    device?.kill();
    relay?.close();
    if (server) expect(await server.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers (retransmitting the Register until it gets through)', async () => {
    await device.waitFor(/^REG \/rd\/\S+/, 90_000);
    const list = await api<{ endpoint: string }[]>(`${server.api}/api/clients`);
    expect(list.map((c) => c.endpoint)).toContain(EP);
    // reads through the relay too
    const d = await api<{ value: unknown }>(`${server.api}/api/clients/${EP}/3/0/3?timeout=60`);
    expect(d.value).toBe('1.0.0');
    console.log(`lossy relay: ${relay.stats.dropped} dropped, ${relay.stats.forwarded} forwarded`);
  }, 100_000);
});
