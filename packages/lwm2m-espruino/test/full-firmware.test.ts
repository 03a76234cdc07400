/**
 * The full profile (dist/lwm2m-full.js) in the 16,383-variable interpreter (ESP32 layout) against
 * `lwm2m server`: a 64 KiB firmware image pushed (Block1 Write of /5/0/0, RFC 7959) and pulled (Package
 * URI /5/0/1, Block2 GETs), written to Storage as it arrives and checked by SHA-256 on the device against
 * /30500/0/0, installed with Execute /5/0/2 (LwM2M TS Core 1.1 Appendix E.6), driven by
 * `lwm2m firmware push`; a wrong digest ends in Update Result 5.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lwm2m/src/cli/main.js';
import { type Device, image, requireEspruino, runDevice, until } from './espruino.js';
import { api, app, type RunningServer, startLwm2mServer } from './server.js';

const run = requireEspruino('lwm2m-espruino full profile firmware');
const EP = `esp-full-${process.pid}`;
const firmwareApp = readFileSync(join(__dirname, 'apps/firmware.js'), 'utf8');

describe.runIf(run)('full profile (16,383 variables): firmware update against lwm2m server', () => {
  let server: RunningServer;
  let device: Device;
  let dir: string;
  const dev = (path: string) => `${server.api}/api/clients/${EP}${path}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-esp-fw-'));
    server = await startLwm2mServer();
    device = runDevice(
      'full',
      app(firmwareApp, { EP, HOST: '127.0.0.1', PORT: server.coapPort, LIFETIME: 60, EXTRA: '' }),
      300,
    );
    await device.waitFor(/^REG \/rd\/\S+/, 30_000);
  }, 60_000);

  afterAll(async () => {
    device?.kill();
    if (server) expect(await server.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  async function push(method: 'push' | 'pull', version: string) {
    const file = join(dir, `fw-${method}.bin`);
    writeFileSync(file, image(version));
    let out = '';
    const io = { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (out += d) } };
    const code = await main(
      ['firmware', 'push', '--server', server.api, '--endpoint', EP, '--file', file, '--method', method],
      io,
    );
    return { code, out };
  }

  it('registers with objects 5/0 and 30500/0 in LwM2M 1.1, reads in SenML JSON', async () => {
    const list = await api<{ endpoint: string; version: string; objects: { path: string }[] }[]>(
      `${server.api}/api/clients`,
    );
    const me = list.find((c) => c.endpoint === EP)!;
    expect(me.version).toBe('1.1');
    expect(me.objects.map((o) => o.path)).toEqual(expect.arrayContaining(['/3/0', '/5/0', '/30500/0']));
    const d = await api<{ resources: { id: number; value: unknown }[] }>(dev('/3/0?format=senml-json'));
    expect(d.resources.find((r) => r.id === 3)!.value).toBe('1.0.0');
  });

  it('push (Block1 to /5/0/0): 64 KiB into Storage, SHA-256 checked on the device, installed: /3/0/3 reads 2.0.0', async () => {
    const from = device.lines.length;
    const { code, out } = await push('push', '2.0.0');
    expect(code, out).toBe(0);
    await device.waitFor(/^INSTALL 65536 2\.0\.0$/, 5000, from);
    expect(device.lines.slice(from)).toContain('FW 2 0');
    expect((await api<{ value: unknown }>(dev('/3/0/3'))).value).toBe('2.0.0');
  }, 240_000);

  it('pull (Package URI, Block2 GETs): 64 KiB downloaded and installed: /3/0/3 reads 3.1.4', async () => {
    const from = device.lines.length;
    const { code, out } = await push('pull', '3.1.4');
    expect(code, out).toBe(0);
    await device.waitFor(/^INSTALL 65536 3\.1\.4$/, 5000, from);
    expect((await api<{ value: unknown }>(dev('/3/0/3'))).value).toBe('3.1.4');
  }, 240_000);

  it('a package whose SHA-256 differs from /30500/0/0 ends in Update Result 5 (integrity check failure)', async () => {
    const bytes = image('9.9.9', 4096);
    const wrong = createHash('sha256').update(image('0.0.0', 4096)).digest();
    const put = (path: string, value: string) =>
      api(dev(`${path}?format=opaque`), {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'Opaque', value }),
      });
    await put('/30500/0/0', wrong.toString('base64'));
    await put('/5/0/0', Buffer.from(bytes).toString('base64'));
    await until(async () => true);
    expect((await api<{ value: unknown }>(dev('/5/0/5'))).value).toBe(5);
    expect((await api<{ value: unknown }>(dev('/5/0/3'))).value).toBe(0);
  }, 60_000);

  it('memory: the peak during the downloads stayed within 4,000 of 16,383 variables', () => {
    const peak = device.peakMemory();
    console.log(`full profile: peak ${peak} of 16383 variables during firmware push and pull`);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(4000);
  });
});
