/** Interop: node-dtls-client (PSK, DTLS 1.2) sends a CoAP GET to our coaps:// server (RFC 7252 §9.1.3.1). */
import { dtls } from 'node-dtls-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CoapEndpoint,
  Code,
  decodeMessage,
  encodeMessage,
  MessageType,
  OptionNumber,
} from '../../src/index.js';
import { DtlsServerTransport } from '../../src/node.js';

const KEY = new TextEncoder().encode('thimble-psk-0007');
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

describe('node-dtls-client -> our coaps:// server (PSK)', () => {
  for (const cipher of ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_GCM_SHA256'] as const) {
    it(`a CoAP GET over ${cipher} gets 2.05 and the handler sees the PSK identity`, async () => {
      const transport = await DtlsServerTransport.listen({
        address: '127.0.0.1',
        pskLookup: (id) => (id === 'node-client' ? KEY : undefined),
      });
      const server = new CoapEndpoint({ transport });
      cleanup.push(() => server.close());
      const identities: (string | undefined)[] = [];
      server.route('GET', '/hello', (req) => {
        identities.push(req.peer.identity);
        return { code: Code.Content, payload: 'hello node-dtls-client' };
      });
      const socket = dtls.createSocket({
        type: 'udp4',
        address: '127.0.0.1',
        port: transport.local.port,
        psk: { 'node-client': Buffer.from(KEY) },
        timeout: 5000,
        ciphers: [cipher],
      });
      const request = encodeMessage({
        type: MessageType.CON,
        code: Code.GET,
        messageId: 0x4242,
        token: Uint8Array.of(7, 7),
        options: [{ number: OptionNumber.UriPath, value: 'hello' }],
      });
      const answer = await new Promise<Uint8Array>((resolve, reject) => {
        socket.on('connected', () => socket.send(Buffer.from(request)));
        socket.on('message', (msg: Buffer) => resolve(new Uint8Array(msg)));
        socket.on('error', reject);
      });
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      const m = decodeMessage(answer);
      expect(m.type).toBe(MessageType.ACK);
      expect(m.code).toBe(Code.Content);
      expect(m.messageId).toBe(0x4242);
      expect(new TextDecoder().decode(m.payload)).toBe('hello node-dtls-client');
      expect(identities).toEqual(['node-client']);
    });
  }
});
