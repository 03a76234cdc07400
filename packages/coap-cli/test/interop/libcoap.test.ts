/**
 * Interop with libcoap 4.3.1 (Debian libcoap3-bin): our client against coap-server-notls and
 * coap-server-openssl (DTLS PSK), libcoap's coap-client-notls against our `coap serve`.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLinkFormat } from '@thimble/coap-core';
import {
  captureIo,
  freeUdpPort,
  requirePeers,
  runPeer,
  startPeer,
  waitForCoap,
} from '@thimble/test-support/peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, runCli, startFileServer } from '../../src/main.js';

const available = requirePeers(
  'libcoap interop',
  ['coap-server-notls', 'coap-client-notls', 'coap-server-openssl'],
  'apt-get install libcoap3-bin',
);

async function coap(...args: string[]) {
  const c = captureIo();
  const code = await runCli(args, c.io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

describe.skipIf(!available)('our coap client against libcoap coap-server-notls', () => {
  let base = '';
  beforeAll(async () => {
    const port = await freeUdpPort();
    startPeer('coap-server-notls', ['-A', '127.0.0.1', '-p', String(port), '-d', '10', '-v', '0']);
    await waitForCoap(port);
    base = `coap://127.0.0.1:${port}`;
  });

  it("GET / (CON) returns libcoap's banner", async () => {
    const r = await coap('get', `${base}/`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('libcoap');
  });

  it('GET /time as NON', async () => {
    const r = await coap('get', `${base}/time`, '--non');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\d\d:\d\d:\d\d/);
  });

  it('PUT creates a resource, GET reads it back, DELETE removes it', async () => {
    const put = await coap('put', `${base}/dynamic`, '-p', 'hello from thimble', '-t', 'text/plain');
    expect(put.code).toBe(0);
    const get = await coap('get', `${base}/dynamic`);
    expect([get.code, get.stdout]).toEqual([0, 'hello from thimble']);
    const del = await coap('delete', `${base}/dynamic`);
    expect(del.code).toBe(0);
    const gone = await coap('get', `${base}/dynamic`);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('4.04 Not Found');
  });

  it('POST creates a resource (2.01)', async () => {
    const post = await coap('post', `${base}/posted`, '-p', 'x', '-v');
    expect(post.code).toBe(0);
    expect(post.stderr).toContain('2.01 Created');
  });

  it("discover lists libcoap's resources", async () => {
    const r = await coap('discover', base);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.some((l) => l.startsWith('</time>') && l.includes(';obs'))).toBe(true);
    expect(lines.some((l) => l.startsWith('</example_data>'))).toBe(true);
  });

  it('a 4.05 from libcoap exits non-zero with the code on stderr', async () => {
    const r = await coap('post', `${base}/`, '-p', 'x');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('4.05 Method Not Allowed');
  });
});

describe.skipIf(!available)('libcoap coap-client-notls against our coap serve', () => {
  let server: RunningServer;
  let base = '';
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-serve-'));
    writeFileSync(join(dir, 'hello.txt'), 'file served by thimble');
    const port = await freeUdpPort();
    server = await startFileServer(dir, '127.0.0.1', port, { writable: true });
    base = `coap://127.0.0.1:${port}`;
  });
  afterAll(() => server?.close());

  it('GET returns the file', async () => {
    const r = await runPeer('coap-client-notls', [`${base}/hello.txt`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('file served by thimble');
  });

  it('PUT then GET back', async () => {
    const upload = join(dir, '..', `upload-${process.pid}.bin`);
    const content = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 13) & 0xff));
    writeFileSync(upload, content);
    const put = await runPeer('coap-client-notls', ['-m', 'put', '-f', upload, `${base}/sub/data.bin`]);
    expect(put.code).toBe(0);
    expect(readFileSync(join(dir, 'sub', 'data.bin'))).toEqual(content);
    const out = join(dir, '..', `download-${process.pid}.bin`);
    const get = await runPeer('coap-client-notls', ['-o', out, `${base}/sub/data.bin`]);
    expect(get.code).toBe(0);
    expect(readFileSync(out)).toEqual(content);
  });

  it('DELETE removes the file', async () => {
    writeFileSync(join(dir, 'gone.txt'), 'x');
    const del = await runPeer('coap-client-notls', ['-m', 'delete', `${base}/gone.txt`]);
    expect(del.code).toBe(0);
    const get = await runPeer('coap-client-notls', [`${base}/gone.txt`]);
    expect(get.stdout + get.stderr).toContain('4.04');
  });

  it('discover (GET /.well-known/core) lists the files', async () => {
    const r = await runPeer('coap-client-notls', [`${base}/.well-known/core`]);
    expect(r.code).toBe(0);
    const targets = parseLinkFormat(r.stdout.trim()).map((l) => l.target);
    expect(targets).toContain('/hello.txt');
  });

  it('with the amplification limit on, libcoap gets the whole file: cut to blocks within 3× or challenged (RFC 9175 §2.4, RFC 7959 §2.4)', async () => {
    writeFileSync(join(dir, 'large.txt'), 'A'.repeat(900));
    const before = server.endpoint.amplificationCuts + server.endpoint.amplificationChallenges;
    const r = await runPeer('coap-client-notls', [`${base}/large.txt`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('A'.repeat(900));
    expect(server.endpoint.amplificationCuts + server.endpoint.amplificationChallenges).toBeGreaterThan(
      before,
    );
  });

  it('NON GET works too', async () => {
    const r = await runPeer('coap-client-notls', ['-N', `${base}/hello.txt`]);
    expect(r.stdout.trim()).toBe('file served by thimble');
  });
});

describe.skipIf(!available)('our DTLS client against libcoap coap-server-openssl (PSK)', () => {
  let base = '';
  const key = Buffer.from('thimble-secret').toString('hex');
  beforeAll(async () => {
    const port = await freeUdpPort(true);
    startPeer('coap-server-openssl', [
      '-A',
      '127.0.0.1',
      '-p',
      String(port),
      '-k',
      'thimble-secret',
      '-h',
      '',
      '-v',
      '0',
    ]);
    await waitForCoap(port);
    base = `coaps://127.0.0.1:${port + 1}`; // libcoap listens for DTLS on port + 1
  });

  it('GET succeeds with the right key', async () => {
    const r = await coap('get', `${base}/`, '--psk-identity', 'thimble', '--psk-key', key);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('libcoap');
  });

  it('a wrong key fails cleanly with a non-zero exit within the timeout', async () => {
    const started = Date.now();
    const r = await coap(
      'get',
      `${base}/`,
      '--psk-identity',
      'thimble',
      '--psk-key',
      '00112233',
      '--timeout',
      '3',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/failed/);
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});

describe.skipIf(!available)('Observe and Block-wise with libcoap (RFC 7641, RFC 7959)', () => {
  let libcoapBase = '';
  let server: RunningServer;
  let ourBase = '';
  let dir = '';
  const mib = Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7 + (i >> 10)) & 0xff));
  beforeAll(async () => {
    const port = await freeUdpPort();
    startPeer('coap-server-notls', ['-A', '127.0.0.1', '-p', String(port), '-d', '10', '-v', '0']);
    await waitForCoap(port);
    libcoapBase = `coap://127.0.0.1:${port}`;
    dir = mkdtempSync(join(tmpdir(), 'thimble-blocks-'));
    const ours = await freeUdpPort();
    server = await startFileServer(dir, '127.0.0.1', ours, { writable: true });
    ourBase = `coap://127.0.0.1:${ours}`;
  });
  afterAll(() => server?.close());

  it('our client observes /time on coap-server-notls, gets 3 notifications, then cancels', async () => {
    const r = await coap('observe', `${libcoapBase}/time`, '--count', '3', '--timeout', '10');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(3);
    for (const l of lines) expect(l).toMatch(/\d\d:\d\d:\d\d/);
    expect(new Set(lines).size).toBe(3);
  });

  it('coap-client-notls -s observes a file on our coap serve and sees the rewrite', async () => {
    const file = join(dir, 'watched.txt');
    writeFileSync(file, 'first version');
    const client = runPeer('coap-client-notls', ['-s', '4', `${ourBase}/watched.txt`], 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(file, 'second version');
    const r = await client;
    expect(r.stdout).toContain('first version');
    expect(r.stdout).toContain('second version');
    expect(r.stdout.indexOf('first version')).toBeLessThan(r.stdout.indexOf('second version'));
  });

  it('coap-client-notls -b 1024 uploads 1 MiB to our coap serve; -b 64 downloads it back byte-exact', async () => {
    const src = join(dir, '..', `mib-${process.pid}.bin`);
    writeFileSync(src, mib);
    const put = await runPeer(
      'coap-client-notls',
      ['-b', '1024', '-m', 'put', '-f', src, `${ourBase}/mib.bin`],
      60_000,
    );
    expect(put.code).toBe(0);
    expect(Buffer.compare(readFileSync(join(dir, 'mib.bin')), mib)).toBe(0);
    const out = join(dir, '..', `mib-back-${process.pid}.bin`);
    const get = await runPeer('coap-client-notls', ['-b', '64', '-o', out, `${ourBase}/mib.bin`], 120_000);
    expect(get.code).toBe(0);
    expect(Buffer.compare(readFileSync(out), mib)).toBe(0);
  }, 180_000);

  it('our client uploads 1 MiB to coap-server-notls -d with Block1 and downloads it with Block2', async () => {
    const src = join(dir, '..', `mib-up-${process.pid}.bin`);
    writeFileSync(src, mib);
    const put = await coap('put', `${libcoapBase}/upload`, '-f', src);
    expect(put.code).toBe(0);
    const out = join(dir, '..', `mib-down-${process.pid}.bin`);
    const get = await coap('get', `${libcoapBase}/upload`, '-o', out);
    expect(get.code).toBe(0);
    expect(Buffer.compare(readFileSync(out), mib)).toBe(0);
    expect(get.stderr).toContain('downloaded 1048576 of 1048576 bytes (100%)');
  }, 60_000);
});
