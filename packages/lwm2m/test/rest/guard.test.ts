/**
 * The REST API driven from a web page (issue 15, item 2): the attacks become tests. A page on another origin
 * posting text/plain to Execute (CSRF), a rebound DNS name (`Host: evil.example`), and an API listening
 * beyond loopback without a token.
 */
import { request } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createRestApi, RestApiConfigError, startRestApi } from '../../src/node/index.js';
import { guardOf } from '../../src/node/rest/index.js';
import { serverSetup } from '../server/harness.js';
import { type RestSetup, restSetup } from './harness.js';

/** The device's Reboot (/3/0/4) records its calls. */
function rebootable(s: RestSetup): string[] {
  const calls: string[] = [];
  s.client.removeInstance(3, 0);
  s.client.addInstance(3, 0, { 0: 'Thimble', 4: { execute: (args) => void calls.push(args) } });
  return calls;
}

const EXECUTE = '/api/clients/dev1/3/0/4';

describe('REST API: cross-site request forgery (RFC 6454 §7, Fetch metadata)', () => {
  it('a cross-site text/plain POST to Execute /3/0/4 is refused and the device is not rebooted', async () => {
    const s = await restSetup();
    const calls = rebootable(s);
    const res = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: {
        host: '127.0.0.1:8080',
        origin: 'http://evil.example',
        'sec-fetch-site': 'cross-site',
        'content-type': 'text/plain',
      },
      payload: '',
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: 'forbidden-origin' });
    // an old browser that sends only one of the two headers is refused as well
    const originOnly = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain' },
      payload: '',
    });
    expect(originOnly.statusCode).toBe(403);
    const fetchSiteOnly = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
      payload: '',
    });
    expect(fetchSiteOnly.statusCode).toBe(403);
    // a sandboxed frame (Origin: null) and a sibling site are other origins too
    for (const headers of [{ origin: 'null' }, { 'sec-fetch-site': 'same-site' }]) {
      expect((await s.call({ method: 'DELETE', url: '/api/clients/dev1/3/0', headers })).statusCode).toBe(
        403,
      );
    }
    expect(calls).toEqual([]);
  });

  it('the same origin (the console page) and non-browser callers keep working, text/plain included', async () => {
    const s = await restSetup();
    const calls = rebootable(s);
    const page = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: { host: 'localhost:8080', origin: 'http://localhost:8080', 'sec-fetch-site': 'same-origin' },
      payload: { args: 'page' },
    });
    expect(page.statusCode).toBe(204);
    const pageText = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: { host: 'localhost:8080', origin: 'http://localhost:8080', 'content-type': 'text/plain' },
      payload: 'page-text',
    });
    expect(pageText.statusCode).toBe(204);
    const curl = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: { 'content-type': 'text/plain' },
      payload: 'curl',
    });
    expect(curl.statusCode).toBe(204);
    // the user typing the URL (Sec-Fetch-Site: none) is not a cross-site request
    const typed = await s.call({ method: 'POST', url: EXECUTE, headers: { 'sec-fetch-site': 'none' } });
    expect(typed.statusCode).toBe(204);
    expect(calls).toEqual(['page', 'page-text', 'curl', '']);
    // a GET from another origin is not state-changing (and the browser keeps the answer from the page)
    const read = await s.call({
      method: 'GET',
      url: '/api/clients',
      headers: { origin: 'http://evil.example' },
    });
    expect(read.statusCode).toBe(200);
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('corsOrigins: a listed origin gets its preflight answered and may send JSON, but not text/plain', async () => {
    const s = await restSetup({ corsOrigins: ['https://console.example'] });
    const calls = rebootable(s);
    const preflight = await s.call({
      method: 'OPTIONS',
      url: EXECUTE,
      headers: {
        origin: 'https://console.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://console.example');
    expect(preflight.headers['access-control-allow-methods']).toContain('POST');
    expect(preflight.headers['access-control-allow-headers']).toContain('content-type');
    const other = await s.call({
      method: 'OPTIONS',
      url: EXECUTE,
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(other.statusCode).toBe(403);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const json = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: { origin: 'https://console.example', 'sec-fetch-site': 'cross-site' },
      payload: { args: 'console' },
    });
    expect(json.statusCode).toBe(204);
    expect(json.headers['access-control-allow-origin']).toBe('https://console.example');
    const text = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: { origin: 'https://console.example', 'content-type': 'text/plain' },
      payload: 'simple request',
    });
    expect(text.statusCode).toBe(415);
    const evil = await s.call({
      method: 'POST',
      url: EXECUTE,
      headers: { origin: 'https://evil.example' },
      payload: { args: 'evil' },
    });
    expect(evil.statusCode).toBe(403);
    expect(calls).toEqual(['console']);
  });

  it('with a token, a CORS preflight (which carries none) is still answered; the call itself needs it', async () => {
    const s = await restSetup({ token: 'tk', corsOrigins: ['https://console.example'] });
    const preflight = await s.call({
      method: 'OPTIONS',
      url: '/api/clients',
      headers: { origin: 'https://console.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.statusCode).toBe(204);
    const noToken = await s.call({
      method: 'GET',
      url: '/api/clients',
      headers: { origin: 'https://console.example' },
    });
    expect(noToken.statusCode).toBe(401);
  });

  it('refuses a corsOrigins entry that is not an origin', async () => {
    const s = serverSetup();
    await expect(
      createRestApi({ server: s.server, corsOrigins: ['https://x.example/path'] }),
    ).rejects.toThrow(RestApiConfigError);
    await expect(createRestApi({ server: s.server, allowedHosts: ['a b'] })).rejects.toMatchObject({
      reason: 'invalid-allowed-host',
    });
  });
});

describe('REST API: DNS rebinding (Host allow-list)', () => {
  it('a rebound name in Host is refused on every route; loopback names and allowedHosts pass, any port', async () => {
    const s = await restSetup({ allowedHosts: ['lwm2m.lan', '[fd00::1]'] });
    const calls = rebootable(s);
    for (const host of [
      'evil.example',
      'evil.example:8080',
      'localhost.evil.example',
      '127.0.0.2',
      '0.0.0.0',
    ]) {
      const list = await s.call({ method: 'GET', url: '/api/clients', headers: { host } });
      expect(list.statusCode, host).toBe(403);
      expect(list.json()).toMatchObject({ error: 'forbidden-host' });
      const exec = await s.call({ method: 'POST', url: EXECUTE, headers: { host } });
      expect(exec.statusCode, host).toBe(403);
    }
    expect(calls).toEqual([]);
    for (const host of [
      'localhost',
      'LOCALHOST:8080',
      '127.0.0.1',
      '127.0.0.1:8080',
      '[::1]',
      '[::1]:8080',
      'lwm2m.lan',
      'lwm2m.lan:443',
      '[fd00::1]:8080',
    ]) {
      expect((await s.call({ method: 'GET', url: '/api/clients', headers: { host } })).statusCode, host).toBe(
        200,
      );
    }
  });
});

/** A plain HTTP GET with a chosen Host header (fetch does not let a caller set Host). */
function get(url: string, host: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host, ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function closed(app: FastifyInstance, f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } finally {
    await app.close();
  }
}

describe('REST API: a token whenever the API listens beyond loopback', () => {
  it('startRestApi on 0.0.0.0 or a LAN address without a token throws RestApiConfigError and does not listen', async () => {
    const s = serverSetup();
    const app = await createRestApi({ server: s.server });
    await closed(app, async () => {
      for (const host of ['0.0.0.0', '::', '192.168.1.10', 'lwm2m.lan']) {
        const e = await startRestApi(app, { host, port: 0 }).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(RestApiConfigError);
        expect((e as RestApiConfigError).reason).toBe('token-required');
      }
      expect(app.server.listening).toBe(false);
      // loopback needs none
      const url = await startRestApi(app, { host: '127.0.0.1', port: 0 });
      expect(await get(`${url}/api/clients`, new URL(url).host)).toBe(200);
    });
  });

  it('with a token it listens on 0.0.0.0; the bound address and the arrival address are valid Hosts', async () => {
    const s = serverSetup();
    const app = await createRestApi({ server: s.server, token: 'tk' });
    await closed(app, async () => {
      const url = await startRestApi(app, { host: '0.0.0.0', port: 0 });
      const port = new URL(url).port;
      const auth = { authorization: 'Bearer tk' };
      expect(await get(`http://127.0.0.1:${port}/api/clients`, `127.0.0.1:${port}`, auth)).toBe(200);
      expect(await get(`http://127.0.0.1:${port}/api/clients`, `evil.example:${port}`, auth)).toBe(403);
      expect(await get(`http://127.0.0.1:${port}/api/clients`, `0.0.0.0:${port}`, auth)).toBe(403);
      // a connection arriving at a LAN address (the tests send nothing beyond loopback: the arrival
      // address is given to the guard's check directly)
      const guard = guardOf(app);
      expect(guard?.admission(`192.0.2.9:${port}`, '192.0.2.9')).toBeUndefined();
      expect(guard?.admission(`192.0.2.9:${port}`, '::ffff:192.0.2.9')).toBeUndefined();
      expect(guard?.admission(`192.0.2.8:${port}`, '192.0.2.9')).toBe('forbidden-host');
    });
  });

  it('an app listening beyond loopback without a token (app.listen directly) refuses connections arriving off loopback', async () => {
    const s = serverSetup();
    const app = await createRestApi({ server: s.server });
    await closed(app, async () => {
      await app.listen({ host: '0.0.0.0', port: 0 });
      const port = (app.server.address() as { port: number }).port;
      // the arrival address of a LAN connection, given to the guard directly (no traffic leaves loopback)
      expect(guardOf(app)?.admission(`192.0.2.9:${port}`, '192.0.2.9')).toBe('token-required');
      expect(guardOf(app)?.admission(`127.0.0.1:${port}`, '127.0.0.1')).toBeUndefined();
      expect(await get(`http://127.0.0.1:${port}/api/clients`, `127.0.0.1:${port}`)).toBe(200);
    });
  });
});
