/**
 * Persistence of the sender sequence number (RFC 8613 §7.5.1 and Appendix B.1.1): a store records, before
 * any number is used, a limit below which numbers may have been used. After a restart the context starts
 * at the stored limit, so a crash can never cause a sequence number (and thus an AEAD nonce) to be reused.
 */

export interface SequenceNumberStore {
  /**
   * The first sequence number that is certainly unused: every number below it may have been used before
   * (0 for a store that never reserved anything).
   */
  load(): number;
  /**
   * Durably records that numbers below `limit` may be used. It must not return before the record survives
   * a crash; it throws if that cannot be guaranteed (then no number of the new block is used).
   */
  reserve(limit: number): void;
  /**
   * Optional, for stores that several processes (or several context objects) share: atomically reads the
   * stored limit S, records `max(from, S) + count` as the new limit and returns `max(from, S)`, the first
   * number of a block that nobody else can take. A context calls this instead of `reserve` when present,
   * so two senders on one store never use the same sequence number, i.e. never reuse an AEAD nonce
   * (RFC 8613 §7.2.1, Appendix B.1.1). Like `reserve`, it must not return before the record is durable.
   */
  reserveBlock?(from: number, count: number): number;
}

/** An in-memory store (tests, or endpoints that derive a fresh context on every boot). */
export class MemorySequenceStore implements SequenceNumberStore {
  /** The last reserved limit; survives as long as this object does. */
  limit: number;
  /** Number of `reserve` calls (for tests of the write rate). */
  writes = 0;

  constructor(initial = 0) {
    this.limit = initial;
  }

  load(): number {
    return this.limit;
  }

  reserve(limit: number): void {
    this.limit = limit;
    this.writes++;
  }

  reserveBlock(from: number, count: number): number {
    const start = Math.max(from, this.limit);
    this.reserve(start + count);
    return start;
  }
}
