/**
 * Loss: the full profile in the 16,383-variable interpreter registers and takes a firmware push through a
 * lossy UDP relay (20 % of the datagrams dropped each way, seeded) to `lwm2m server`: CON retransmission
 * and deduplication (RFC 7252 §4.2, §4.5) on the device, Block1 retransmission by the server.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lwm2m/src/cli/main.js';
import { type Device, image, requireEspruino, runDevice } from './espruino.js';
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
    relay = await startLossyRelay(server.coapPort, 0.2, 20261207);
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
  }, 100_000);

  it('takes a 4 KiB firmware push and installs it; datagrams were dropped on the way', async () => {
    const file = join(dir, 'fw.bin');
    writeFileSync(file, image('4.0.0', 4 * 1024));
    let out = '';
    const io = { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (out += d) } };
    const code = await main(
      ['firmware', 'push', '--server', server.api, '--endpoint', EP, '--file', file, '--method', 'push'],
      io,
    );
    expect(code, out).toBe(0);
    await device.waitFor(/^INSTALL 4096 4\.0\.0$/, 10_000);
    console.log(`lossy relay: ${relay.stats.dropped} dropped, ${relay.stats.forwarded} forwarded`);
    expect(relay.stats.dropped).toBeGreaterThan(10);
  }, 400_000);
});
