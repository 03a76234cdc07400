import { Code, decodeMessage, encodeMessage, MessageType, OptionNumber } from '@thimble/coap-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  contextLookup,
  decodePlaintext,
  encodePlaintext,
  OscoreError,
  parseContextSettings,
  protectRequest,
  protectResponse,
  unprotectRequest,
  unprotectResponse,
} from '../src/index.js';
import { c1Pair } from './helpers.js';

function typedOnly(f: () => unknown, reasons: readonly string[]): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OscoreError);
    expect(reasons).toContain((e as OscoreError).reason);
  }
}

describe('parsers over arbitrary input (docs/ARCHITECTURE.md, "Bad input is normal input")', () => {
  it('decodePlaintext (RFC 8613 §5.3): arbitrary bytes parse or fail with malformed-plaintext', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) =>
        typedOnly(() => decodePlaintext(b), ['malformed-plaintext']),
      ),
      { numRuns: 3000 },
    );
  });

  it('decodePlaintext(encodePlaintext(x)) = x', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.array(
          fc.record({
            number: fc.integer({ min: 0, max: 3000 }).filter((n) => n !== OptionNumber.OSCORE),
            value: fc.uint8Array({ maxLength: 300 }),
          }),
          { maxLength: 6 },
        ),
        fc.uint8Array({ maxLength: 50 }),
        (code, options, payload) => {
          const sorted = options.slice().sort((a, b) => a.number - b.number);
          const p = decodePlaintext(encodePlaintext(code, options, payload).slice());
          expect(p.code).toBe(code);
          expect(p.options.map((o) => [o.number, Buffer.from(o.value).toString('hex')])).toEqual(
            sorted.map((o) => [o.number, Buffer.from(o.value).toString('hex')]),
          );
          expect(Buffer.from(p.payload ?? new Uint8Array(0)).toString('hex')).toBe(
            Buffer.from(payload).toString('hex'),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('parseContextSettings: arbitrary JSON values are accepted or rejected with invalid-context', () => {
    const key = fc.constantFrom(
      'sender-id_hex',
      'recipient-id_hex',
      'secret_hex',
      'salt_hex',
      'id-context_hex',
      'sender-id_ascii',
      'secret_ascii',
      'algorithm',
      'window',
      'kdf-hashfun',
      'other',
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(key, fc.jsonValue())), (json) =>
        typedOnly(() => parseContextSettings(json), ['invalid-context']),
      ),
      { numRuns: 2000 },
    );
  });
});

describe('notification ordering (RFC 8613 §7.4.1)', () => {
  it('property: in any arrival order, exactly the notifications newer than all earlier accepted ones are delivered', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 12 })
          .chain((n) => fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()]))),
        ([n, order]) => {
          const { client, server } = c1Pair();
          const sent = protectRequest(client, {
            type: MessageType.CON,
            code: Code.GET,
            messageId: 1,
            options: [{ number: OptionNumber.Observe, value: 0 }],
          });
          const got = unprotectRequest(contextLookup([server]), decodeMessage(encodeMessage(sent.message)));
          const notifications = Array.from({ length: n }, (_, i) =>
            encodeMessage(
              protectResponse(server, got.binding, {
                type: MessageType.NON,
                code: Code.Content,
                messageId: i,
                options: [{ number: OptionNumber.Observe, value: i + 2 }],
                payload: Uint8Array.of(i),
              }),
            ).slice(),
          );
          let newest = -1;
          for (const i of order) {
            let delivered = false;
            try {
              const r = unprotectResponse(client, sent.binding, decodeMessage(notifications[i]!));
              expect(r.payload![0]).toBe(i);
              delivered = true;
            } catch (e) {
              expect((e as OscoreError).reason).toBe('replay');
            }
            expect(delivered).toBe(i > newest);
            if (delivered) newest = i;
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('parseContextSettings with hostile values', () => {
  it('an algorithm object whose toString is not a function is a typed error (found by fast-check)', () => {
    expect(() => parseContextSettings({ algorithm: { toString: null } })).toThrowError(OscoreError);
    expect(() =>
      parseContextSettings({ algorithm: 'A128GCM', 'kdf-hashfun': { toString: null } }),
    ).toThrowError(OscoreError);
  });
});
