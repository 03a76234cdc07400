/**
 * The deduplication cache of the message layer (RFC 7252 §4.5): per peer, the message IDs seen within
 * EXCHANGE_LIFETIME / NON_LIFETIME and the reply to repeat for each; bounded per peer and in total, the
 * oldest entry evicted first.
 *
 * Every request adds an entry that lives for minutes, which makes it the one long-lived allocation per
 * request. Entries are therefore not objects: each peer keeps them in a ring of typed arrays in insertion
 * order (so its oldest entry is at the head), indexed by message ID through a chained hash table in typed
 * arrays (bucket `messageId & mask`, twice as many buckets as ring slots: a client's sequential IDs get
 * a bucket each, where a `Map` of thousands of entries costs cache misses on every look-up; open
 * addressing was tried and rejected, as deleting from the long clusters sequential IDs form scans the
 * whole cluster), and a
 * global FIFO of (ring, sequence number) pairs finds the oldest entry of all. Nothing per entry is left
 * for the garbage collector to copy and promote (short replies are copied into the ring too).
 * Sequence numbers only grow, so a stale one can never name a newer entry.
 */

/**
 * A ring's capacity at its first entry (a power of two; rings double as needed). Small: a server keeps a ring
 * for every device that spoke within EXCHANGE_LIFETIME, and most devices send a request or two in that
 * time (a Register, an Update); a busy peer's ring grows in a few doublings.
 */
const INITIAL_CAPACITY = 2;
/**
 * Replies up to this many bytes are copied into the ring itself; longer ones into an array of their own.
 * Keeping the sender's bytes instead would keep alive the 32 KB encoder slab they are a view of (see
 * util/pool.ts) for up to EXCHANGE_LIFETIME per entry: a few quiet peers among busy ones could then pin
 * a slab each.
 */
const INLINE_REPLY = 64;

/** The arrays of a ring that never had an entry (shared, never written: `add` allocates first). */
const NO_INTS = new Int32Array(0);
const NO_FLOATS = new Float64Array(1); // one bucket, empty
const NO_BYTES = new Uint8Array(0);

/**
 * One peer's entries, oldest first. A ring of capacity `c` (a power of two) keeps three typed arrays:
 * `ints` (per slot: message ID, -1 once removed, and reply length, -1 for none), `floats` (2c hash
 * buckets, then per slot the expiry and the next entry in the same bucket) and `inline` (the short
 * replies); long replies go to `large`, made when first needed. A ring starts with no arrays at all: a
 * peer that never sends a Confirmable or Non-confirmable message (a device that only gets ACKs from its
 * server) never allocates any.
 */
export class DedupRing {
  private ints = NO_INTS;
  private floats = NO_FLOATS;
  /** Short replies, INLINE_REPLY bytes per slot. */
  private inline = NO_BYTES;
  /** Long replies (copies owned by the ring), per slot; undefined until the first one. */
  private large: (Uint8Array | undefined)[] | undefined = undefined;
  /** Capacity − 1 (−1: no arrays yet). */
  private mask = -1;
  /** Sequence number of the oldest slot still in the ring (live or removed). */
  private head = 0;
  /** Sequence number the next entry gets. */
  private tail = 0;
  private bucketMask = 0;
  private live = 0;
  /** Set when the peer is forgotten: its entries in the global FIFO are stale. */
  forgotten = false;

  /** Live entries. */
  get size(): number {
    return this.live;
  }

  /** Slots between the oldest and the newest entry, removed ones included. */
  get span(): number {
    return this.tail - this.head;
  }

  /** Slots allocated (0 before the first entry and after `clear`). */
  get capacity(): number {
    return this.mask + 1;
  }

  /** Where the expiries start in `floats` (after the 2c buckets). */
  private get expiriesAt(): number {
    return 2 * this.capacity;
  }

  /** Where the "next in bucket" links start in `floats` (after the buckets and the expiries). */
  private get nextsAt(): number {
    return 3 * this.capacity;
  }

  /** The sequence number of the entry for `messageId`, or -1. */
  find(messageId: number): number {
    const f = this.floats;
    let v = f[messageId & this.bucketMask]!;
    const nexts = this.nextsAt;
    while (v !== 0) {
      const i = (v - 1) & this.mask;
      if (this.ints[2 * i] === messageId) return v - 1;
      v = f[nexts + i]!;
    }
    return -1;
  }

  private index(seq: number, messageId: number): void {
    const b = messageId & this.bucketMask;
    const f = this.floats;
    f[this.nextsAt + (seq & this.mask)] = f[b]!;
    f[b] = seq + 1;
  }

  private unindex(seq: number, messageId: number): void {
    const b = messageId & this.bucketMask;
    const f = this.floats;
    const nexts = this.nextsAt;
    const next = f[nexts + (seq & this.mask)]!;
    let v = f[b]!;
    if (v === seq + 1) {
      f[b] = next;
      return;
    }
    while (v !== 0) {
      const i = (v - 1) & this.mask;
      if (f[nexts + i] === seq + 1) {
        f[nexts + i] = next;
        return;
      }
      v = f[nexts + i]!;
    }
  }

  isLive(seq: number): boolean {
    return !this.forgotten && seq >= this.head && seq < this.tail && this.ints[2 * (seq & this.mask)] !== -1;
  }

  /** Adds an entry and returns its sequence number. The caller made room (per-peer limit). */
  add(messageId: number, expires: number): number {
    if (this.tail - this.head > this.mask) this.resize(Math.max(INITIAL_CAPACITY, this.capacity * 2));
    const seq = this.tail++;
    const i = seq & this.mask;
    this.ints[2 * i] = messageId;
    this.ints[2 * i + 1] = -1;
    this.floats[this.expiriesAt + i] = expires;
    if (this.large !== undefined) this.large[i] = undefined;
    this.index(seq, messageId);
    this.live++;
    return seq;
  }

  /**
   * Halves the ring (repeatedly) while its span is at most a quarter of it, so a peer that was busy once does not
   * keep a large ring (about 50 bytes a slot) for as long as it stays around.
   */
  private maybeShrink(): void {
    const span = this.tail - this.head;
    let capacity = this.capacity;
    while (capacity > INITIAL_CAPACITY && span * 4 <= capacity) capacity /= 2;
    if (capacity !== this.capacity) this.resize(capacity);
  }

  /** Moves the entries to rings of `capacity` slots (a power of two, at least the span). */
  private resize(capacity: number): void {
    const mask = capacity - 1;
    const ints = new Int32Array(2 * capacity).fill(-1);
    const floats = new Float64Array(4 * capacity);
    const inline = new Uint8Array(capacity * INLINE_REPLY);
    const large = this.large === undefined ? undefined : new Array<Uint8Array | undefined>(capacity);
    const oldExpiries = this.expiriesAt;
    const expiries = 2 * capacity;
    for (let seq = this.head; seq < this.tail; seq++) {
      const from = seq & this.mask;
      const to = seq & mask;
      ints[2 * to] = this.ints[2 * from]!;
      floats[expiries + to] = this.floats[oldExpiries + from]!;
      const length = this.ints[2 * from + 1]!;
      ints[2 * to + 1] = length;
      if (length > INLINE_REPLY) large![to] = this.large![from];
      else if (length > 0) {
        inline.set(
          this.inline.subarray(from * INLINE_REPLY, from * INLINE_REPLY + length),
          to * INLINE_REPLY,
        );
      }
    }
    this.ints = ints;
    this.floats = floats;
    this.inline = inline;
    this.large = large;
    this.mask = mask;
    this.bucketMask = capacity * 2 - 1;
    for (let seq = this.head; seq < this.tail; seq++) {
      const mid = ints[2 * (seq & mask)]!;
      if (mid !== -1) this.index(seq, mid);
    }
  }

  /** The oldest live entry's sequence number, or -1. */
  oldest(): number {
    this.skipRemoved();
    return this.head < this.tail ? this.head : -1;
  }

  private skipRemoved(): void {
    while (this.head < this.tail && this.ints[2 * (this.head & this.mask)] === -1) this.head++;
  }

  /** Marks slot `i` (sequence `seq`) removed. */
  private drop(seq: number, i: number): void {
    this.unindex(seq, this.ints[2 * i]!);
    this.ints[2 * i] = -1;
    this.ints[2 * i + 1] = -1;
    if (this.large !== undefined) this.large[i] = undefined;
    this.live--;
  }

  /** Removes a live entry; returns false if it was not live. */
  remove(seq: number): boolean {
    if (!this.isLive(seq)) return false;
    this.drop(seq, seq & this.mask);
    if (seq === this.head) {
      this.skipRemoved();
      this.maybeShrink();
    }
    return true;
  }

  /** Keeps a copy of `bytes` as the reply of entry `seq` if it is still live. */
  setReply(seq: number, bytes: Uint8Array): void {
    if (!this.isLive(seq)) return;
    const i = seq & this.mask;
    const length = bytes.length;
    this.ints[2 * i + 1] = length;
    if (length > INLINE_REPLY) {
      if (this.large === undefined) this.large = new Array<Uint8Array | undefined>(this.capacity);
      this.large[i] = bytes.slice();
    } else {
      const at = i * INLINE_REPLY;
      for (let k = 0; k < length; k++) this.inline[at + k] = bytes[k]!;
    }
  }

  /**
   * The reply to repeat for entry `seq`, or undefined if none was sent. A copy for short replies: the
   * slot may be reused while a send is still queued (duplicates are rare, so the copy costs nothing).
   */
  reply(seq: number): Uint8Array | undefined {
    if (!this.isLive(seq)) return undefined;
    const i = seq & this.mask;
    const length = this.ints[2 * i + 1]!;
    if (length < 0) return undefined;
    if (length > INLINE_REPLY) return this.large![i];
    return this.inline.slice(i * INLINE_REPLY, i * INLINE_REPLY + length);
  }

  /**
   * Removes the entries expired at `now`; returns how many. Entries are in insertion order but have two
   * lifetimes (CON and NON), so expired ones may follow live ones; `spread` is the difference between the
   * longest and the shortest lifetime: an entry expiring after `now + spread` was added so recently that
   * nothing after it can have expired yet, and the scan stops there.
   */
  expire(now: number, spread = Number.POSITIVE_INFINITY): number {
    let removed = 0;
    const horizon = now + spread;
    const expiries = this.expiriesAt;
    for (let seq = this.head; seq < this.tail; seq++) {
      const i = seq & this.mask;
      if (this.ints[2 * i] === -1) continue;
      const expires = this.floats[expiries + i]!;
      if (expires > horizon) break;
      if (expires <= now) {
        this.drop(seq, i);
        removed++;
      }
    }
    this.skipRemoved();
    this.maybeShrink();
    return removed;
  }

  /** Drops every entry (the peer is forgotten). Returns how many were live. */
  clear(): number {
    const n = this.live;
    this.live = 0;
    this.forgotten = true;
    this.head = this.tail;
    // back to no arrays; the global FIFO may still refer to this ring for a while (`isLive` is false)
    this.ints = NO_INTS;
    this.floats = NO_FLOATS;
    this.inline = NO_BYTES;
    this.large = undefined;
    this.mask = -1;
    this.bucketMask = 0;
    return n;
  }
}

/** All peers' entries: the total count and the global insertion order. */
export class DedupCache {
  private rings: DedupRing[] = [];
  private seqs: number[] = [];
  private head = 0;
  /** Live entries in total. */
  count = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerPeer: number,
  ) {}

  /** Records `messageId` for a peer, evicting that peer's or everyone's oldest entry at the limits. */
  add(ring: DedupRing, messageId: number, expires: number): number {
    // A ring's span can exceed its live entries only through removed slots in the middle (NON entries
    // expire before older CON ones); bound it anyway.
    if (ring.size >= this.maxPerPeer || ring.span >= 4 * this.maxPerPeer) {
      if (ring.remove(ring.oldest())) this.count--;
    }
    if (this.count >= this.maxTotal) this.evictOldest();
    const seq = ring.add(messageId, expires);
    this.count++;
    this.rings.push(ring);
    this.seqs.push(seq);
    // Entries removed elsewhere stay in the FIFO until compaction, and so does the consumed head: compact
    // once either outnumbers the live entries several times over, so the FIFO stays within a few times
    // the live entries (16 bytes each) at O(1) amortised cost.
    const length = this.rings.length;
    if (length - this.head > 4 * this.count + 1024 || this.head * 2 > length + 1024) this.compact();
    return seq;
  }

  private evictOldest(): void {
    const rings = this.rings;
    let h = this.head;
    while (h < rings.length) {
      const ring = rings[h]!;
      const seq = this.seqs[h]!;
      rings[h] = undefined as unknown as DedupRing; // release the reference
      h++;
      if (ring.remove(seq)) {
        this.count--;
        break;
      }
    }
    this.head = h;
  }

  /** Drops stale pairs and the consumed head, in place. */
  compact(): void {
    const rings = this.rings;
    const seqs = this.seqs;
    let w = 0;
    for (let r = this.head; r < rings.length; r++) {
      const ring = rings[r]!;
      const seq = seqs[r]!;
      if (ring.isLive(seq)) {
        rings[w] = ring;
        seqs[w] = seq;
        w++;
      }
    }
    rings.length = w;
    seqs.length = w;
    this.head = 0;
  }

  /** Removes a peer's expired entries (call for each peer, then `compact`); see `DedupRing.expire`. */
  expire(ring: DedupRing, now: number, spread?: number): void {
    this.count -= ring.expire(now, spread);
  }

  /** Forgets all entries of a peer. */
  forget(ring: DedupRing): void {
    this.count -= ring.clear();
  }

  clear(): void {
    this.rings = [];
    this.seqs = [];
    this.head = 0;
    this.count = 0;
  }
}
