/** Interop with OpenSSL: ECDHE_ECDSA with X.509 certificates, both directions, with client certificates. */

import { freeUdpPort, requirePeers, startPeer } from '@thimble/test-support/peers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { utf8 } from '../../src/bytes.js';
import { DtlsError } from '../../src/errors.js';
import { connect, DtlsServer } from '../../src/node.js';
import { makePki } from '../keys.js';

vi.setConfig({ testTimeout: 20_000 });

const available = requirePeers('DTLS ECDSA interop with OpenSSL', ['openssl'], 'apt-get install openssl');
const SUITES: [string, string][] = [
  ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'ECDHE-ECDSA-AES128-CCM8'],
  ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
];

describe.skipIf(!available)('ECDHE_ECDSA + X.509 with openssl -dtls1_2', () => {
  const pki = available ? makePki() : undefined;
  let server: DtlsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  for (const [name, openssl] of SUITES) {
    it(`our client -> s_server (${name}, client certificate requested and verified)`, async () => {
      const p = pki!;
      const port = await freeUdpPort();
      const peer = startPeer('openssl', [
        's_server',
        '-dtls1_2',
        '-cert',
        p.file('server.pem'),
        '-key',
        p.file('server.key'),
        '-cipher',
        openssl,
        '-Verify',
        '1',
        '-CAfile',
        p.file('ca.pem'),
        '-accept',
        `127.0.0.1:${port}`,
      ]);
      await peer.waitFor('ACCEPT');
      const client = await connect({
        host: '127.0.0.1',
        port,
        ecdsa: p.client,
        trustAnchors: [p.caDer],
        timeoutMs: 8000,
      });
      expect(client.connection.cipherSuite?.name).toBe(name);
      expect(client.identity).toMatchObject({ kind: 'x509', subject: 'CN=thimble-server' });
      client.send(utf8('hello over ecdsa\n'));
      await peer.waitFor('hello over ecdsa');
      expect(peer.output()).toMatch(/subject=.*thimble-client/);
      await client.close();
      peer.stop();
    });

    it(`s_client -> our server (${name}, client certificate verified, subject exposed)`, async () => {
      const p = pki!;
      server = await DtlsServer.listen({ address: '127.0.0.1', ecdsa: p.server, trustAnchors: [p.caDer] });
      const identities: unknown[] = [];
      server.onData((d, peer) => {
        identities.push(peer.identity);
        server!.send(peer, d);
      });
      const peer = startPeer('openssl', [
        's_client',
        '-dtls1_2',
        '-cert',
        p.file('client.pem'),
        '-key',
        p.file('client.key'),
        '-CAfile',
        p.file('ca.pem'),
        '-verify_return_error',
        '-cipher',
        openssl,
        '-connect',
        `127.0.0.1:${server.local.port}`,
      ]);
      await peer.waitFor(`Cipher is ${openssl}`);
      expect(peer.output()).toContain('Verify return code: 0 (ok)');
      peer.write('ecdsa echo\n');
      await peer.waitFor('ecdsa echo');
      expect(identities[0]).toMatchObject({ kind: 'x509', subject: 'CN=thimble-client' });
      peer.stop();
    });
  }

  it('handshake fragmentation both ways (RFC 6347 §4.2.3): s_server -mtu 256 -> our client, s_client -mtu 256 -> our server (mtu 256; the OpenSSL minimum)', async () => {
    const p = pki!;
    const port = await freeUdpPort();
    const peer = startPeer('openssl', [
      's_server',
      '-dtls1_2',
      '-mtu',
      '256',
      '-cert',
      p.file('server.pem'),
      '-key',
      p.file('server.key'),
      '-Verify',
      '1',
      '-CAfile',
      p.file('ca.pem'),
      '-accept',
      `127.0.0.1:${port}`,
    ]);
    await peer.waitFor('ACCEPT');
    const client = await connect({
      host: '127.0.0.1',
      port,
      mtu: 256,
      ecdsa: p.client,
      trustAnchors: [p.caDer],
      timeoutMs: 8000,
    });
    client.send(utf8('fragmented handshake ok\n'));
    await peer.waitFor('fragmented handshake ok');
    await client.close();
    peer.stop();

    server = await DtlsServer.listen({
      address: '127.0.0.1',
      mtu: 256,
      ecdsa: p.server,
      trustAnchors: [p.caDer],
    });
    server.onData((d, from) => server!.send(from, d));
    const sizes: number[] = [];
    const c2 = startPeer('openssl', [
      // one suite keeps the ClientHello in one datagram: a stateless server cannot take a fragmented one
      's_client',
      '-dtls1_2',
      '-mtu',
      '256',
      '-msg',
      '-cipher',
      'ECDHE-ECDSA-AES128-CCM8',
      '-cert',
      p.file('client.pem'),
      '-key',
      p.file('client.key'),
      '-CAfile',
      p.file('ca.pem'),
      '-verify_return_error',
      '-connect',
      `127.0.0.1:${server.local.port}`,
    ]);
    await c2.waitFor('Verify return code: 0 (ok)');
    c2.write('echo through fragments\n');
    await c2.waitFor('echo through fragments'); // s_client prints only what it receives: our echo
    // OpenSSL 3.0's -msg shows each reassembled DTLS handshake message as "Not TLS data ... content_type=22)
    // [length N]": it received a message longer than our 256-byte datagrams (the Certificate) whole.
    for (const m of c2.output().matchAll(/<<< Not TLS data .*content_type=22\) \[length ([0-9a-f]+)\]/g)) {
      sizes.push(Number.parseInt(m[1]!, 16));
    }
    expect(Math.max(...sizes)).toBeGreaterThan(256);
    c2.stop();
  });

  it('our client rejects a server certificate from an unknown CA with bad-certificate', async () => {
    const p = pki!;
    const other = makePki();
    const port = await freeUdpPort();
    const peer = startPeer('openssl', [
      's_server',
      '-dtls1_2',
      '-cert',
      other.file('server.pem'),
      '-key',
      other.file('server.key'),
      '-accept',
      `127.0.0.1:${port}`,
    ]);
    await peer.waitFor('ACCEPT');
    const error = await connect({ host: '127.0.0.1', port, trustAnchors: [p.caDer], timeoutMs: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DtlsError);
    expect((error as DtlsError).reason).toBe('bad-certificate');
    peer.stop();
  });
});
