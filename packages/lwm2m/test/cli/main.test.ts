import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CoapEndpoint, Code, fromHex } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { deriveContext, oscoreServer } from '@thimble/oscore';
import { nodeCrypto } from '@thimble/oscore/node';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

function capture() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (err += d) } },
    out: () => out,
    err: () => err,
  };
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('lwm2m client command', () => {
  let server: CoapEndpoint | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('prints usage and rejects bad arguments with exit code 2', async () => {
    const help = capture();
    expect(await main(['--help'], help.io)).toBe(0);
    expect(help.out()).toContain('lwm2m client --endpoint NAME --server coap://HOST:PORT');
    const none = capture();
    expect(await main(['client'], none.io)).toBe(2);
    expect(none.err()).toContain('--endpoint and --server are required');
    const scheme = capture();
    expect(await main(['client', '-e', 'x', '-s', 'http://127.0.0.1:1'], scheme.io)).toBe(2);
    const version = capture();
    expect(await main(['client', '-e', 'x', '-s', 'coap://127.0.0.1:1', '--lwm2m', '2.0'], version.io)).toBe(
      2,
    );
    const unknown = capture();
    expect(await main(['bogus'], unknown.io)).toBe(2);
  });

  it('registers the example device, logs what it serves and de-registers when stopped', async () => {
    const requests: string[] = [];
    server = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    let registeredQuery: readonly string[] = [];
    let links = '';
    server.route('POST', '/rd', (req) => {
      registeredQuery = req.query;
      links = req.text();
      requests.push('register');
      return {
        code: Code.Created,
        options: [
          { number: 8, value: 'rd' },
          { number: 8, value: 'x1' },
        ],
      };
    });
    server.route(['POST', 'DELETE'], '/rd/x1', (req) => {
      requests.push(req.method === Code.DELETE ? 'deregister' : 'update');
      return { code: req.method === Code.DELETE ? Code.Deleted : Code.Changed };
    });
    const port = server.transport.local.port;
    const io = capture();
    const stop = new AbortController();
    const run = main(
      ['client', '-e', 'cli-test', '-s', `coap://127.0.0.1:${port}`, '--host', '127.0.0.1', '-l', '60'],
      io.io,
      stop.signal,
    );
    await waitFor(() => requests.includes('register'));
    expect(registeredQuery).toEqual(['ep=cli-test', 'lt=60', 'lwm2m=1.1', 'b=U']);
    expect(links).toContain('</3>;ver=1.1');
    expect(links).toContain('</3303/0>');
    await waitFor(() => io.out().includes('registered at /rd/x1'));
    // the device answers a Read from the server and logs it
    const clientPort = Number(/on 127\.0\.0\.1:(\d+)/.exec(io.out())![1]);
    const res = await server.get(`coap://127.0.0.1:${clientPort}/3/0/0`, { accept: 0 });
    expect(res.text()).toBe('Thimble');
    await waitFor(() => io.out().includes('Read /3/0/0 -> 2.05'));
    stop.abort();
    expect(await run).toBe(0);
    expect(requests).toContain('deregister');
    expect(io.out()).toContain('de-registered');
  });
});

describe('lwm2m client security and state flags', () => {
  let dir: string | undefined;
  let server: CoapEndpoint | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('checks --psk-identity / --psk-key against coaps:// and --oscore against coap://', async () => {
    const run = async (...args: string[]) => {
      const c = capture();
      const code = await main(['client', '-e', 'x', ...args], c.io);
      return { code, err: c.err() };
    };
    expect((await run('-s', 'coaps://127.0.0.1:1')).err).toContain(
      'coaps:// needs --psk-identity and --psk-key',
    );
    expect((await run('-s', 'coap://127.0.0.1:1', '--psk-identity', 'a', '--psk-key', '00')).code).toBe(2);
    expect((await run('-s', 'coaps://127.0.0.1:1', '--psk-identity', 'a', '--psk-key', 'xyz')).err).toContain(
      '--psk-key must be hex',
    );
    expect(
      (await run('-s', 'coaps://127.0.0.1:1', '--psk-identity', 'a', '--psk-key', '00', '--oscore', 'c.json'))
        .err,
    ).toContain('--oscore needs a coap:// server');
    expect((await run('-s', 'coap://127.0.0.1:1', '--oscore', '/nonexistent/ctx.json')).err).toContain(
      '--oscore /nonexistent/ctx.json',
    );
  });

  it('--oscore: registers through OSCORE with the context file, and --state-dir keeps the accounts', async () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-cli-'));
    const ctxFile = join(dir, 'ctx.json');
    writeFileSync(
      ctxFile,
      JSON.stringify({
        'sender-id_hex': '02',
        'recipient-id_hex': '01',
        secret_hex: '0102030405060708090a0b0c0d0e0f10',
        salt_hex: '9e7ca92223786340',
      }),
    );
    const serverCtx = deriveContext({
      masterSecret: fromHex('0102030405060708090a0b0c0d0e0f10'),
      masterSalt: fromHex('9e7ca92223786340'),
      senderId: fromHex('01'),
      recipientId: fromHex('02'),
      crypto: nodeCrypto,
    });
    server = await createUdpEndpoint({
      address: '127.0.0.1',
      port: 0,
      serverSecurity: oscoreServer([serverCtx]),
    });
    const seen: string[] = [];
    server.route('POST', '/rd', (req) => {
      seen.push(`${req.security?.kind ?? 'plain'} ${req.queryParam('ep')}`);
      return {
        code: Code.Created,
        options: [
          { number: 8, value: 'rd' },
          { number: 8, value: 'o1' },
        ],
      };
    });
    server.route(['POST', 'DELETE'], '/rd/o1', (req) => {
      seen.push(`${req.security?.kind ?? 'plain'} ${req.method === Code.DELETE ? 'deregister' : 'update'}`);
      return { code: req.method === Code.DELETE ? Code.Deleted : Code.Changed };
    });
    const port = server.transport.local.port;
    const io = capture();
    const stop = new AbortController();
    const stateDir = join(dir, 'state');
    const run = main(
      [
        'client',
        '-e',
        'cli-oscore',
        '-s',
        `coap://127.0.0.1:${port}`,
        '--host',
        '127.0.0.1',
        '--oscore',
        ctxFile,
        '--state-dir',
        stateDir,
      ],
      io.io,
      stop.signal,
    );
    await waitFor(() => io.out().includes('registered at /rd/o1'));
    expect(seen).toEqual(['oscore cli-oscore']);
    stop.abort();
    expect(await run).toBe(0);
    expect(seen).toContain('oscore deregister');
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
    expect(state.objects.map((o: { objectId: number }) => o.objectId)).toEqual([0, 1, 21]);
    // the sender sequence number was reserved on disk before use
    expect(readdirSync(stateDir).some((f) => f.startsWith('oscore-'))).toBe(true);
  });
});
