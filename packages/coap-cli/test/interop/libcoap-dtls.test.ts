/**
 * coaps:// interop with libcoap 4.3.1 (Debian libcoap3-bin, OpenSSL and GnuTLS builds), RFC 7252 §9.1:
 * libcoap's coap-client with a PSK against `coap serve --dtls-port`; our `coap` client against
 * coap-server with a PSK (§9.1.3.1) and with certificates (§9.1.3.3).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo, freeUdpPort, requirePeers, runPeer, startPeer } from '@thimble/test-support/peers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// test-only keys and certificates made with the openssl CLI (the dtls package's test helper)
import { makePki } from '../../../dtls/test/keys.js';
import { dtlsCredentials } from '../../src/dtls.js';
import { type RunningServer, runCli, startFileServer } from '../../src/main.js';

vi.setConfig({ testTimeout: 30_000 });

const clients = ['coap-client-openssl', 'coap-client-gnutls'];
const servers = ['coap-server-openssl', 'coap-server-gnutls'];
const available = requirePeers(
  'coaps:// interop with libcoap',
  [...clients, ...servers],
  'apt-get install libcoap3-bin',
);
const KEY = 'thimble-psk-0005';

async function coap(...args: string[]) {
  const c = captureIo();
  const code = await runCli(args, c.io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

describe.skipIf(!available)('libcoap coap-client (DTLS PSK) -> coap serve --dtls-port', () => {
  let server: RunningServer;
  let port = 0;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-serve-dtls-'));
    writeFileSync(join(dir, 'hello.txt'), 'hello over coaps');
    server = await startFileServer(dir, '127.0.0.1', 0, {
      writable: true, // the PUT below (coap serve is read-only unless --writable)
      dtls: {
        port: 0,
        credentials: dtlsCredentials({ 'psk-identity': 'libcoap', 'psk-text': KEY })!,
      },
    });
    port = server.dtlsEndpoint!.local.port;
  });
  afterAll(async () => server?.close());

  for (const client of clients) {
    it(`${client} GETs a file and PUTs one over DTLS`, async () => {
      const get = await runPeer(client, [
        '-m',
        'get',
        '-u',
        'libcoap',
        '-k',
        KEY,
        '-B',
        '10',
        `coaps://127.0.0.1:${port}/hello.txt`,
      ]);
      expect(get.stdout, get.stderr).toContain('hello over coaps');
      const put = await runPeer(client, [
        '-m',
        'put',
        '-u',
        'libcoap',
        '-k',
        KEY,
        '-e',
        `written by ${client}`,
        '-B',
        '10',
        `coaps://127.0.0.1:${port}/${client}.txt`,
      ]);
      expect(put.code, put.stderr).toBe(0);
      const back = await coap(
        'get',
        `coaps://127.0.0.1:${port}/${client}.txt`,
        '--psk-identity',
        'libcoap',
        '--psk-text',
        KEY,
      );
      expect([back.code, back.stdout], back.stderr).toEqual([0, `written by ${client}`]);
    });

    it(`${client} with a wrong key gets no answer`, async () => {
      const r = await runPeer(client, [
        '-m',
        'get',
        '-u',
        'libcoap',
        '-k',
        'not-the-key',
        '-B',
        '3',
        `coaps://127.0.0.1:${port}/hello.txt`,
      ]);
      expect(r.stdout).not.toContain('hello over coaps');
    });
  }
});

describe.skipIf(!available)('coap client -> libcoap coap-server over DTLS', () => {
  const pki = available ? makePki() : undefined;

  async function libcoapServer(name: string, args: string[]): Promise<number> {
    const port = await freeUdpPort(true);
    // coap-server listens for coap on -p and coaps on -p + 1
    startPeer(name, ['-A', '127.0.0.1', '-p', String(port - 1), '-v', '0', ...args]);
    await new Promise((r) => setTimeout(r, 400));
    return port;
  }

  for (const name of servers) {
    it(`PSK (--psk-text): GET / from ${name} returns its banner`, async () => {
      const port = await libcoapServer(name, ['-k', KEY]);
      let r = await coap(
        'get',
        `coaps://127.0.0.1:${port}/`,
        '--psk-identity',
        'thimble',
        '--psk-text',
        KEY,
        '--timeout',
        '5',
      );
      if (r.code !== 0)
        r = await coap(
          'get',
          `coaps://127.0.0.1:${port}/`,
          '--psk-identity',
          'thimble',
          '--psk-text',
          KEY,
          '--timeout',
          '5',
        );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('libcoap');
    });

    it(`PSK (--psk-key hex): PUT then GET on ${name}`, async () => {
      const port = await libcoapServer(name, ['-k', KEY, '-d', '10']);
      const hex = Buffer.from(KEY).toString('hex');
      const base = ['--psk-identity', 'thimble', '--psk-key', hex, '--timeout', '5'];
      let put = await coap('put', `coaps://127.0.0.1:${port}/thimble`, '-p', 'stored over dtls', ...base);
      if (put.code !== 0)
        put = await coap('put', `coaps://127.0.0.1:${port}/thimble`, '-p', 'stored over dtls', ...base);
      expect(put.code, put.stderr).toBe(0);
      const get = await coap('get', `coaps://127.0.0.1:${port}/thimble`, ...base);
      expect([get.code, get.stdout]).toEqual([0, 'stored over dtls']);
    });

    it(`certificates (--cert/--key/--ca): GET / from ${name} (RFC 7252 §9.1.3.3)`, async () => {
      const p = pki!;
      const port = await libcoapServer(name, [
        '-c',
        p.file('server.pem'),
        '-j',
        p.file('server.key'),
        '-C',
        p.file('ca.pem'),
        '-n',
      ]);
      const args = [
        '--cert',
        p.file('client.pem'),
        '--key',
        p.file('client.key'),
        '--ca',
        p.file('ca.pem'),
        '--timeout',
        '5',
      ];
      let r = await coap('get', `coaps://127.0.0.1:${port}/`, ...args);
      if (r.code !== 0) r = await coap('get', `coaps://127.0.0.1:${port}/`, ...args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('libcoap');
    });
  }

  it('a certificate from an untrusted CA is refused with a DTLS error', async () => {
    const p = pki!;
    const other = makePki();
    const port = await libcoapServer('coap-server-openssl', [
      '-c',
      p.file('server.pem'),
      '-j',
      p.file('server.key'),
      '-n',
    ]);
    const r = await coap(
      'get',
      `coaps://127.0.0.1:${port}/`,
      '--cert',
      other.file('client.pem'),
      '--key',
      other.file('client.key'),
      '--ca',
      other.file('ca.pem'),
      '--timeout',
      '5',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DTLS/);
  });
});
