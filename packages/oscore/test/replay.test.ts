import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SEQUENCE_NUMBER, ReplayWindow } from '../src/index.js';

describe('replay window (RFC 8613 §7.4)', () => {
  it('accepts new numbers, rejects repeats, and slides', () => {
    const w = new ReplayWindow(32);
    expect(w.isFresh(0)).toBe(true);
    w.accept(0);
    expect(w.isFresh(0)).toBe(false);
    w.accept(5);
    expect(w.isFresh(3)).toBe(true); // inside the window, not seen
    w.accept(3);
    expect(w.isFresh(3)).toBe(false);
    w.accept(40); // slides: window is now 9..40
    expect(w.isFresh(8)).toBe(false); // 40 - 32 = 8 is outside
    expect(w.isFresh(9)).toBe(true);
    expect(w.isFresh(5)).toBe(false);
    expect(w.isFresh(41)).toBe(true);
  });

  it('defaults to 32 and rejects invalid sizes', () => {
    expect(new ReplayWindow().size).toBe(32);
    expect(() => new ReplayWindow(0)).toThrow(RangeError);
    expect(() => new ReplayWindow(1.5)).toThrow(RangeError);
    expect(() => new ReplayWindow(100000)).toThrow(RangeError);
  });

  it('works up to 2^40 − 1', () => {
    const w = new ReplayWindow(8);
    w.accept(MAX_SEQUENCE_NUMBER - 3);
    expect(w.isFresh(MAX_SEQUENCE_NUMBER)).toBe(true);
    w.accept(MAX_SEQUENCE_NUMBER);
    expect(w.isFresh(MAX_SEQUENCE_NUMBER - 3)).toBe(false);
    expect(w.isFresh(MAX_SEQUENCE_NUMBER - 1)).toBe(true);
    expect(w.isFresh(MAX_SEQUENCE_NUMBER - 8)).toBe(false);
  });

  it('resetTo(n) treats n and everything below as received (Appendix B.1.2)', () => {
    const w = new ReplayWindow(4);
    w.resetTo(100);
    for (let i = 0; i <= 100; i++) expect(w.isFresh(i)).toBe(false);
    expect(w.isFresh(101)).toBe(true);
    w.resetTo(2);
    expect(w.isFresh(0)).toBe(false);
    expect(w.isFresh(3)).toBe(true);
  });

  it('property: agrees with a model (a set of seen numbers and the highest)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 300 }),
        (size, numbers) => {
          const w = new ReplayWindow(size);
          const seen = new Set<number>();
          let highest = -1;
          for (const n of numbers) {
            const expected = !seen.has(n) && (n > highest || n > highest - size);
            expect(w.isFresh(n)).toBe(expected);
            if (expected) {
              w.accept(n);
              seen.add(n);
              highest = Math.max(highest, n);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
