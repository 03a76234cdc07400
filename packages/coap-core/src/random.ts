/**
 * Injected randomness (docs/ARCHITECTURE.md, "Portable core"): cryptographic by default, seeded in tests so
 * runs can be replayed.
 */
export interface Random {
  /** A uniformly distributed integer in [0, 2^32). */
  nextUint32(): number;
  /** Fills `target` with random bytes and returns it. */
  fill(target: Uint8Array): Uint8Array;
}

/**
 * Randomness from `crypto.getRandomValues` (Web Crypto; present in Node ≥ 19 and browsers). Small requests
 * (tokens, message IDs) are served from a 4 KiB pool refilled in one call: a call costs microseconds, and a
 * token per request would otherwise spend more time here than in the codec.
 */
export function cryptoRandom(): Random {
  const c = (globalThis as { crypto?: { getRandomValues<T extends ArrayBufferView>(a: T): T } }).crypto;
  if (c === undefined) throw new Error('no crypto.getRandomValues on this runtime: pass a Random explicitly');
  const pool = new Uint8Array(4096);
  let used = pool.length;
  const take = (n: number): number => {
    if (used + n > pool.length) {
      c.getRandomValues(pool);
      used = 0;
    }
    const at = used;
    // each byte is handed out once, then the pool is refilled
    used += n;
    return at;
  };
  return {
    nextUint32() {
      const at = take(4);
      return ((pool[at]! << 24) | (pool[at + 1]! << 16) | (pool[at + 2]! << 8) | pool[at + 3]!) >>> 0;
    },
    fill(target) {
      if (target.length > 256) {
        for (let off = 0; off < target.length; off += 65536) {
          c.getRandomValues(target.subarray(off, Math.min(target.length, off + 65536)));
        }
        return target;
      }
      const at = take(target.length);
      for (let i = 0; i < target.length; i++) target[i] = pool[at + i]!;
      return target;
    },
  };
}

/** A fast deterministic generator (mulberry32) for tests and simulations. Not for security. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    nextUint32: next,
    fill(target) {
      for (let i = 0; i < target.length; i++) target[i] = next() & 0xff;
      return target;
    },
  };
}

/** A float in [0, 1). */
export function randomFloat(random: Random): number {
  return random.nextUint32() / 0x100000000;
}

/** An integer in [min, max]. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(randomFloat(random) * (max - min + 1));
}
