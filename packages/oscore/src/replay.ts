/**
 * The server's anti-replay window (RFC 8613 §7.4), in the style of RFC 4303 §3.4.3: the highest Partial IV
 * seen and which of the `size` numbers ending at it were seen. A number above the highest is new; a number
 * at or below `highest − size` is too old and rejected; a number in between is rejected if it was seen.
 *
 * Sequence numbers reach 2^40 − 1, beyond 32-bit integers, so they are kept as doubles (exact up to 2^53).
 * A ring of `size` slots records the exact number last seen in each slot, so sliding needs no clearing.
 */

/** Largest sender sequence number / Partial IV (RFC 8613 §7.2.1: less than 2^40). */
export const MAX_SEQUENCE_NUMBER = 2 ** 40 - 1;

/** Default replay window size (RFC 8613 §3.2.2: "default ... 32"). */
export const DEFAULT_REPLAY_WINDOW = 32;

/** Upper bound for a configured window, to keep memory per context small and fixed. */
export const MAX_REPLAY_WINDOW = 4096;

export class ReplayWindow {
  readonly size: number;
  private top: number;
  private readonly ring: Float64Array;

  constructor(size = DEFAULT_REPLAY_WINDOW) {
    if (!(Number.isInteger(size) && size >= 1 && size <= MAX_REPLAY_WINDOW)) {
      throw new RangeError(`replay window size ${size} is not an integer 1-${MAX_REPLAY_WINDOW}`);
    }
    this.size = size;
    this.top = -1;
    this.ring = new Float64Array(size).fill(-1);
  }

  /** Highest sequence number accepted so far, or -1. */
  get highest(): number {
    return this.top;
  }

  /** True if `seq` may be accepted: not seen before and not older than the window (RFC 8613 §7.4). */
  isFresh(seq: number): boolean {
    if (seq > this.top) return true;
    if (seq <= this.top - this.size) return false;
    return this.ring[seq % this.size] !== seq;
  }

  /** Records `seq` as received. Call only after the message verified (RFC 8613 §8.2 step 6). */
  accept(seq: number): void {
    this.ring[seq % this.size] = seq;
    if (seq > this.top) this.top = seq;
  }

  /**
   * Restarts the window at `seq` (RFC 8613 Appendix B.1.2): `seq` and every number below it count as
   * received, so only later numbers are fresh.
   */
  resetTo(seq: number): void {
    this.top = seq;
    for (let i = 0; i < this.size; i++) {
      const n = seq - i;
      this.ring[((n % this.size) + this.size) % this.size] = n;
    }
  }
}
