import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readUtf8 } from '../../src/util/bytes.js';

// The WHATWG decoder in replacement mode is the reference: readUtf8 must agree with it byte for byte,
// whichever path (single ASCII character, ASCII run, apply chunks, general decoder) it takes.
const reference = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function viaReference(bytes: Uint8Array, start: number, end: number): string {
  return reference.decode(bytes.subarray(start, end));
}

describe('readUtf8 (RFC 3629 decoding, ASCII fast path; RFC 7252 §3.2 string option values)', () => {
  it('decodes arbitrary bytes exactly like a WHATWG decoder, at any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1));
        expect(readUtf8(bytes, start, end)).toBe(viaReference(bytes, start, end));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes ASCII runs of every length class (1, up to 24, longer, over 4096) exactly', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }),
          fc.string({ unit: 'binary-ascii', maxLength: 30 }),
          fc.string({ unit: 'binary-ascii', minLength: 4000, maxLength: 9000 }),
        ),
        (text) => {
          const bytes = Uint8Array.from(text, (ch) => ch.charCodeAt(0));
          expect(readUtf8(bytes, 0, bytes.length)).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes ASCII followed by multi-byte and malformed sequences (prefix then general decoder)', () => {
    const text = 'rd/ep-€-𝄞-';
    const bytes = new TextEncoder().encode(text);
    expect(readUtf8(bytes, 0, bytes.length)).toBe(text);
    const broken = Uint8Array.of(0x61, 0x62, 0xe2, 0x82, 0x63, 0xff);
    expect(readUtf8(broken, 0, broken.length)).toBe(viaReference(broken, 0, broken.length));
    expect(readUtf8(broken, 0, broken.length)).toBe('ab\ufffdc\ufffd');
  });

  it('returns the empty string for an empty or inverted range', () => {
    const bytes = Uint8Array.of(0x41);
    expect(readUtf8(bytes, 0, 0)).toBe('');
    expect(readUtf8(bytes, 1, 0)).toBe('');
  });
});
