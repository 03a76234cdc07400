import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CoapDecodeError,
  type CoapMessageInit,
  type CoapOptionInit,
  decodeMessage,
  encodeMessage,
  encodeUint,
  MessageType,
  toHex,
  utf8Encode,
} from '../../src/index.js';

/** The wire value of an option value given to the encoder. */
function wireValue(v: CoapOptionInit['value']): Uint8Array {
  if (typeof v === 'number') return encodeUint(v);
  if (typeof v === 'string') return utf8Encode(v);
  return v;
}

/** A message as comparable data: what should survive the wire. */
function normalize(m: CoapMessageInit) {
  const options = [...(m.options ?? [])]
    .map((o, i) => ({ o, i }))
    .sort((a, b) => a.o.number - b.o.number || a.i - b.i)
    .map(({ o }) => ({ number: o.number, value: toHex(wireValue(o.value)) }));
  return {
    type: m.type,
    code: m.code,
    messageId: m.messageId,
    token: toHex(m.token ?? new Uint8Array(0)),
    options,
    payload: toHex(m.payload ?? new Uint8Array(0)),
  };
}

// Option numbers biased towards the interesting ones, including extended deltas (13, 14 forms).
const optionNumber = fc.oneof(
  fc.constantFrom(1, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 15, 17, 23, 27, 28, 35, 60, 252, 258, 292),
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 0, max: 65535 }),
);
const optionValue = fc.oneof(
  fc.uint8Array({ maxLength: 20 }),
  fc.uint8Array({ minLength: 260, maxLength: 300 }),
  fc.string({ maxLength: 20, unit: 'grapheme' }),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.maxSafeNat(),
);
const option = fc.record({ number: optionNumber, value: optionValue });

const nonEmptyMessage: fc.Arbitrary<CoapMessageInit> = fc.record({
  type: fc.constantFrom(MessageType.CON, MessageType.NON, MessageType.ACK, MessageType.RST),
  code: fc.integer({ min: 1, max: 255 }),
  messageId: fc.integer({ min: 0, max: 0xffff }),
  token: fc.uint8Array({ maxLength: 8 }),
  options: fc.array(option, { maxLength: 12 }),
  payload: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1000, maxLength: 1100 })),
});
const emptyMessage: fc.Arbitrary<CoapMessageInit> = fc.record({
  type: fc.constantFrom(MessageType.CON, MessageType.ACK, MessageType.RST),
  code: fc.constant(0),
  messageId: fc.integer({ min: 0, max: 0xffff }),
});
const message = fc.oneof({ arbitrary: nonEmptyMessage, weight: 9 }, { arbitrary: emptyMessage, weight: 1 });

describe('codec properties', () => {
  it('decode(encode(m)) equals m (RFC 7252 §3)', () => {
    fc.assert(
      fc.property(message, (m) => {
        const decoded = decodeMessage(encodeMessage(m));
        expect(normalize(decoded)).toEqual(normalize(m));
      }),
      { numRuns: 2000 },
    );
  });

  it('re-encoding a decoded valid message gives the same bytes', () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = encodeMessage(m);
        expect(toHex(encodeMessage(decodeMessage(bytes)))).toBe(toHex(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary bytes either decode or throw CoapDecodeError, and decoded views stay in bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        let m: ReturnType<typeof decodeMessage>;
        try {
          m = decodeMessage(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(CoapDecodeError);
          return;
        }
        let total = 4 + m.token.length + m.payload.length;
        m.forEachOption((_n, b, s, e) => {
          expect(b).toBe(bytes);
          expect(s).toBeGreaterThanOrEqual(0);
          expect(e).toBeLessThanOrEqual(bytes.length);
          total += e - s;
        });
        expect(total).toBeLessThanOrEqual(bytes.length);
        // Anything that decodes re-encodes to exactly the same bytes.
        expect(toHex(encodeMessage(m))).toBe(toHex(bytes));
      }),
      { numRuns: 20000 },
    );
  });

  it('mutated valid messages either decode or throw CoapDecodeError', () => {
    fc.assert(
      fc.property(
        message,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (m, flips, cut) => {
          const bytes = encodeMessage(m);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const truncated = bytes.subarray(0, bytes.length - (cut % (bytes.length + 1)));
          try {
            decodeMessage(truncated);
          } catch (e) {
            expect(e).toBeInstanceOf(CoapDecodeError);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
