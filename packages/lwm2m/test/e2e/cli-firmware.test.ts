/**
 * The command line end to end, in-process and on UDP loopback: `lwm2m server` (UDP + REST API), the
 * example device of `lwm2m client` registered to it, and `lwm2m firmware push` by push and by pull; the
 * device installs the version named by the image's `THIMBLE-FW <version>` line and reports it in /3/0/3
 * (LwM2M TS Core 1.1 Appendix E.6, Firmware Update), read back through the REST API.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { capture, waitFor } from '../cli/io.js';

const EP = `cli-e2e-${process.pid}`;

describe('lwm2m server + lwm2m client + lwm2m firmware push (issue #8, the CLI end to end)', () => {
  const stop = new AbortController();
  const server = capture();
  const device = capture();
  let serverExit: Promise<number>;
  let deviceExit: Promise<number>;
  let api: string;
  let dir: string;

  /** An image the example device installs as `version`. */
  async function imageFile(name: string, version: string, size = 12 * 1024): Promise<string> {
    const bytes = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
    bytes.set(new TextEncoder().encode(`THIMBLE-FW ${version}\n`));
    const file = join(dir, name);
    await writeFile(file, bytes);
    return file;
  }

  const version = async () => {
    const res = await fetch(`${api}/api/clients/${EP}/3/0/3`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { value: unknown }).value;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thimble-e2e-'));
    serverExit = main(
      ['server', '--coap-port', '0', '--http-port', '0', '--coap-host', '127.0.0.1'],
      server.io,
      stop.signal,
    );
    const m = await waitFor(
      () => /udp \S+:(\d+), REST API on (http:\/\/\S+)\/api/.exec(server.out()) ?? undefined,
    );
    api = m[2]!;
    deviceExit = main(
      [
        'client',
        '--endpoint',
        EP,
        '--server',
        `coap://127.0.0.1:${m[1]}`,
        '--host',
        '127.0.0.1',
        '--interval',
        '0',
      ],
      device.io,
      stop.signal,
    );
    await waitFor(() => server.out().includes(`registered "${EP}"`), 10_000);
  }, 20_000);

  afterAll(async () => {
    stop.abort();
    expect(await deviceExit).toBe(0);
    expect(await serverExit).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('the example device is listed and reads through the REST API', async () => {
    const list = (await (await fetch(`${api}/api/clients`)).json()) as { endpoint: string }[];
    expect(list.map((c) => c.endpoint)).toEqual([EP]);
    expect(await version()).toBe('0.1.0');
  });

  it.each([
    ['push', '2.0.0'],
    ['pull', '3.1.4'],
  ])(
    '--method %s exits 0 and the device then reports the new version %s in /3/0/3',
    async (method, v) => {
      const file = await imageFile(`fw-${method}.bin`, v);
      const c = capture();
      const code = await main(
        ['firmware', 'push', '--server', api, '--endpoint', EP, '--file', file, '--method', method],
        c.io,
      );
      expect(code, c.err()).toBe(0);
      expect(c.out()).toBe(`firmware updated on "${EP}"\n`);
      expect(c.err()).toContain(`: ${method} to "${EP}"`);
      expect(await version()).toBe(v);
    },
    30_000,
  );

  it('exits 1 for an endpoint that is not registered', async () => {
    const file = await imageFile('fw-nobody.bin', '9.9.9');
    const c = capture();
    const code = await main(
      ['firmware', 'push', '--server', api, '--endpoint', 'nobody', '--file', file],
      c.io,
    );
    expect(code, c.err()).toBe(1);
    expect(c.err()).toMatch(/nobody/);
    expect(await version()).toBe('3.1.4');
  }, 30_000);

  it('exits 1 for an image the device rejects (larger than its flash: Update Result 2)', async () => {
    // the example device's simulated flash is 8 MiB
    const file = await imageFile('fw-huge.bin', '9.9.9', 8 * 1024 * 1024 + 1);
    const c = capture();
    const code = await main(
      ['firmware', 'push', '--server', api, '--endpoint', EP, '--file', file, '--method', 'pull'],
      c.io,
    );
    expect(code, c.err()).toBe(1);
    expect(c.err()).toMatch(/Update Result 2|not enough flash/i);
    expect(await version()).toBe('3.1.4');
  }, 60_000);
});
