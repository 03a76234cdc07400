/**
 * The web console's files at `/` (`RestApiOptions.console`): only the files of the folder, with cache
 * headers; no path reaches outside it; no token for the page, the token still for `/api/*`.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restSetup } from './harness.js';

function consoleDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'thimble-console-'));
  const dir = join(root, 'console');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'notes.md'), 'not served: unknown type');
  writeFileSync(join(root, 'secret.txt'), 'outside the console folder');
  return dir;
}

describe('REST API: the web console at /', () => {
  it('serves index.html (revalidated) and hashed assets (immutable), 304 on a matching ETag', async () => {
    const s = await restSetup({ console: consoleDir(), token: 'T' });
    const page = await s.call({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.body).toContain('<title>console</title>');
    const again = await s.call({ method: 'GET', url: '/', headers: { 'if-none-match': page.headers.etag } });
    expect(again.statusCode).toBe(304);
    const js = await s.call({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers 404 for anything else, traversal attempts included', async () => {
    const s = await restSetup({ console: consoleDir() });
    for (const url of [
      '/secret.txt',
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/notes.md',
      '/index.html/',
      '/nothing',
    ]) {
      const res = await s.call({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.body, url).not.toContain('outside the console folder');
    }
  });

  it('needs no token for the page, but the API still does', async () => {
    const s = await restSetup({ console: consoleDir(), token: 'T' });
    expect((await s.call({ method: 'GET', url: '/' })).statusCode).toBe(200);
    expect((await s.call({ method: 'GET', url: '/api/clients' })).statusCode).toBe(401);
    expect((await s.call({ method: 'GET', url: '/api/nothing' })).statusCode).toBe(401);
    const authed = await s.call({
      method: 'GET',
      url: '/api/clients',
      headers: { authorization: 'Bearer T' },
    });
    expect(authed.statusCode).toBe(200);
  });

  it('is absent without a console folder', async () => {
    const s = await restSetup();
    expect((await s.call({ method: 'GET', url: '/' })).statusCode).toBe(404);
  });
});
