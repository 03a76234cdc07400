/**
 * `coap ... --oscore CONTEXT_DIR` and `coap serve DIR --oscore CONTEXT_DIR` (RFC 8613) on loopback, with
 * the RFC 8613 Appendix C.1 keying material in aiocoap-style context directories.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo, freeUdpPort } from '@thimble/test-support/peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../coap-cli/src/main.js';
import { writeC1Dirs } from './c1-dirs.js';

async function coap(...args: string[]) {
  const c = captureIo();
  const code = await runCli(args, c.io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** Runs `coap serve` in this process until stopped. */
function serve(args: string[]) {
  const controller = new AbortController();
  const c = captureIo();
  const done = runCli(['serve', ...args], c.io, controller.signal);
  return {
    stderr: c.stderr,
    async ready() {
      for (let i = 0; i < 200 && !c.stderr().includes('serving'); i++)
        await new Promise((r) => setTimeout(r, 10));
      if (!c.stderr().includes('serving')) throw new Error(`coap serve did not start: ${c.stderr()}`);
    },
    async stop() {
      controller.abort();
      return done;
    },
  };
}

describe('coap --oscore (RFC 8613)', () => {
  const root = mkdtempSync(join(tmpdir(), 'thimble-oscore-cli-'));
  const files = join(root, 'files');
  let dirs: { client: string; server: string };
  let base = '';
  let server: ReturnType<typeof serve>;
  let port = 0;
  beforeAll(async () => {
    dirs = writeC1Dirs(root);
    rmSync(files, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(files);
    writeFileSync(join(files, 'hello.txt'), 'hello through OSCORE');
    port = await freeUdpPort();
    server = serve([
      files,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--writable',
      '--oscore',
      dirs.server,
    ]);
    await server.ready();
    base = `coap://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('get --oscore reads a file from coap serve --oscore', async () => {
    const r = await coap('get', `${base}/hello.txt`, '--oscore', dirs.client, '--timeout', '5');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'hello through OSCORE', '']);
    // the sequence number state is kept in the context directory
    expect(JSON.parse(readFileSync(join(dirs.client, 'sequence.json'), 'utf8'))).toHaveProperty(
      'next-to-send',
    );
  });

  it('put --oscore and a large get (Block-wise inside OSCORE)', async () => {
    const body = 'z'.repeat(5000);
    const put = await coap('put', `${base}/big.txt`, '-p', body, '-b', '512', '--oscore', dirs.client);
    expect(put.code).toBe(0);
    expect(readFileSync(join(files, 'big.txt'), 'utf8')).toBe(body);
    const get = await coap('get', `${base}/big.txt`, '-b', '256', '--oscore', dirs.client);
    expect([get.code, get.stdout.length]).toEqual([0, 5000]);
  });

  it('--outer-block-size: the protected request goes in Outer Block1 blocks (RFC 8613 §4.1.3.4.2)', async () => {
    const body = 'o'.repeat(900);
    const put = await coap(
      'put',
      `${base}/outer.txt`,
      '-p',
      body,
      '--outer-block-size',
      '128',
      '--oscore',
      dirs.client,
      '-v',
    );
    expect(put.code).toBe(0);
    expect(readFileSync(join(files, 'outer.txt'), 'utf8')).toBe(body);
    const sent = put.stderr.split('\n').filter((l) => l.startsWith('→'));
    expect(sent.length).toBeGreaterThanOrEqual(8); // 900 bytes + OSCORE overhead in 128-byte Outer blocks
    const usage = await coap('get', `${base}/outer.txt`, '--outer-block-size', '128');
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('--outer-block-size needs --oscore');
  });

  it('observe --oscore gets the first notification', async () => {
    const r = await coap('observe', `${base}/hello.txt`, '--count', '1', '--oscore', dirs.client);
    expect([r.code, r.stdout]).toEqual([0, 'hello through OSCORE\n']);
  });

  it('the wrong context fails with a clear error, never showing unauthenticated data', async () => {
    const wrong = join(root, 'wrong');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(wrong);
    writeFileSync(
      join(wrong, 'settings.json'),
      JSON.stringify({ 'sender-id_hex': '', 'recipient-id_hex': '01', secret_hex: '00'.repeat(16) }),
    );
    const r = await coap('get', `${base}/hello.txt`, '--oscore', wrong, '--timeout', '5');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    // an unprotected §8.2 error (Replay detected or Decryption failed, depending on the window)
    expect(r.stderr).toMatch(/response rejected by the security layer: .*peer answered 4\.0[01]/);
  });

  it('a missing or broken context directory is a usage error', async () => {
    const r = await coap('get', `${base}/hello.txt`, '--oscore', join(root, 'nope'));
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('settings.json');
    const group = await coap(
      'get',
      'coap://224.0.1.187/.well-known/core',
      '--group',
      '--oscore',
      dirs.client,
    );
    expect(group.code).toBe(64);
    expect(group.stderr).toContain('Group OSCORE is not supported');
  });

  it('after a server restart with the same directory our client recovers through Echo', async () => {
    await server.stop();
    server = serve([
      files,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--writable',
      '--oscore',
      dirs.server,
    ]);
    await server.ready();
    expect(server.stderr()).toContain('restarted: Echo recovery');
    const r = await coap('get', `${base}/hello.txt`, '--oscore', dirs.client, '-v');
    expect([r.code, r.stdout]).toEqual([0, 'hello through OSCORE']);
    // the trace shows outer messages: the challenged request (answered with a protected 4.01 + Echo,
    // outer 2.04 with the server's own Partial IV) and the retry carrying the Echo
    expect(r.stderr.split('\n').filter((l) => l.startsWith('→'))).toHaveLength(2);
  });
});
