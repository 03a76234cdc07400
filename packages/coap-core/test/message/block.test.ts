import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBlock, encodeBlock, sizeToSzx, szxToSize } from '../../src/index.js';

describe('Block option values (RFC 7959 §2.2)', () => {
  it('decodes the examples of RFC 7959 §3 (2:0/1/128, 2:1/0/128, 1:2/0/128)', () => {
    expect(decodeBlock(0x0b)).toEqual({ num: 0, more: true, szx: 3, size: 128, offset: 0 });
    expect(decodeBlock(0x13)).toEqual({ num: 1, more: false, szx: 3, size: 128, offset: 128 });
    expect(decodeBlock(0x22)).toEqual({ num: 2, more: false, szx: 2, size: 64, offset: 128 });
  });

  it('encodes NUM / M / SZX and round-trips', () => {
    expect(encodeBlock({ num: 0, more: true, szx: 6 })).toBe(0x0e);
    expect(encodeBlock({ num: 0xfffff, more: false, szx: 0 })).toBe(0xfffff0);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xfffff }),
        fc.boolean(),
        fc.integer({ min: 0, max: 6 }),
        (num, more, szx) => {
          const d = decodeBlock(encodeBlock({ num, more, szx }));
          expect([d.num, d.more, d.szx, d.size]).toEqual([num, more, szx, 16 << szx]);
        },
      ),
    );
  });

  it('rejects out-of-range values', () => {
    expect(() => encodeBlock({ num: 0x100000, more: false, szx: 0 })).toThrow(RangeError);
    expect(() => encodeBlock({ num: 0, more: false, szx: 8 })).toThrow(RangeError);
    expect(() => decodeBlock(0x1000000)).toThrow(RangeError);
  });

  it('converts sizes and SZX', () => {
    expect([16, 32, 64, 128, 256, 512, 1024].map(sizeToSzx)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(szxToSize(6)).toBe(1024);
    expect(() => sizeToSzx(100)).toThrow(RangeError);
    expect(() => sizeToSzx(2048)).toThrow(RangeError);
    expect(() => szxToSize(7)).toThrow(RangeError);
  });

  it('marks SZX 7 (BERT) with the 1024-byte size', () => {
    expect(decodeBlock(0x07)).toMatchObject({ szx: 7, size: 1024 });
  });
});
