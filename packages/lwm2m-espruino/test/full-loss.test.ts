/**
 * Loss: the full profile in the 16,383-variable interpreter through a lossy UDP relay (20 % of the
 * datagrams dropped each way, seeded) to `lwm2m server`: it registers (CON retransmission, RFC 7252 §4.2),
 * answers a read, and takes a firmware push (8 KiB in `npm test`, 64 KiB with THIMBLE_LOSS_KIB=64;
 * Block1 Write of /5/0/0, RFC 7959) whose SHA-256 the
 * device checks against /30500/0/0: a retransmitted Block1 request gets the device's first answer again
 * from its deduplication cache (RFC 7252 §4.5), never a second write. THIMBLE_RELAY_LOG=file writes the
 * relay's view of every datagram to that file.
 *
 * The server side runs with ACK_TIMEOUT 1 s and MAX_RETRANSMIT 8 (RFC 7252 §4.8.1): with the default
 * parameters a block's exchange fails when all its round trips are lost, 0.36^5 ≈ 0.6 % per block (1.7 %
 * when the server's 30 s request timeout stops it after 4 transmissions), too often for 256 blocks.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lwm2m/src/cli/main.js';
import { type Device, image, requireEspruino, runDevice } from './espruino.js';
import { type LossyRelay, startLossyRelay } from './lossy-relay.js';
import { api, app, type RunningServer, startTunedServer } from './server.js';

const run = requireEspruino('lwm2m-espruino full profile through a lossy relay');
const EP = `esp-loss-${process.pid}`;
const firmwareApp = readFileSync(join(__dirname, 'apps/firmware.js'), 'utf8');
const relayLog = process.env.THIMBLE_RELAY_LOG;
// 8 KiB (32 blocks) inside `npm test`; `npm run test:loss -w @thimble/lwm2m-espruino` pushes the issue's
// 64 KiB (about 8 minutes on the shared machine)
const KIB = Number(process.env.THIMBLE_LOSS_KIB ?? 8);

describe.runIf(run)('full profile through a relay losing 20 % each way', () => {
  let server: RunningServer;
  let relay: LossyRelay;
  let device: Device;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-esp-loss-'));
    // ACK_TIMEOUT 1 s (loopback) and MAX_RETRANSMIT 8 on the server: 20 % loss each way fails a round
    // trip 36 % of the time, so with the defaults (5 transmissions, of which the 30 s request timeout let
    // only 4 out) one of a push's 256 blocks goes unanswered in most runs (1 − 0.983^256 ≈ 99 %)
    server = await startTunedServer({ ackTimeout: 1000, maxRetransmit: 8 });
    if (relayLog) writeFileSync(relayLog, '');
    const t0 = Date.now();
    relay = await startLossyRelay(
      server.coapPort,
      Number(process.env.LOSS ?? 0.2),
      20261207,
      relayLog
        ? (l) => appendFileSync(relayLog, `${((Date.now() - t0) / 1000).toFixed(2)} ${l}\n`)
        : undefined,
    );
    device = runDevice(
      'full',
      app(firmwareApp, { EP, HOST: '127.0.0.1', PORT: relay.port, LIFETIME: 300, EXTRA: '' }),
      900,
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

  it(`firmware push (Block1, RFC 7959 + RFC 7252 §4.2/§4.5) of ${KIB} KiB completes, SHA-256 checked on the device`, async () => {
    const file = join(dir, 'fw.bin');
    writeFileSync(file, image('2.0.0', KIB * 1024));
    let out = '';
    const io = { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (out += d) } };
    const from = device.lines.length;
    const before = { ...relay.stats };
    const t0 = Date.now();
    const code = await main(
      ['firmware', 'push', '--server', server.api, '--endpoint', EP, '--file', file, '--method', 'push'],
      io,
    );
    expect(code, `${out}\n${device.lines.slice(from).join('\n')}`).toBe(0);
    // the device hashed what it wrote to Storage: a block written twice or skipped would fail the digest
    await device.waitFor(new RegExp(`^INSTALL ${KIB * 1024} 2\\.0\\.0$`), 10_000, from);
    expect(device.lines.slice(from)).toContain('FW 2 0');
    expect(device.lines.slice(from)).not.toContain('FW 0 5');
    expect((await api<{ value: unknown }>(`${server.api}/api/clients/${EP}/3/0/3?timeout=60`)).value).toBe(
      '2.0.0',
    );
    console.log(
      `lossy push: ${KIB} KiB in ${((Date.now() - t0) / 1000).toFixed(1)} s, relay ${relay.stats.dropped - before.dropped} dropped, ${relay.stats.forwarded - before.forwarded} forwarded`,
    );
  }, 840_000);
});
