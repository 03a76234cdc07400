import {
  CoapDecodeError,
  type CoapMessageInit,
  type CoapOptionInit,
  decodeMessage,
  encodeMessage,
  MessageType,
  OptionNumber,
} from '@thimble/coap-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  contextLookup,
  OscoreError,
  optionClass,
  protectRequest,
  protectResponse,
  unprotectRequest,
  unprotectResponse,
} from '../src/index.js';
import { c1Pair, contextOf } from './helpers.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Class E option numbers only (known and unknown ones), RFC 8613 §4.1. */
const classEOption: fc.Arbitrary<CoapOptionInit> = fc.record({
  number: fc.integer({ min: 1, max: 2000 }).filter((n) => optionClass(n) === 'E'),
  value: fc.uint8Array({ maxLength: 24 }),
});

const requestArb = fc.record({
  type: fc.constantFrom(MessageType.CON, MessageType.NON),
  code: fc.integer({ min: 1, max: 31 }),
  messageId: fc.integer({ min: 0, max: 0xffff }),
  token: fc.uint8Array({ maxLength: 8 }),
  options: fc.array(classEOption, { maxLength: 8 }),
  payload: fc.uint8Array({ maxLength: 200 }),
});

const responseCode = fc.oneof(
  fc.integer({ min: 0x40, max: 0x5f }),
  fc.integer({ min: 0x80, max: 0x9f }),
  fc.integer({ min: 0xa0, max: 0xbf }),
);

/** The protected content of a message: code, Class E options and payload, as bytes. */
function innerPart(m: CoapMessageInit): string {
  return hex(
    encodeMessage({
      type: 0,
      code: m.code,
      messageId: 0,
      options: (m.options ?? []).filter((o) => optionClass(o.number) !== 'U'),
      payload: m.payload,
    }),
  );
}

function wire(m: CoapMessageInit): Uint8Array {
  return encodeMessage(m).slice();
}

describe('properties of protection (RFC 8613 §5, §8)', () => {
  it('unprotect(protect(request)) is the identity, and so is the response round trip', () => {
    const { client, server } = c1Pair();
    const lookup = contextLookup([server]);
    fc.assert(
      fc.property(
        requestArb,
        responseCode,
        fc.array(classEOption, { maxLength: 6 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.boolean(),
        (req, code, resOptions, resPayload, newPartialIv) => {
          const sent = protectRequest(client, req);
          const received = unprotectRequest(lookup, decodeMessage(wire(sent.message)));
          expect(hex(wire(received.request))).toBe(hex(wire(req)));
          const res: CoapMessageInit = {
            type: MessageType.ACK,
            code,
            messageId: req.messageId,
            token: req.token,
            options: resOptions,
            payload: resPayload,
          };
          const outer = protectResponse(server, received.binding, res, { newPartialIv });
          const back = unprotectResponse(client, sent.binding, decodeMessage(wire(outer)));
          expect(hex(wire(back))).toBe(hex(wire(res)));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('round trip keeps Class U options and works with kid context (C.3 contexts)', () => {
    const client = contextOf(4);
    const server = contextOf(5);
    fc.assert(
      fc.property(
        requestArb,
        fc.stringMatching(/^[a-z]{1,20}$/),
        fc.integer({ min: 0, max: 65535 }),
        (req, host, port) => {
          const withU = {
            ...req,
            options: [
              ...req.options,
              { number: OptionNumber.UriHost, value: host },
              { number: OptionNumber.UriPort, value: port },
            ],
          };
          const sent = protectRequest(client, withU);
          const received = unprotectRequest(contextLookup([server]), decodeMessage(wire(sent.message)));
          expect(hex(wire(received.request))).toBe(hex(wire(withU)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('any single flipped bit in the protected part (OSCORE option value or ciphertext) is rejected', () => {
    const { client } = c1Pair();
    fc.assert(
      fc.property(requestArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (req, where, bit) => {
        const bytes = wire(protectRequest(client, req).message);
        const outer = decodeMessage(bytes);
        const option = outer.getOption(OptionNumber.OSCORE)!;
        const payload = outer.payload;
        // protected byte ranges, as offsets into the datagram
        const optionStart = option.byteOffset - bytes.byteOffset;
        const payloadStart = payload.byteOffset - bytes.byteOffset;
        const positions = [
          ...Array.from({ length: option.length }, (_, i) => optionStart + i),
          ...Array.from({ length: payload.length }, (_, i) => payloadStart + i),
        ];
        const at = positions[where % positions.length]!;
        const flipped = bytes.slice();
        flipped[at]! ^= 1 << bit;
        const server = contextOf(1); // fresh: a replay can never be the reason
        let error: unknown;
        try {
          unprotectRequest(contextLookup([server]), decodeMessage(flipped));
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(OscoreError);
      }),
      { numRuns: 1500 },
    );
  });

  it('a flipped bit anywhere else never changes what the application receives', () => {
    const { client } = c1Pair();
    fc.assert(
      fc.property(requestArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (req, where, bit) => {
        const bytes = wire(protectRequest(client, req).message);
        const flipped = bytes.slice();
        flipped[where % bytes.length]! ^= 1 << bit;
        const server = contextOf(1);
        try {
          const { request } = unprotectRequest(contextLookup([server]), decodeMessage(flipped));
          // accepted: only unprotected fields (type, message ID, token, Class U options) may differ
          expect(innerPart(request)).toBe(innerPart(req));
        } catch (e) {
          expect(e instanceof OscoreError || e instanceof CoapDecodeError).toBe(true);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('replays are rejected inside and outside the window, and the window slides (§7.4)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 60 }),
        (windowSize, order) => {
          const client = contextOf(0);
          const server = contextOf(1, { replayWindow: windowSize });
          const lookup = contextLookup([server]);
          const sent = Array.from({ length: 121 }, () =>
            wire(protectRequest(client, { type: MessageType.NON, code: 1, messageId: 1 }).message),
          );
          const accepted = new Set<number>();
          let highest = -1;
          for (const seq of order) {
            const fresh = !accepted.has(seq) && seq > highest - windowSize;
            let reason: string | undefined;
            try {
              expect(unprotectRequest(lookup, decodeMessage(sent[seq]!)).sequenceNumber).toBe(seq);
            } catch (e) {
              reason = (e as OscoreError).reason;
            }
            expect(reason).toBe(fresh ? undefined : 'replay');
            if (fresh) {
              accepted.add(seq);
              highest = Math.max(highest, seq);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
