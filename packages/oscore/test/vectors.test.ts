import { type CoapMessageInit, decodeMessage, encodeMessage, fromHex, toHex } from '@thimble/coap-core';
import { describe, expect, it } from 'vitest';
import {
  buildAad,
  buildAadArray,
  decodeOscoreOption,
  encodePartialIv,
  hkdfInfo,
  protectRequest,
  protectResponse,
  type RequestBinding,
  unprotectRequest,
  unprotectResponse,
} from '../src/index.js';
import { contextOf, keyVectors, messageVectors } from './helpers.js';

function plain(m: CoapMessageInit): object {
  return {
    type: m.type,
    code: m.code,
    messageId: m.messageId,
    token: toHex(m.token ?? new Uint8Array(0)),
    options: (m.options ?? []).map((o) => ({
      number: o.number,
      value: typeof o.value === 'string' ? toHex(new TextEncoder().encode(o.value)) : o.value,
    })),
    payload: toHex(m.payload ?? new Uint8Array(0)),
  };
}

/** Normalises a message to its wire bytes (so options given as strings/numbers compare equal). */
function wire(m: CoapMessageInit): string {
  return toHex(encodeMessage(m));
}

describe('RFC 8613 Appendix C.1–C.3: key derivation', () => {
  for (const v of keyVectors) {
    it(`${v.source}: info (§3.2.1), keys, Common IV and nonces (§5.2)`, () => {
      const idContext = v.idContext === null ? undefined : fromHex(v.idContext);
      expect(toHex(hkdfInfo(fromHex(v.senderId), idContext, 10, 'Key', 16))).toBe(v.infoSenderKey);
      expect(toHex(hkdfInfo(fromHex(v.recipientId), idContext, 10, 'Key', 16))).toBe(v.infoRecipientKey);
      expect(toHex(hkdfInfo(new Uint8Array(0), idContext, 10, 'IV', 13))).toBe(v.infoCommonIv);
      const ctx = contextOf(keyVectors.indexOf(v));
      expect(toHex(ctx.senderKey)).toBe(v.senderKey);
      expect(toHex(ctx.recipientKey)).toBe(v.recipientKey);
      expect(toHex(ctx.commonIv)).toBe(v.commonIv);
      expect(toHex(ctx.senderNonce(0))).toBe(v.senderNonce);
      expect(toHex(ctx.recipientNonce(0))).toBe(v.recipientNonce);
    });
  }
});

describe('RFC 8613 Appendix C.4–C.6: protected requests', () => {
  for (const v of messageVectors.filter((m) => m.kind === 'request')) {
    it(`${v.source}: AAD (§5.4), nonce (§5.2), OSCORE option (§6.1) and message are bit-exact`, () => {
      const ctx = contextOf(v.context, { initialSequenceNumber: v.senderSequenceNumber });
      expect(toHex(buildAadArray(ctx.aadAlgorithm, ctx.senderId, fromHex(v.partialIv!)))).toBe(v.aadArray);
      expect(toHex(buildAad(ctx.aadAlgorithm, ctx.senderId, fromHex(v.partialIv!)))).toBe(v.aad);
      expect(toHex(ctx.senderNonce(v.senderSequenceNumber))).toBe(v.nonce);
      expect(toHex(encodePartialIv(v.senderSequenceNumber))).toBe(v.partialIv);

      const { message, binding } = protectRequest(ctx, decodeMessage(fromHex(v.unprotected)));
      expect(wire(message)).toBe(v.protected);
      expect(toHex(message.payload!)).toBe(v.ciphertext);
      expect(toHex(binding.nonce)).toBe(v.nonce);
      expect(toHex(binding.partialIv)).toBe(v.partialIv);
      expect(ctx.senderSequenceNumber).toBe(v.senderSequenceNumber + 1);
    });

    it(`${v.source}: the server unprotects it back to the original request (§8.2)`, () => {
      const server = contextOf(v.peerContext);
      const outer = decodeMessage(fromHex(v.protected));
      expect(toHex(outer.getOption(9)!)).toBe(v.oscoreOption);
      const result = unprotectRequest(
        (kid) => (toHex(kid) === toHex(server.recipientId) ? server : undefined),
        outer,
      );
      expect(result.context).toBe(server);
      expect(result.sequenceNumber).toBe(v.senderSequenceNumber);
      expect(wire(result.request)).toBe(v.unprotected);
      expect(toHex(result.binding.nonce)).toBe(v.nonce);
      expect(server.replayWindow.highest).toBe(v.senderSequenceNumber);
    });
  }
});

describe('RFC 8613 Appendix C.7–C.8: protected responses', () => {
  for (const v of messageVectors.filter((m) => m.kind === 'response')) {
    const request = messageVectors[v.request!]!;
    const serverBinding = (): RequestBinding => {
      const server = contextOf(v.context);
      return unprotectRequest(() => server, decodeMessage(fromHex(request.protected))).binding;
    };

    it(`${v.source}: bit-exact (§8.3)`, () => {
      const server = contextOf(v.context, { initialSequenceNumber: v.senderSequenceNumber });
      const binding = serverBinding();
      const response = decodeMessage(fromHex(v.unprotected));
      const outer = protectResponse(server, binding, response, { newPartialIv: v.newPartialIv });
      expect(wire(outer)).toBe(v.protected);
      expect(toHex(outer.payload!)).toBe(v.ciphertext);
      expect(server.senderSequenceNumber).toBe(v.senderSequenceNumber + (v.newPartialIv ? 1 : 0));
      const option = decodeOscoreOption(decodeMessage(fromHex(v.protected)).getOption(9)!);
      expect(option.partialIv === undefined ? null : toHex(option.partialIv)).toBe(v.partialIv);
    });

    it(`${v.source}: the client unprotects it back (§8.4)`, () => {
      const client = contextOf(v.peerContext, { initialSequenceNumber: request.senderSequenceNumber });
      const { binding } = protectRequest(client, decodeMessage(fromHex(request.unprotected)));
      const result = unprotectResponse(client, binding, decodeMessage(fromHex(v.protected)));
      expect(wire(result)).toBe(v.unprotected);
      expect(plain(result)).toMatchObject({
        code: 0x45,
        payload: toHex(new TextEncoder().encode('Hello World!')),
      });
    });
  }
});
