/** Interop: node-dtls-client (a PSK-only DTLS 1.2 client, coap-core's current coaps transport) -> our DtlsServer. */
import { dtls } from 'node-dtls-client';
import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../src/bytes.js';
import { DtlsServer } from '../../src/node.js';

const KEY = utf8('thimble-psk-0002');

describe('node-dtls-client -> our DtlsServer (RFC 6347, PSK)', () => {
  let server: DtlsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  for (const cipher of [
    'TLS_PSK_WITH_AES_128_CCM_8',
    'TLS_PSK_WITH_AES_128_GCM_SHA256',
    'TLS_PSK_WITH_AES_128_CBC_SHA256',
  ] as const) {
    it(`handshakes with ${cipher} and echoes a datagram`, async () => {
      server = await DtlsServer.listen({
        address: '127.0.0.1',
        pskLookup: (id) => (id === 'node-client' ? KEY : undefined),
      });
      const identities: unknown[] = [];
      server.onData((d, peer) => {
        identities.push(peer.identity);
        server!.send(peer, d);
      });
      const socket = dtls.createSocket({
        type: 'udp4',
        address: '127.0.0.1',
        port: server.local.port,
        psk: { 'node-client': Buffer.from(KEY) },
        timeout: 5000,
        ciphers: [cipher],
      });
      const echoed = await new Promise<string>((resolve, reject) => {
        socket.on('connected', () => socket.send(Buffer.from(`via ${cipher}`)));
        socket.on('message', (msg: Buffer) => resolve(msg.toString()));
        socket.on('error', reject);
      });
      expect(echoed).toBe(`via ${cipher}`);
      expect(identities[0]).toEqual({ kind: 'psk', identity: 'node-client' });
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    });
  }
});
