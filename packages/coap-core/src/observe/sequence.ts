/**
 * Observe sequence numbers (RFC 7641 §3.4, §4.4): 24-bit values that wrap, with the 128-second rule.
 */
export const OBSERVE_MODULUS = 1 << 24;
const HALF = 1 << 23;
/** §3.4: after 128 s a notification is fresh whatever its number. */
export const OBSERVE_FRESHNESS_MS = 128_000;

/**
 * True if a notification with sequence `v2` received at `t2` is newer than the last one (`v1` at `t1`).
 * RFC 7641 §3.4: (V1 < V2 and V2 − V1 < 2^23) or (V1 > V2 and V1 − V2 > 2^23) or (T2 > T1 + 128 s).
 */
export function isFresher(v1: number, t1: number, v2: number, t2: number): boolean {
  return (v1 < v2 && v2 - v1 < HALF) || (v1 > v2 && v1 - v2 > HALF) || t2 > t1 + OBSERVE_FRESHNESS_MS;
}
