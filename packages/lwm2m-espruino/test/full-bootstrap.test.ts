/**
 * Client-initiated bootstrap (LwM2M TS Core 1.1 §6.1.3) of the full profile in the 16,383-variable
 * interpreter: Bootstrap-Request to `lwm2m bootstrap-server`, its Delete of /0 and /1, Writes of the
 * Security and Server instances (TLV, asked for with pct), Bootstrap-Finish; then the device registers with
 * the `lwm2m server` the configuration names, with the lifetime it gave.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lwm2m/src/cli/main.js';
import { type Device, requireEspruino, runDevice } from './espruino.js';
import { api, app, type RunningServer, startLwm2mServer } from './server.js';

const run = requireEspruino('lwm2m-espruino full profile bootstrap');
const EP = `esp-bs-${process.pid}`;
const firmwareApp = readFileSync(join(__dirname, 'apps/firmware.js'), 'utf8');

describe.runIf(run)('full profile: client-initiated bootstrap from lwm2m bootstrap-server', () => {
  let server: RunningServer;
  let device: Device;
  let dir: string;
  const bsStop = new AbortController();
  let bsOut = '';
  let bsExit: Promise<number>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-esp-bs-'));
    server = await startLwm2mServer();
    const config = join(dir, 'bootstrap.json');
    writeFileSync(
      config,
      JSON.stringify({
        [EP]: {
          security: {
            1: {
              uri: `coap://127.0.0.1:${server.coapPort}`,
              bootstrapServer: false,
              securityMode: 'nosec',
              shortServerId: 101,
            },
          },
          servers: { 0: { shortServerId: 101, lifetime: 120 } },
        },
      }),
    );
    const io = {
      stdout: { write: (d: string) => (bsOut += d) },
      stderr: { write: (d: string) => (bsOut += d) },
    };
    bsExit = main(
      ['bootstrap-server', '--coap-port', '0', '--host', '127.0.0.1', '--config', config],
      io,
      bsStop.signal,
    );
    const end = Date.now() + 15_000;
    let m = /bootstrap-server on \S+:(\d+)/.exec(bsOut);
    while (m === null && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      m = /bootstrap-server on \S+:(\d+)/.exec(bsOut);
    }
    if (m === null) throw new Error(`lwm2m bootstrap-server did not start:\n${bsOut}`);
    device = runDevice(
      'full',
      app(firmwareApp, { EP, HOST: '127.0.0.1', PORT: m[1]!, LIFETIME: 60, EXTRA: 'opts.bootstrap = true' }),
      120,
    );
  }, 60_000);

  afterAll(async () => {
    device?.kill();
    bsStop.abort();
    await bsExit;
    if (server) expect(await server.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('bootstraps, then registers with the configured server and lifetime', async () => {
    await device.waitFor(/^BOOTSTRAPPED$/, 30_000);
    await device.waitFor(/^REG \/rd\/\S+/, 30_000);
    const list = await api<{ endpoint: string; lifetime: number }[]>(`${server.api}/api/clients`);
    const me = list.find((c) => c.endpoint === EP);
    expect(me, bsOut).toBeDefined();
    expect(me!.lifetime).toBe(120);
  }, 70_000);
});
