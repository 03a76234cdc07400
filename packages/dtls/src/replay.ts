/** The anti-replay sliding window (RFC 6347 §4.1.2.6): 64 entries, as the RFC's example and RFC 4303 §3.4.3. */

export class ReplayWindow {
  /** Highest sequence number accepted so far (-1 before any). */
  private top = -1;
  /** Bit i set: top - i was received (bit 0 is `top`). Two 32-bit halves, no BigInt on the hot path. */
  private low = 0;
  private high = 0;

  /** Whether a record with this sequence number may be processed (not too old, not seen). */
  check(seq: number): boolean {
    if (seq > this.top) return true;
    const offset = this.top - seq;
    if (offset >= 64) return false;
    return offset < 32 ? (this.low & (1 << offset)) === 0 : (this.high & (1 << (offset - 32))) === 0;
  }

  /** Marks a sequence number received, after the record authenticated (RFC 6347 §4.1.2.6). */
  accept(seq: number): void {
    if (seq > this.top) {
      const shift = this.top < 0 ? 64 : seq - this.top;
      if (shift >= 64) {
        this.low = 0;
        this.high = 0;
      } else if (shift >= 32) {
        this.high = shift === 32 ? this.low : this.low << (shift - 32);
        this.low = 0;
      } else {
        this.high = ((this.high << shift) | (this.low >>> (32 - shift))) >>> 0;
        this.low = (this.low << shift) >>> 0;
      }
      this.low = (this.low | 1) >>> 0;
      this.top = seq;
      return;
    }
    const offset = this.top - seq;
    if (offset >= 64) return;
    if (offset < 32) this.low = (this.low | (1 << offset)) >>> 0;
    else this.high = (this.high | (1 << (offset - 32))) >>> 0;
  }
}
