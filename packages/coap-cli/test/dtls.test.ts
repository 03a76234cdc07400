/** `coap` with DTLS (RFC 7252 §9.1): credential flags, and `coap serve --dtls-port` with our own client. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo } from '@thimble/test-support/peers';
import { describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/main.js';

vi.setConfig({ testTimeout: 20_000 });

async function coap(...args: string[]) {
  const c = captureIo();
  const code = await runCli(args, c.io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

function keyFiles(dir: string, name: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, `${name}.key`), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  writeFileSync(join(dir, `${name}.pub`), publicKey.export({ format: 'pem', type: 'spki' }));
  return { key: join(dir, `${name}.key`), pub: join(dir, `${name}.pub`) };
}

async function serve(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'thimble-cli-dtls-'));
  writeFileSync(join(dir, 'a.txt'), 'file a');
  const c = captureIo();
  const abort = new AbortController();
  const done = runCli(
    ['serve', dir, '--host', '127.0.0.1', '--port', '0', '--dtls-port', '0', ...args],
    c.io,
    abort.signal,
  );
  for (let i = 0; i < 100 && !c.stderr().includes('coaps://'); i++)
    await new Promise((r) => setTimeout(r, 20));
  const port = /coaps:\/\/127\.0\.0\.1:(\d+)/.exec(c.stderr())?.[1];
  if (port === undefined) throw new Error(`serve did not start: ${c.stderr()}`);
  return {
    port,
    stop: async () => {
      abort.abort();
      expect(await done).toBe(0);
    },
  };
}

describe('coap DTLS flags', () => {
  it.each([
    [['--psk-identity', 'x', '--psk-key', 'zz'], /must be hex/],
    [['--psk-identity', 'x'], /needs --psk-key HEX or --psk-text/],
    [['--psk-key', '0102'], /need --psk-identity/],
    [['--psk-identity', 'x', '--psk-key', '01', '--psk-text', 'a'], /not both/],
    [['--cert', '/nonexistent.pem'], /--cert and --key go together/],
    [['--rpk-key', '/nonexistent.key'], /cannot read/],
    [[], /coaps:\/\/ needs DTLS credentials/],
  ])('refuses %j with a usage error (exit 64)', async (flags, message) => {
    const r = await coap('get', 'coaps://127.0.0.1:1/x', ...flags);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(message);
  });

  it('serve --dtls-port needs credentials', async () => {
    const r = await coap('serve', tmpdir(), '--dtls-port', '0');
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--dtls-port needs credentials/);
  });

  it('serve --dtls-port with a text PSK: our client GETs a file (RFC 7252 §9.1.3.1)', async () => {
    const s = await serve(['--psk-identity', 'me', '--psk-text', 'sesame']);
    const r = await coap(
      'get',
      `coaps://127.0.0.1:${s.port}/a.txt`,
      '--psk-identity',
      'me',
      '--psk-key',
      '736573616d65',
    );
    expect([r.code, r.stdout]).toEqual([0, 'file a']);
    const wrong = await coap(
      'get',
      `coaps://127.0.0.1:${s.port}/a.txt`,
      '--psk-identity',
      'me',
      '--psk-text',
      'nope',
      '--timeout',
      '3',
    );
    expect(wrong.code).toBe(2);
    await s.stop();
  });

  it('serve --dtls-port with raw public keys and a Connection ID both ways (RFC 7250, RFC 9146)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-cli-rpk-'));
    const server = keyFiles(dir, 'server');
    const client = keyFiles(dir, 'client');
    const stranger = keyFiles(dir, 'stranger');
    const s = await serve(['--rpk-key', server.key, '--rpk-peer', client.pub, '--cid']);
    const r = await coap(
      'get',
      `coaps://127.0.0.1:${s.port}/a.txt`,
      '--rpk-key',
      client.key,
      '--rpk-peer',
      server.pub,
      '--cid',
    );
    expect([r.code, r.stdout]).toEqual([0, 'file a']);
    const refused = await coap(
      'get',
      `coaps://127.0.0.1:${s.port}/a.txt`,
      '--rpk-key',
      stranger.key,
      '--rpk-peer',
      server.pub,
      '--timeout',
      '3',
    );
    expect(refused.code).toBe(2);
    await s.stop();
  });
});
