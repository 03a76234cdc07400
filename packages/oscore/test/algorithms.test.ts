import { Code, decodeMessage, encodeMessage, MessageType, toHex } from '@thimble/coap-core';
import { describe, expect, it } from 'vitest';
import {
  AEAD_ALGORITHMS,
  aeadAlgorithm,
  contextLookup,
  deriveContext,
  maxIdLength,
  OscoreError,
  protectRequest,
  protectResponse,
  unprotectRequest,
  unprotectResponse,
} from '../src/index.js';
import { nodeCrypto } from '../src/node.js';

const secret = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);

describe('algorithm table (RFC 8613 §3.1, RFC 9053)', () => {
  it('looks algorithms up by COSE id and name', () => {
    expect(aeadAlgorithm(10)?.name).toBe('AES-CCM-16-64-128');
    expect(aeadAlgorithm('aes-ccm-16-64-128')?.id).toBe(10);
    expect(aeadAlgorithm(99)).toBeUndefined();
  });

  for (const algorithm of AEAD_ALGORITHMS) {
    it(`${algorithm.name}: keys of ${algorithm.keyLength} bytes, IDs up to ${maxIdLength(algorithm)} bytes (§3.3), round trip`, () => {
      const longId = new Uint8Array(maxIdLength(algorithm)).fill(7);
      const client = deriveContext({
        masterSecret: secret,
        senderId: longId,
        recipientId: Uint8Array.of(1),
        algorithm,
        crypto: nodeCrypto,
      });
      const server = deriveContext({
        masterSecret: secret,
        senderId: Uint8Array.of(1),
        recipientId: longId,
        algorithm: algorithm.id,
        crypto: nodeCrypto,
      });
      expect(client.senderKey.length).toBe(algorithm.keyLength);
      expect(client.commonIv.length).toBe(algorithm.nonceLength);
      expect(toHex(client.senderKey)).toBe(toHex(server.recipientKey));
      const sent = protectRequest(client, { type: MessageType.CON, code: Code.GET, messageId: 1 });
      expect(sent.message.payload!.length).toBe(1 + algorithm.tagLength);
      const got = unprotectRequest(contextLookup([server]), decodeMessage(encodeMessage(sent.message)));
      const outer = protectResponse(server, got.binding, {
        type: MessageType.ACK,
        code: Code.Content,
        messageId: 1,
      });
      expect(unprotectResponse(client, sent.binding, decodeMessage(encodeMessage(outer))).code).toBe(
        Code.Content,
      );
      expect(() =>
        deriveContext({
          masterSecret: secret,
          senderId: new Uint8Array(maxIdLength(algorithm) + 1),
          recipientId: Uint8Array.of(1),
          algorithm,
          crypto: nodeCrypto,
        }),
      ).toThrow(OscoreError);
    });
  }

  it('rejects invalid context parameters with invalid-context (§3.3)', () => {
    const bad = [
      { senderId: Uint8Array.of(1), recipientId: Uint8Array.of(1) }, // equal IDs
      { masterSecret: new Uint8Array(0) },
      { algorithm: 'nope' },
      { replayWindow: 0 },
      { sequenceBlock: 0 },
      { kdf: 'HKDF-SHA-512' },
    ];
    for (const override of bad) {
      let reason: string | undefined;
      try {
        deriveContext({
          masterSecret: secret,
          senderId: Uint8Array.of(0),
          recipientId: Uint8Array.of(1),
          crypto: nodeCrypto,
          ...(override as object),
        });
      } catch (e) {
        reason = (e as OscoreError).reason;
      }
      expect(reason, JSON.stringify(override)).toBe('invalid-context');
    }
  });
});
