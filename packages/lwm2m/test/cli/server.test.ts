import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { Lwm2mClient, MemoryRegistrationStore } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { type FirmwareContext, runServer, type ServerStores } from '../../src/cli/server.js';
import { FakeFirmwareService, FakeSecurityStore } from '../rest/fakes.js';
import { capture, waitFor } from './io.js';

/** An HTTP request with a chosen Host header (fetch does not let a caller set Host); resolves with the status. */
function http(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Starts `lwm2m server` on free ports; resolves with its addresses once it logged them. */
async function started(
  argv: string[],
  run = (a: string[], io: ReturnType<typeof capture>['io'], s: AbortSignal) => main(a, io, s),
) {
  const c = capture();
  const stop = new AbortController();
  const exit = run(['server', '--coap-port', '0', '--http-port', '0', ...argv], c.io, stop.signal);
  const m = await waitFor(() => /udp \S+:(\d+), REST API on (http:\/\/\S+)\/api/.exec(c.out()) ?? undefined);
  return { c, stop, exit, coapPort: Number(m[1]), api: m[2]! };
}

describe('lwm2m server', () => {
  it('serves the web console at / from --console DIR (no token needed for it), none with --console none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-cli-console-'));
    try {
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>the console</title>');
      const s = await started(['--token', 'tk', '--console', dir]);
      expect(s.c.out()).toContain(`web console on ${s.api}/`);
      const page = await fetch(`${s.api}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('the console');
      // the page's per-device CoAP log is wired to the CoAP endpoint
      const stats = (await (
        await fetch(`${s.api}/api/stats`, { headers: { authorization: 'Bearer tk' } })
      ).json()) as { services: unknown };
      expect(stats.services).toMatchObject({ messageLog: true, firmware: true });
      s.stop.abort();
      expect(await s.exit).toBe(0);
      const off = await started(['--console', 'none']);
      expect(off.c.out()).not.toContain('web console');
      expect((await fetch(`${off.api}/`)).status).toBe(404);
      off.stop.abort();
      expect(await off.exit).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--require-security: a NoSec Register over UDP is 4.03 Forbidden (issue 15)', async () => {
    const s = await started(['--require-security']);
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    try {
      const res = await endpoint.request({
        method: 'POST',
        uri: `coap://127.0.0.1:${s.coapPort}/rd?ep=plain`,
        payload: '</3/0>',
      });
      expect(res.code).toBe(Code.Forbidden);
      expect(s.c.out()).not.toContain('registered "plain"');
    } finally {
      await endpoint.close();
    }
    s.stop.abort();
    expect(await s.exit).toBe(0);
  });

  it('runs a server on UDP with the REST API, logs registrations and stops on the signal', async () => {
    const s = await started(['--token', 'tk', '--host', '127.0.0.1']);
    expect(s.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const client = new Lwm2mClient({
      endpointName: 'cli-dev',
      endpoint,
      serverUri: `coap://127.0.0.1:${s.coapPort}`,
      lifetime: 60,
    });
    client.addInstance(1, 0, { 0: 1, 1: 60, 6: false, 7: 'U' });
    client.addInstance(3, 0, { 0: 'Thimble', 16: 'U' });
    try {
      client.start();
      await waitFor(() =>
        s.c.out().includes('registered "cli-dev" (LwM2M 1.1, lifetime 60 s, U) from 127.0.0.1:'),
      );
      const headers = { authorization: 'Bearer tk' };
      expect((await fetch(`${s.api}/api/clients`)).status).toBe(401);
      const list = await (await fetch(`${s.api}/api/clients`, { headers })).json();
      expect(list).toEqual([expect.objectContaining({ endpoint: 'cli-dev' })]);
      const read = await fetch(`${s.api}/api/clients/cli-dev/3/0/0`, { headers });
      expect(await read.json()).toEqual({ kind: 'resource', id: 0, type: 'String', value: 'Thimble' });
      // the firmware engine is wired in: no images yet
      const images = await fetch(`${s.api}/api/firmware`, { headers });
      expect(images.status).toBe(200);
      expect(await images.json()).toEqual([]);
      await client.stop();
      await waitFor(() => s.c.out().includes('de-registered "cli-dev"'));
    } finally {
      await endpoint.close();
    }
    s.stop.abort();
    expect(await s.exit).toBe(0);
    expect(s.c.out()).toMatch(/stopping\n$/);
    await expect(fetch(`${s.api}/api/clients`)).rejects.toThrow();
  });

  it('uses the stores and firmware engine its dependencies give, and closes them', async () => {
    let closed = 0;
    let context: FirmwareContext | undefined;
    const firmware = new FakeFirmwareService();
    const stores: ServerStores = {
      registrations: new MemoryRegistrationStore(),
      security: new FakeSecurityStore(),
      close: () => void closed++,
    };
    const specs: string[] = [];
    const s = await started(['--store', 'sqlite:/tmp/x.db', '--coap-host', '127.0.0.1'], (argv, io, signal) =>
      runServer(argv.slice(1), io, signal, {
        openStores: (spec) => {
          specs.push(spec);
          return stores;
        },
        createFirmware: (ctx) => {
          context = ctx;
          return firmware;
        },
      }),
    );
    expect(specs).toEqual(['sqlite:/tmp/x.db']);
    expect(context?.coapUri).toBe(`coap://127.0.0.1:${s.coapPort}`);
    const put = await fetch(`${s.api}/api/security/dev1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ psk: { identity: 'dev1', key: '0011' } }),
    });
    expect(put.status).toBe(200);
    expect(stores.security?.get('dev1')?.psk?.identity).toBe('dev1');
    expect(await (await fetch(`${s.api}/api/firmware`)).json()).toEqual([]);
    s.stop.abort();
    expect(await s.exit).toBe(0);
    expect(closed).toBe(1);
  });

  it('--store sqlite:PATH keeps registrations across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-server-'));
    const db = join(dir, 'server.db');
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    try {
      const first = await started(['--store', `sqlite:${db}`, '--coap-host', '127.0.0.1']);
      const client = new Lwm2mClient({
        endpointName: 'kept-dev',
        endpoint,
        serverUri: `coap://127.0.0.1:${first.coapPort}`,
        lifetime: 600,
      });
      client.addInstance(1, 0, { 0: 1, 1: 600, 6: false, 7: 'U' });
      client.addInstance(3, 0, { 0: 'Thimble' });
      client.start();
      await waitFor(() => first.c.out().includes('registered "kept-dev"'));
      await client.stop({ deregister: false });
      first.stop.abort();
      expect(await first.exit).toBe(0);
      const second = await started(['--store', `sqlite:${db}`, '--coap-host', '127.0.0.1']);
      const list = await (await fetch(`${second.api}/api/clients`)).json();
      expect(list).toEqual([expect.objectContaining({ endpoint: 'kept-dev', lifetime: 600 })]);
      second.stop.abort();
      expect(await second.exit).toBe(0);
    } finally {
      await endpoint.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with a clear message for bad stores and bad ports', async () => {
    const noPath = capture();
    expect(await main(['server', '--store', 'sqlite:'], noPath.io)).toBe(2);
    expect(noPath.err()).toContain('needs a file path');
    const redis = capture();
    expect(await main(['server', '--store', 'redis'], redis.io)).toBe(2);
    expect(redis.err()).toContain('--store must be memory or sqlite:PATH, not "redis"');
    const port = capture();
    expect(await main(['server', '--http-port', '99999'], port.io)).toBe(2);
    expect(port.err()).toContain('"99999" is not a port number');
    const extra = capture();
    expect(await main(['server', 'now'], extra.io)).toBe(2);
    const help = capture();
    expect(await main(['server', '--help'], help.io)).toBe(0);
    expect(help.out()).toContain('lwm2m server [--coap-port 5683] [--http-port 8080]');
  });

  it('exits 1 when a port is taken', async () => {
    const s = await started([]);
    const port = Number(new URL(s.api).port);
    const clash = capture();
    expect(
      await main(
        ['server', '--coap-port', '0', '--http-port', String(port)],
        clash.io,
        new AbortController().signal,
      ),
    ).toBe(1);
    expect(clash.err()).toContain('EADDRINUSE');
    s.stop.abort();
    expect(await s.exit).toBe(0);
  });

  it('refuses to expose the API beyond loopback without a token: one line, exit 2 (issue 15)', async () => {
    const saved = process.env.LWM2M_API_TOKEN;
    delete process.env.LWM2M_API_TOKEN;
    try {
      for (const host of ['0.0.0.0', '::', '192.0.2.7']) {
        const c = capture();
        expect(await main(['server', '--coap-port', '0', '--http-port', '0', '--host', host], c.io)).toBe(2);
        expect(c.err()).toBe(
          `lwm2m server: --host ${host} is not loopback: give --token (or LWM2M_API_TOKEN) to expose the API\n`,
        );
        expect(c.out()).toBe('');
      }
      const badOrigin = capture();
      expect(await main(['server', '--cors-origin', 'console.example'], badOrigin.io)).toBe(2);
      expect(badOrigin.err()).toContain('"console.example" is not an origin');
    } finally {
      if (saved !== undefined) process.env.LWM2M_API_TOKEN = saved;
    }
  });

  it('--host 0.0.0.0 --token: Host allow-list with --allowed-host, cross-site POSTs refused, --cors-origin preflight', async () => {
    const s = await started([
      '--host',
      '0.0.0.0',
      '--token',
      'tk',
      '--allowed-host',
      'lwm2m.lan',
      '--cors-origin',
      'https://console.example',
    ]);
    const port = new URL(s.api).port;
    const url = `http://127.0.0.1:${port}/api/clients`;
    const auth = { authorization: 'Bearer tk' };
    expect(await http(url, { headers: { ...auth, host: `lwm2m.lan:${port}` } })).toBe(200);
    expect(await http(url, { headers: { ...auth, host: `localhost:${port}` } })).toBe(200);
    expect(await http(url, { headers: { ...auth, host: `evil.example:${port}` } })).toBe(403);
    const execute = `http://127.0.0.1:${port}/api/clients/dev1/3/0/4`;
    const csrf = await http(execute, {
      method: 'POST',
      headers: { ...auth, origin: 'http://evil.example', 'content-type': 'text/plain' },
      body: '',
    });
    expect(csrf).toBe(403);
    const preflight = await http(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://console.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight).toBe(204);
    s.stop.abort();
    expect(await s.exit).toBe(0);
  });
});

describe('lwm2m server --public-uri (issue 17, item 6)', () => {
  it('is the base of the firmware pull URIs instead of coap://127.0.0.1:PORT', async () => {
    let context: FirmwareContext | undefined;
    const s = await started(['--public-uri', 'coap://192.0.2.10:5683/'], (argv, io, signal) =>
      runServer(argv.slice(1), io, signal, {
        openStores: () => ({ registrations: new MemoryRegistrationStore() }),
        createFirmware: (ctx) => {
          context = ctx;
          return new FakeFirmwareService();
        },
      }),
    );
    expect(context?.coapUri).toBe('coap://192.0.2.10:5683');
    s.stop.abort();
    expect(await s.exit).toBe(0);
  });

  it.each(['http://192.0.2.10', 'coap://host/path', 'not a uri'])(
    'refuses %s: one line, exit 2',
    async (uri) => {
      const c = capture();
      expect(await main(['server', '--public-uri', uri], c.io, AbortSignal.abort())).toBe(2);
      expect(c.err()).toMatch(/--public-uri must be coap:\/\/HOST\[:PORT\]/);
    },
  );
});
