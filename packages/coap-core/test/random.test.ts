import { describe, expect, it } from 'vitest';
import { cryptoRandom, randomInt, seededRandom, toHex } from '../src/index.js';

describe('randomness', () => {
  it('cryptoRandom never hands out the same pool bytes twice', () => {
    const r = cryptoRandom();
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(toHex(r.fill(new Uint8Array(8))));
    expect(seen.size).toBe(5000); // 64-bit values: a repeat would mean reused bytes
    const big = r.fill(new Uint8Array(100_000));
    expect(new Set(big).size).toBe(256);
  });

  it('cryptoRandom.nextUint32 is spread over the whole range', () => {
    const r = cryptoRandom();
    let high = 0;
    for (let i = 0; i < 2000; i++) if (r.nextUint32() >= 0x80000000) high++;
    expect(high).toBeGreaterThan(850);
    expect(high).toBeLessThan(1150);
  });

  it('seededRandom replays the same sequence for the same seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 10 }, () => a.nextUint32());
    expect(Array.from({ length: 10 }, () => b.nextUint32())).toEqual(xs);
    expect(new Set(xs).size).toBe(10);
    const r = seededRandom(1);
    for (let i = 0; i < 100; i++) {
      const v = randomInt(r, 3, 5);
      expect(v >= 3 && v <= 5).toBe(true);
    }
  });
});
