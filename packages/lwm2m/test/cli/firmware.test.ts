import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoapEndpoint, MemoryNetwork, systemClock } from '@thimble/coap-core';
import { Lwm2mServer } from '@thimble/lwm2m';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFirmware } from '../../src/cli/firmware.js';
import { main } from '../../src/cli/main.js';
import { createRestApi, startRestApi } from '../../src/node/index.js';
import { FakeFirmwareService } from '../rest/fakes.js';
import { capture } from './io.js';

describe('lwm2m firmware push', () => {
  let app: FastifyInstance;
  let base: string;
  let dir: string;
  let file: string;
  let server: Lwm2mServer;
  const firmware = new FakeFirmwareService({
    broken: { state: 'failed', error: 'integrity check failed', updateResult: 5 },
  });
  const image = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);

  beforeAll(async () => {
    const network = new MemoryNetwork({ clock: systemClock });
    server = new Lwm2mServer({ endpoint: new CoapEndpoint({ transport: network.bind('10.0.0.1', 5683) }) });
    app = await createRestApi({ server, firmware, token: 'tk' });
    base = await startRestApi(app, { port: 0 });
    dir = await mkdtemp(join(tmpdir(), 'thimble-fw-'));
    file = join(dir, 'device-v2.bin');
    await writeFile(file, image);
  });
  afterAll(async () => {
    await app.close();
    server.close();
    await server.endpoint.close();
    await rm(dir, { recursive: true, force: true });
  });

  const push = (endpoint: string, ...more: string[]) => [
    'push',
    '--server',
    base,
    '--endpoint',
    endpoint,
    '--file',
    file,
    '--token',
    'tk',
    ...more,
  ];

  it('uploads the image, follows the campaign through events and exits 0 when the device succeeded', async () => {
    const c = capture();
    expect(await runFirmware(push('dev1'), c.io)).toBe(0);
    expect(c.out()).toBe('firmware updated on "dev1"\n');
    const uploaded = [...firmware.stored.values()].at(-1)!;
    expect(uploaded.info.name).toBe('device-v2.bin');
    expect(uploaded.data).toEqual(image);
    // stderr is not a terminal: a plain line per state and per 10 %
    expect(c.err()).toContain(`uploaded "device-v2.bin": 4096 bytes, sha256 ${uploaded.info.sha256}\n`);
    expect(c.err()).toMatch(/campaign c\d+: push to "dev1"\n/);
    const progress = c
      .err()
      .split('\n')
      .filter((l) => /^(pending|downloading|downloaded|updating|succeeded|failed) /.test(l));
    expect(progress).toEqual([
      'downloading 0% 0.0/4.0 KiB',
      'downloading 50% 2.0/4.0 KiB',
      'downloaded 100% 4.0/4.0 KiB',
      'updating 100% 4.0/4.0 KiB',
      'succeeded 100% 4.0/4.0 KiB',
    ]);
  });

  it('exits 1 and says why when the device reports a failure', async () => {
    const c = capture();
    expect(await runFirmware(push('broken', '--method', 'pull'), c.io)).toBe(1);
    expect(c.out()).toBe('');
    expect(c.err()).toMatch(/campaign c\d+: pull to "broken"/);
    expect(c.err()).toContain(
      'lwm2m firmware push: update of "broken" failed: integrity check failed (Update Result 5)\n',
    );
  });

  it('does not miss a campaign that ends before its id is known', async () => {
    firmware.stepMs = 0;
    try {
      for (const endpoint of ['dev4', 'broken']) {
        const c = capture();
        expect(await runFirmware(push(endpoint), c.io)).toBe(endpoint === 'broken' ? 1 : 0);
      }
    } finally {
      firmware.stepMs = 10;
    }
  });

  it('polls the campaign when it does not use the event stream', async () => {
    const c = capture();
    expect(await runFirmware(push('dev2'), c.io, undefined, { events: false, pollMs: 3 })).toBe(0);
    expect(c.err()).toContain('succeeded 100%');
    const failed = capture();
    expect(await runFirmware(push('broken'), failed.io, undefined, { events: false, pollMs: 3 })).toBe(1);
    expect(failed.err()).toContain('failed: integrity check failed');
  });

  it('draws a redrawn progress bar on a terminal, through the lwm2m command', async () => {
    const c = capture(true);
    expect(await main(['firmware', ...push('dev3')], c.io)).toBe(0);
    expect(c.err()).toContain('\rdownloading [---------------');
    expect(c.err()).toContain(`\rsucceeded   [${'#'.repeat(30)}] 100% 4.0/4.0 KiB\x1b[K\n`);
  });

  it('exits 1 with the API’s message for a wrong token, a missing file or a server that is not there', async () => {
    const token = capture();
    expect(await runFirmware([...push('dev1').slice(0, -1), 'wrong'], token.io)).toBe(1);
    expect(token.err()).toContain('401 a bearer token is needed');
    const missing = capture();
    expect(
      await runFirmware(
        push('dev1').map((a) => (a === file ? `${file}.nope` : a)),
        missing.io,
      ),
    ).toBe(1);
    expect(missing.err()).toContain('ENOENT');
    const down = capture();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const args = push('dev1').map((a) => (a === base ? `http://127.0.0.1:${port}` : a));
    expect(await runFirmware(args, down.io)).toBe(1);
    expect(down.err()).toMatch(/lwm2m firmware push: .*fetch failed \(ECONNREFUSED\)/);
  });

  it('refuses bad arguments with exit code 2', async () => {
    for (const args of [
      ['push', '--file', 'x'],
      ['push', '--endpoint', 'e'],
      ['pull', '--endpoint', 'e', '--file', 'x'],
      ['push', '--endpoint', 'e', '--file', 'x', '--method', 'carrier'],
      ['push', '--endpoint', 'e', '--file', 'x', '--server', 'coap://127.0.0.1'],
      ['push', '--bogus'],
    ]) {
      const c = capture();
      expect(await runFirmware(args, c.io), args.join(' ')).toBe(2);
    }
    const help = capture();
    expect(await runFirmware(['--help'], help.io)).toBe(0);
    expect(help.out()).toContain(
      'lwm2m firmware push --server http://127.0.0.1:8080 --endpoint EP --file IMAGE',
    );
  });
});
