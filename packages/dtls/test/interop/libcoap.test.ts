/**
 * Interop with libcoap's DTLS (Debian libcoap3-bin, OpenSSL and GnuTLS builds), PSK: coap-client -> our
 * DtlsServer (with a minimal CoAP responder on top), and our client -> coap-server (RFC 7252 §9.1.3.1).
 */

import { freeUdpPort, requirePeers, startPeer } from '@thimble/test-support/peers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { utf8 } from '../../src/bytes.js';
import { connect, DtlsServer } from '../../src/node.js';

vi.setConfig({ testTimeout: 20_000 });

const clients = ['coap-client-openssl', 'coap-client-gnutls'];
const servers = ['coap-server-openssl', 'coap-server-gnutls'];
const available = requirePeers(
  'DTLS interop with libcoap',
  [...clients, ...servers],
  'apt-get install libcoap3-bin',
);
const KEY = 'thimble-psk-0003';

/** A CoAP piggybacked 2.05 response to any confirmable request (RFC 7252 §3, §5.2.1). */
function coapResponse(request: Uint8Array, payload: string): Uint8Array {
  const tkl = request[0]! & 0x0f;
  const body = utf8(payload);
  const out = new Uint8Array(4 + tkl + 1 + body.length);
  out[0] = 0x60 | tkl; // version 1, ACK
  out[1] = 0x45; // 2.05 Content
  out[2] = request[2]!;
  out[3] = request[3]!;
  out.set(request.subarray(4, 4 + tkl), 4);
  out[4 + tkl] = 0xff;
  out.set(body, 5 + tkl);
  return out;
}

describe.skipIf(!available)('libcoap coap-client (DTLS PSK) -> our DtlsServer', () => {
  let server: DtlsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  for (const client of clients) {
    it(`${client} gets a CoAP response through our DTLS server`, async () => {
      server = await DtlsServer.listen({
        address: '127.0.0.1',
        pskLookup: (id) => (id === 'libcoap' ? utf8(KEY) : undefined),
      });
      const identities: unknown[] = [];
      server.onData((d, peer) => {
        identities.push(peer.identity);
        server!.send(peer, coapResponse(d, 'hello from thimble dtls'));
      });
      const peer = startPeer(client, [
        '-m',
        'get',
        '-u',
        'libcoap',
        '-k',
        KEY,
        '-B',
        '10',
        `coaps://127.0.0.1:${server.local.port}/x`,
      ]);
      await peer.waitFor('hello from thimble dtls');
      expect(identities[0]).toEqual({ kind: 'psk', identity: 'libcoap' });
    });
  }
});

describe.skipIf(!available)('our DTLS client -> libcoap coap-server (DTLS PSK)', () => {
  for (const serverName of servers) {
    it(`GET /.well-known/core from ${serverName} over our DTLS session`, async () => {
      const port = await freeUdpPort();
      // coap-server listens for coap on -p and coaps on -p + 1
      const peer = startPeer(serverName, [
        '-A',
        '127.0.0.1',
        '-p',
        String(port - 1),
        '-k',
        KEY,
        '-h',
        'hint',
        '-v',
        '7',
      ]);
      await new Promise((r) => setTimeout(r, 300));
      let client: Awaited<ReturnType<typeof connect>> | undefined;
      for (let attempt = 0; attempt < 10 && client === undefined; attempt++) {
        client = await connect({
          host: '127.0.0.1',
          port,
          psk: { identity: 'thimble', key: utf8(KEY) },
          timeoutMs: 3000,
        }).catch(() => undefined);
      }
      expect(client, peer.output()).toBeDefined();
      const response = new Promise<Uint8Array>((resolve) => client!.onData(resolve));
      const path = utf8('.well-known');
      // CON GET, MID 0x1234, no token, Uri-Path ".well-known" / "core"
      client!.send(Uint8Array.of(0x40, 0x01, 0x12, 0x34, 0xb0 | path.length, ...path, 0x04, ...utf8('core')));
      const r = await response;
      expect(r[0]! & 0x30).toBe(0x20); // ACK
      expect(r[1]).toBe(0x45); // 2.05 Content
      expect(r[2]).toBe(0x12);
      expect(r[3]).toBe(0x34);
      await client!.close();
      peer.stop();
    });
  }
});
