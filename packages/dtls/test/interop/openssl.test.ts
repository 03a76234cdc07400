/**
 * Interop with OpenSSL's DTLS 1.2 (`openssl s_server` / `s_client -dtls1_2`): PSK suites both directions
 * (RFC 7252 §9.1.3.1 mandates TLS_PSK_WITH_AES_128_CCM_8).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delay, freeUdpPort, requirePeers, startPeer } from '@thimble/test-support/peers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toHex, utf8 } from '../../src/bytes.js';
import { DtlsError } from '../../src/errors.js';
import { connect, DtlsServer } from '../../src/node.js';

vi.setConfig({ testTimeout: 20_000 });

const available = requirePeers('DTLS interop with OpenSSL', ['openssl'], 'apt-get install openssl');
const KEY = utf8('thimble-psk-0001');
const IDENTITY = 'Client_identity';

const SUITES: [string, string][] = [
  ['TLS_PSK_WITH_AES_128_CCM_8', 'PSK-AES128-CCM8'],
  ['TLS_PSK_WITH_AES_128_GCM_SHA256', 'PSK-AES128-GCM-SHA256'],
  ['TLS_PSK_WITH_AES_128_CBC_SHA256', 'PSK-AES128-CBC-SHA256'],
  ['TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256', 'ECDHE-PSK-AES128-CBC-SHA256'],
];

describe.skipIf(!available)('our DTLS client -> openssl s_server -dtls1_2 (PSK)', () => {
  for (const [name, openssl] of SUITES) {
    it(`handshakes with ${name} and delivers data`, async () => {
      const port = await freeUdpPort();
      const server = startPeer('openssl', [
        's_server',
        '-dtls1_2',
        '-psk',
        toHex(KEY),
        '-cipher',
        openssl,
        '-nocert',
        '-accept',
        `127.0.0.1:${port}`,
      ]);
      await server.waitFor('ACCEPT');
      const client = await connect({
        host: '127.0.0.1',
        port,
        psk: { identity: IDENTITY, key: KEY },
        timeoutMs: 8000,
      });
      expect(client.connection.cipherSuite?.name).toBe(name);
      expect(client.connection.extendedMasterSecret).toBe(true);
      client.send(utf8(`hello ${name}\n`));
      await server.waitFor(`hello ${name}`);
      expect(server.output()).toContain(`CIPHER is ${openssl}`);
      const got = new Promise<string>((resolve) =>
        client.onData((d) => resolve(new TextDecoder().decode(d))),
      );
      server.write('reply from openssl\n');
      expect(await got).toContain('reply from openssl');
      await client.close();
      server.stop();
    });
  }

  it('a wrong key: OpenSSL drops our Finished silently, we report handshake-timeout within our timeout', async () => {
    const port = await freeUdpPort();
    const server = startPeer('openssl', [
      's_server',
      '-dtls1_2',
      '-psk',
      toHex(KEY),
      '-cipher',
      'PSK-AES128-CCM8',
      '-nocert',
      '-accept',
      `127.0.0.1:${port}`,
    ]);
    await server.waitFor('ACCEPT');
    const started = Date.now();
    const error = await connect({
      host: '127.0.0.1',
      port,
      psk: { identity: IDENTITY, key: utf8('wrong') },
      timeoutMs: 2500,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DtlsError);
    expect((error as DtlsError).reason).toBe('handshake-timeout');
    expect((error as DtlsError).message).toContain('wrong PSK');
    expect(Date.now() - started).toBeLessThan(6000);
    server.stop();
  });
});

describe.skipIf(!available)('openssl s_client -dtls1_2 -> our DtlsServer (PSK)', () => {
  let server: DtlsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  for (const [name, openssl] of SUITES) {
    it(`accepts ${name}, exposes the PSK identity and echoes data`, async () => {
      server = await DtlsServer.listen({
        address: '127.0.0.1',
        pskLookup: (id) => (id === IDENTITY ? KEY : undefined),
      });
      const identities: unknown[] = [];
      server.onData((d, peer) => {
        identities.push(peer.identity);
        server!.send(peer, d);
      });
      const client = startPeer('openssl', [
        's_client',
        '-dtls1_2',
        '-psk',
        toHex(KEY),
        '-psk_identity',
        IDENTITY,
        '-cipher',
        openssl,
        '-connect',
        `127.0.0.1:${server.local.port}`,
      ]);
      await client.waitFor(`Cipher is ${openssl}`);
      client.write(`echo ${name}\n`);
      await client.waitFor(`echo ${name}`); // s_client prints only what it receives: our echo
      expect(identities[0]).toEqual({ kind: 'psk', identity: IDENTITY });
      client.stop();
    });
  }

  it('resumes an s_client session (-sess_out / -sess_in) with an abbreviated handshake (RFC 5246 §7.3)', async () => {
    server = await DtlsServer.listen({
      address: '127.0.0.1',
      pskLookup: (id) => (id === IDENTITY ? KEY : undefined),
    });
    server.onData((d, peer) => server!.send(peer, d));
    const file = join(mkdtempSync(join(tmpdir(), 'thimble-dtls-sess-')), 'session.pem');
    const args = [
      's_client',
      '-dtls1_2',
      '-psk',
      toHex(KEY),
      '-psk_identity',
      IDENTITY,
      '-cipher',
      'PSK-AES128-CCM8',
      '-connect',
      `127.0.0.1:${server.local.port}`,
    ];
    const first = startPeer('openssl', [...args, '-sess_out', file]);
    first.write('one\n');
    await first.waitFor('one');
    first.write('Q\n'); // s_client: close the session (close_notify) and exit
    await new Promise((resolve) => first.process.once('exit', resolve));
    const second = startPeer('openssl', [...args, '-sess_in', file]);
    await second.waitFor('Reused, TLSv1.2, Cipher is PSK-AES128-CCM8');
    second.write('two\n');
    await second.waitFor('two');
    second.stop();
  });

  it('refuses renegotiation (RFC 5746 §4.4): s_client\'s "R" gets a no_renegotiation warning', async () => {
    server = await DtlsServer.listen({
      address: '127.0.0.1',
      pskLookup: (id) => (id === IDENTITY ? KEY : undefined),
    });
    server.onData((d, peer) => server!.send(peer, d));
    const client = startPeer('openssl', [
      's_client',
      '-dtls1_2',
      '-psk',
      toHex(KEY),
      '-psk_identity',
      IDENTITY,
      '-cipher',
      'PSK-AES128-CCM8',
      '-connect',
      `127.0.0.1:${server.local.port}`,
    ]);
    await client.waitFor('Cipher is PSK-AES128-CCM8');
    client.write('first\n');
    await client.waitFor('first');
    client.write('R\n');
    await client.waitFor('no renegotiation'); // OpenSSL reports our warning alert, then gives up the session
    expect(server.stats.handshakes).toBe(0);
  });

  it('a wrong key: s_client gets a decrypt_error alert, our server logs bad-psk', async () => {
    server = await DtlsServer.listen({
      address: '127.0.0.1',
      pskLookup: (id) => (id === IDENTITY ? KEY : undefined),
    });
    const logs: string[] = [];
    server.onLog((m) => logs.push(m));
    const client = startPeer('openssl', [
      's_client',
      '-dtls1_2',
      '-psk',
      toHex(utf8('not-the-key')),
      '-psk_identity',
      IDENTITY,
      '-cipher',
      'PSK-AES128-CCM8',
      '-connect',
      `127.0.0.1:${server.local.port}`,
    ]);
    await client.waitFor(/decrypt error|alert/i);
    for (let i = 0; i < 50 && logs.length === 0; i++) await delay(50);
    expect(logs.join('\n')).toContain('bad-psk');
    expect(server.stats.sessions).toBe(0);
    expect(server.stats.handshakes).toBe(0);
  });

  it('an unknown identity: s_client gets unknown_psk_identity, our server logs unknown-identity', async () => {
    server = await DtlsServer.listen({
      address: '127.0.0.1',
      pskLookup: (id) => (id === IDENTITY ? KEY : undefined),
    });
    const logs: string[] = [];
    server.onLog((m) => logs.push(m));
    const client = startPeer('openssl', [
      's_client',
      '-dtls1_2',
      '-psk',
      toHex(KEY),
      '-psk_identity',
      'nobody',
      '-cipher',
      'PSK-AES128-CCM8',
      '-connect',
      `127.0.0.1:${server.local.port}`,
    ]);
    await client.waitFor(/unknown psk identity|alert/i);
    for (let i = 0; i < 50 && logs.length === 0; i++) await delay(50);
    expect(logs.join('\n')).toContain('unknown-identity');
  });
});
