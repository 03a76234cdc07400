import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DtlsError } from '../src/errors.js';
import { encodeHandshake, fragmentHandshake, parseHandshakeFragments } from '../src/handshake.js';
import { Reassembler } from '../src/reassembly.js';

describe('handshake reassembly (RFC 6347 §4.2.3)', () => {
  it('reassembles any message from fragments in any order, with duplicates', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.integer({ min: 1, max: 400 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (body, maxBody, shuffle) => {
          const message = encodeHandshake(11, 3, body);
          const fragments = fragmentHandshake(message, maxBody).flatMap(parseHandshakeFragments);
          // permute and duplicate some
          const order = fragments.map((f, i) => ({ f, k: shuffle[i % Math.max(1, shuffle.length)] ?? i }));
          order.sort((a, b) => a.k - b.k);
          const r = new Reassembler(4096);
          for (const [i, { f }] of order.entries()) {
            expect(r.take(3)).toBeUndefined();
            r.add(f, 3);
            if (i % 3 === 0) r.add(f, 3);
            if (i < order.length - 1 && fragments.length > 1) continue;
          }
          const done = r.take(3);
          expect(done?.msgType).toBe(11);
          expect(Buffer.from(done!.body).equals(Buffer.from(body))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a message larger than the limit with reason limit, and fragments that disagree with decode-error', () => {
    const r = new Reassembler(100);
    const [big] = parseHandshakeFragments(encodeHandshake(1, 0, new Uint8Array(101)));
    expect(() => r.add(big!, 0)).toThrow(DtlsError);
    const [a] = parseHandshakeFragments(fragmentHandshake(encodeHandshake(1, 0, new Uint8Array(50)), 20)[0]!);
    const [b] = parseHandshakeFragments(fragmentHandshake(encodeHandshake(2, 0, new Uint8Array(50)), 20)[1]!);
    r.add(a!, 0);
    let error: unknown;
    try {
      r.add(b!, 0);
    } catch (e) {
      error = e;
    }
    expect((error as DtlsError).reason).toBe('decode-error');
  });

  it('ignores messages outside the window', () => {
    const r = new Reassembler(100);
    const [f] = parseHandshakeFragments(encodeHandshake(1, 50, new Uint8Array(5)));
    expect(r.add(f!, 0)).toBe(false);
    expect(r.take(50)).toBeUndefined();
  });
});
