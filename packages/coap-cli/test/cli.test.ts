import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Code } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { captureIo, freeUdpPort } from '@thimble/test-support/peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, runCli, startFileServer } from '../src/main.js';

async function coap(args: string[], stdin?: string) {
  const c = captureIo();
  const io = stdin === undefined ? c.io : { ...c.io, stdin: Readable.from([Buffer.from(stdin)]) };
  const code = await runCli(args, io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

describe('coap command', () => {
  let server: RunningServer;
  let dir = '';
  let base = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-cli-'));
    writeFileSync(join(dir, 'a.json'), '{"a":1}');
    const port = await freeUdpPort();
    server = await startFileServer(dir, '127.0.0.1', port, { writable: true });
    base = `coap://127.0.0.1:${port}`;
  });
  afterAll(() => server.close());

  it('prints usage and exits 64 on usage errors', async () => {
    expect((await coap([])).code).toBe(64);
    const unknown = await coap(['frobnicate', base]);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('unknown command');
    expect(unknown.stderr).toContain('`coap --help` lists the options');
    expect((await coap(['get'])).code).toBe(64);
    expect((await coap(['get', `${base}/a.json`, '-A', 'application/nonsense'])).stderr).toContain(
      'unknown Content-Format',
    );
    expect((await coap(['get', 'coaps://127.0.0.1/x'])).stderr).toContain('--psk-identity');
    expect((await coap(['get', `${base}/x`, '--bogus'])).code).toBe(64);
    expect((await coap(['--help'])).code).toBe(0);
  });

  it('GET writes the payload to stdout and the Content-Format comes from the extension', async () => {
    const r = await coap(['get', `${base}/a.json`, '-v']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"a":1}');
    expect(r.stderr).toContain('Content-Format=50');
  });

  it('PUT from a file, from stdin and from -p; -o writes the response to a file', async () => {
    const src = join(dir, '..', `src-${process.pid}.txt`);
    writeFileSync(src, 'from file');
    expect((await coap(['put', `${base}/f.txt`, '-f', src])).code).toBe(0);
    expect(readFileSync(join(dir, 'f.txt'), 'utf8')).toBe('from file');
    expect((await coap(['put', `${base}/s.txt`, '-f', '-'], 'from stdin')).code).toBe(0);
    expect(readFileSync(join(dir, 's.txt'), 'utf8')).toBe('from stdin');
    const changed = await coap(['put', `${base}/s.txt`, '-p', 'again', '-v']);
    expect(changed.stderr).toContain('2.04 Changed');
    const out = join(dir, '..', `out-${process.pid}.txt`);
    expect((await coap(['get', `${base}/s.txt`, '-o', out])).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('again');
  });

  it('refuses paths that would leave the served directory', async () => {
    const r = await coap(['get', `${base}/%2E%2E/etc`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('4.04');
    const put = await coap(['put', `${base}/..`, '-p', 'x']);
    expect(put.code).toBe(1);
    expect(put.stderr).toContain('4.00');
  });

  it('DELETE removes a file; a second DELETE is 4.04', async () => {
    writeFileSync(join(dir, 'del.txt'), 'x');
    expect((await coap(['delete', `${base}/del.txt`])).code).toBe(0);
    const again = await coap(['delete', `${base}/del.txt`]);
    expect([again.code, again.stderr.trim()]).toEqual([1, '4.04 Not Found']);
  });

  it('discover prints one link per line', async () => {
    const r = await coap(['discover', base]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toContain('</a.json>;ct="50";obs');
  });

  it('discover with a query and no path filters /.well-known/core (RFC 6690 §4.1)', async () => {
    const ep = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const queries: (readonly string[])[] = [];
    ep.route('GET', '/', (req) => {
      queries.push(req.query);
      return { code: Code.Content, payload: 'root' };
    });
    ep.route('GET', '/t1', () => ({ code: Code.Content }), { link: { rt: 'Type1' } });
    ep.route('GET', '/t2', () => ({ code: Code.Content }), { link: { rt: 'Type2' } });
    try {
      const r = await coap(['discover', `coap://127.0.0.1:${ep.transport.local!.port}?rt=Type1`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(['</t1>;rt="Type1"']);
      expect(queries).toHaveLength(0);
    } finally {
      await ep.close();
    }
  });

  it('post with a Block1 body answered with Block2 prints the whole response (RFC 7959 §2.6, Figure 10)', async () => {
    const ep = await createUdpEndpoint({ address: '127.0.0.1', port: 0, blockSize: 64 });
    const answer = 'x'.repeat(1216) + 'the end of 1280 bytes, not 64'.padStart(64, '.');
    let calls = 0;
    let got = '';
    ep.route('POST', '/options', (req) => {
      calls++;
      got = req.text();
      return { code: Code.Changed, payload: answer };
    });
    try {
      const body = 'b'.repeat(300);
      const r = await coap([
        'post',
        `coap://127.0.0.1:${ep.transport.local!.port}/options`,
        '-p',
        body,
        '-b',
        '64',
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(1280);
      expect(r.stdout).toBe(answer);
      expect(got).toBe(body);
      expect(calls).toBe(1);
    } finally {
      await ep.close();
    }
  });

  it('discover of a resource that is not link format says so and exits 1 (no stack trace)', async () => {
    const r = await coap(['discover', `${base}/a.json`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a link-format response (Content-Format 50)');
    const ep = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    ep.route('GET', '/bad', () => ({ code: Code.Content, payload: '<unclosed', contentFormat: 40 }));
    try {
      const bad = await coap(['discover', `coap://127.0.0.1:${ep.transport.local!.port}/bad`]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^not a link-format response: /);
    } finally {
      await ep.close();
    }
  });

  it('a network failure exits 2 with a clear message within the timeout', async () => {
    const port = await freeUdpPort();
    const started = Date.now();
    const r = await coap(['get', `coap://127.0.0.1:${port}/x`, '--timeout', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/failed: (no response|the peer rejected)/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a NON request gets a NON response', async () => {
    const r = await coap(['get', `${base}/a.json`, '--non', '-v']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/← .* NON 2\.05 Content/);
  });

  it('the bin runs as a process', () => {
    const bin = fileURLToPath(new URL('../src/coap.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', bin, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('coap get|post|put|delete');
  });
});

describe('UDP transport', () => {
  it.each(['127.0.0.1', '::1'])('serves and requests over %s', async (host) => {
    const server = await createUdpEndpoint({ address: host, port: 0 });
    server.route('GET', '/x', () => ({ code: Code.Content, payload: 'ok' }));
    const client = await createUdpEndpoint({ address: host, port: 0 });
    const literal = host.includes(':') ? `[${host}]` : host;
    const r = await client.get(`coap://${literal}:${server.local.port}/x`);
    expect([r.code, r.text(), r.peer.address]).toEqual([Code.Content, 'ok', host]);
    await client.close();
    await server.close();
  });

  it('an endpoint closes cleanly and pending requests fail with "closed"', async () => {
    const client = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const port = await freeUdpPort();
    const p = client.get(`coap://127.0.0.1:${port}/x`).catch((e: unknown) => e);
    await client.close();
    expect(await p).toMatchObject({ reason: 'closed' });
  });
});

describe('coap command: input errors are one line with a documented exit code (issue 17)', {
  timeout: 60_000,
}, () => {
  const bin = fileURLToPath(new URL('../src/coap.ts', import.meta.url));
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', bin, ...args], { encoding: 'utf8', timeout: 30_000 });
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-cli-errors-'));
  });

  // each case runs as a process with a timeout: a hang fails the test (status null), not the suite
  it.each([
    [
      'an unknown Content-Format (checked before a socket is bound)',
      ['get', 'coap://127.0.0.1:9/x', '-A', 'foo/bar'],
      64,
      /unknown Content-Format "foo\/bar"/,
    ],
    ['a bad URI', ['get', 'coap://[::1/x'], 64, /bad URI/],
    ['an unknown scheme', ['get', 'http://example.com/x'], 64, /unsupported scheme/],
    ['an unknown option', ['get', 'coap://127.0.0.1:9/x', '--frobnicate'], 64, /frobnicate/],
    ['an unknown command', ['frobnicate'], 64, /unknown command "frobnicate"/],
    [
      '-f of a missing file',
      ['put', 'coap://127.0.0.1:9/x', '-f', '/nonexistent/thimble'],
      66,
      /-f \/nonexistent\/thimble: no such file/,
    ],
    [
      'serve of a missing directory',
      ['serve', '/nonexistent/thimble-typo', '--port', '0'],
      66,
      /serve \/nonexistent\/thimble-typo: no such file/,
    ],
  ])('%s', (_what, args, code, message) => {
    const r = run(args);
    expect(r.status).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('serve of a missing directory does not create it', () => {
    const missing = join(dir, 'typo');
    expect(run(['serve', missing, '--port', '0']).status).toBe(66);
    expect(existsSync(missing)).toBe(false);
  });

  it('serve on a port in use exits 69 with one line', async () => {
    const taken = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    try {
      const r = run(['serve', dir, '--host', '127.0.0.1', '--port', String(taken.local.port)]);
      expect(r.status).toBe(69);
      expect(r.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+: address already in use/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await taken.close();
    }
  });

  it('-o into a missing directory exits 73 (the response came)', async () => {
    writeFileSync(join(dir, 'x.txt'), 'x');
    const port = await freeUdpPort();
    const server = await startFileServer(dir, '127.0.0.1', port);
    try {
      const c = captureIo();
      const code = await runCli(['get', `coap://127.0.0.1:${port}/x.txt`, '-o', '/nonexistent/out'], c.io);
      expect(code).toBe(73);
      expect(c.stderr()).toMatch(/^coap: -o \/nonexistent\/out: no such file or directory\n$/);
    } finally {
      await server.close();
    }
  });

  it('per-command --help, and --version (the version of package.json)', () => {
    const help = run(['get', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Request options:');
    expect(help.stdout).toContain('Exit codes:');
    const serveHelp = run(['serve', '-h']);
    expect(serveHelp.status).toBe(0);
    expect(serveHelp.stdout).toContain('Serve options:');
    expect(serveHelp.stdout).not.toContain('Request options:');
    const version = run(['--version']);
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(version.status).toBe(0);
    expect(version.stdout).toBe(`coap ${manifest.version}\n`);
  });

  it('aborting (SIGINT / SIGTERM) stops a one-shot request: exit 130', async () => {
    const port = await freeUdpPort();
    const silent = createSocket('udp4'); // receives the request and never answers
    await new Promise<void>((done) => silent.bind(port, '127.0.0.1', done));
    try {
      const controller = new AbortController();
      silent.once('message', () => controller.abort());
      const c = captureIo();
      const code = await runCli(['get', `coap://127.0.0.1:${port}/x`], c.io, controller.signal);
      expect(code).toBe(130);
      expect(c.stderr()).toBe(`coap: GET coap://127.0.0.1:${port}/x interrupted\n`);
    } finally {
      silent.close();
    }
  });
});
