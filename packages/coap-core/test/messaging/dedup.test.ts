import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupCache, DedupRing } from '../../src/messaging/dedup.js';

/** A reference model: live entries in insertion order. */
interface ModelEntry {
  mid: number;
  expires: number;
  seq: number;
}

type Op =
  | { kind: 'add'; mid: number; lifetime: number }
  | { kind: 'removeOldest' }
  | { kind: 'expire'; now: number }
  | { kind: 'reply'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      mid: fc.integer({ min: 0, max: 300 }),
      lifetime: fc.integer({ min: 1, max: 50 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'removeOldest' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('expire' as const), now: fc.integer({ min: 0, max: 60 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reply' as const), pick: fc.nat() }) },
);

describe('deduplication ring (RFC 7252 §4.5 cache)', () => {
  it('behaves like an insertion-ordered map of message IDs under any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const ring = new DedupRing();
        const model: ModelEntry[] = [];
        const replies = new Map<number, Uint8Array>();
        let clock = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            clock++;
            if (ring.find(o.mid) >= 0) continue; // the message layer never adds a duplicate
            const seq = ring.add(o.mid, clock + o.lifetime);
            model.push({ mid: o.mid, expires: clock + o.lifetime, seq });
          } else if (o.kind === 'removeOldest') {
            const oldest = ring.oldest();
            if (model.length === 0) expect(oldest).toBe(-1);
            else {
              expect(oldest).toBe(model[0]!.seq);
              expect(ring.remove(oldest)).toBe(true);
              expect(ring.remove(oldest)).toBe(false);
              model.shift();
            }
          } else if (o.kind === 'expire') {
            const before = model.length;
            const kept = model.filter((e) => e.expires > o.now);
            expect(ring.expire(o.now)).toBe(before - kept.length);
            model.splice(0, model.length, ...kept);
          } else if (model.length > 0) {
            const e = model[o.pick % model.length]!;
            // short (kept inside the ring) and long (kept as a copy of its own) replies
            const bytes = new Uint8Array(1 + (o.pick % 150)).fill(e.mid & 0xff);
            bytes[0] = e.seq & 0xff;
            ring.setReply(e.seq, bytes);
            replies.set(e.seq, bytes.slice());
            bytes.fill(0xee); // the ring keeps a copy, not the caller's bytes
          }
          expect(ring.size).toBe(model.length);
          for (const e of model) {
            expect(ring.find(e.mid)).toBe(e.seq);
            expect(ring.isLive(e.seq)).toBe(true);
            const r = replies.get(e.seq);
            if (r === undefined) expect(ring.reply(e.seq)).toBeUndefined();
            else expect(ring.reply(e.seq)).toEqual(r);
          }
          for (let mid = 0; mid <= 300; mid += 37) {
            if (!model.some((e) => e.mid === mid)) expect(ring.find(mid)).toBe(-1);
          }
          expect(ring.oldest()).toBe(model.length > 0 ? model[0]!.seq : -1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('expires with an early stop exactly as a full scan would, for CON and NON lifetimes (§4.8.2)', () => {
    const CON = 25;
    const NON = 10;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.boolean().map((con) => ({ con })),
            fc.integer({ min: 0, max: 30 }).map((dt) => ({ dt })),
          ),
          {
            maxLength: 300,
          },
        ),
        (steps) => {
          const ring = new DedupRing();
          const model: { mid: number; expires: number }[] = [];
          let now = 0;
          let mid = 0;
          for (const step of steps) {
            if ('con' in step) {
              now += 1;
              const expires = now + (step.con ? CON : NON);
              ring.add(mid, expires);
              model.push({ mid, expires });
              mid = (mid + 1) & 0xffff;
            } else {
              now += step.dt;
              const kept = model.filter((e) => e.expires > now);
              expect(ring.expire(now, CON - NON)).toBe(model.length - kept.length);
              model.splice(0, model.length, ...kept);
            }
            expect(ring.size).toBe(model.length);
          }
          for (const e of model) expect(ring.find(e.mid)).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('shrinks a ring again once a busy peer has few entries left (bounded memory)', () => {
    const ring = new DedupRing();
    const seqs: number[] = [];
    for (let mid = 0; mid < 1000; mid++) seqs.push(ring.add(mid, 100));
    const capacity = () => ring.capacity;
    expect(capacity()).toBe(1024);
    for (let i = 0; i < 990; i++) ring.remove(seqs[i]!);
    expect(capacity()).toBeLessThanOrEqual(64);
    for (let mid = 990; mid < 1000; mid++) expect(ring.find(mid)).toBe(seqs[mid]);
    expect(ring.expire(1000)).toBe(10);
    expect(capacity()).toBe(2); // back to the initial capacity
  });

  it('allocates nothing until its first entry, and lets go of everything when cleared', () => {
    const ring = new DedupRing();
    expect(ring.capacity).toBe(0);
    expect(ring.find(0)).toBe(-1);
    expect(ring.find(65535)).toBe(-1);
    expect(ring.oldest()).toBe(-1);
    expect(ring.expire(1e12)).toBe(0);
    expect(ring.capacity).toBe(0);
    const seq = ring.add(7, 10);
    expect(ring.capacity).toBe(2);
    ring.setReply(seq, new Uint8Array(100).fill(3)); // a long reply, kept apart
    expect(ring.reply(seq)).toEqual(new Uint8Array(100).fill(3));
    expect(ring.clear()).toBe(1);
    expect(ring.capacity).toBe(0);
    expect(ring.find(7)).toBe(-1);
    expect(ring.isLive(seq)).toBe(false);
  });

  it('finds sequential and colliding message IDs after growing (16-bit IDs, wrap-around)', () => {
    const ring = new DedupRing();
    const mids = [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3];
    for (let k = 1; k <= 64; k++) mids.push(k * 1024); // all land on the same home slot
    const seqs = mids.map((m) => ring.add(m, 100));
    for (let i = 0; i < mids.length; i++) expect(ring.find(mids[i]!)).toBe(seqs[i]);
    // remove every other one, the rest must stay findable
    for (let i = 0; i < mids.length; i += 2) ring.remove(seqs[i]!);
    for (let i = 0; i < mids.length; i++) expect(ring.find(mids[i]!)).toBe(i % 2 === 0 ? -1 : seqs[i]);
  });
});

describe('deduplication cache limits', () => {
  it('keeps at most maxPerPeer per peer and maxTotal in all, evicting the oldest first', () => {
    const cache = new DedupCache(10, 4);
    const a = new DedupRing();
    const b = new DedupRing();
    for (let mid = 0; mid < 6; mid++) cache.add(a, mid, 100);
    expect(a.size).toBe(4);
    expect(a.find(0)).toBe(-1);
    expect(a.find(1)).toBe(-1);
    expect(a.find(2)).toBeGreaterThanOrEqual(0);
    for (let mid = 0; mid < 4; mid++) cache.add(b, mid, 100);
    expect(cache.count).toBe(8);
    const c = new DedupRing();
    for (let mid = 0; mid < 4; mid++) cache.add(c, mid, 100);
    // 12 wanted, 10 allowed: the two oldest of all (a's 2 and 3) went
    expect(cache.count).toBe(10);
    expect(a.find(2)).toBe(-1);
    expect(a.find(3)).toBe(-1);
    expect(a.find(4)).toBeGreaterThanOrEqual(0);
    expect(b.size + c.size).toBe(8);
  });

  it('stays bounded when peers come and go (stale FIFO pairs are compacted)', () => {
    const cache = new DedupCache(1000, 50);
    for (let p = 0; p < 2000; p++) {
      const ring = new DedupRing();
      for (let mid = 0; mid < 20; mid++) cache.add(ring, mid, 100);
      if (p % 2 === 0) cache.forget(ring);
    }
    expect(cache.count).toBeLessThanOrEqual(1000);
    const fifo = (cache as unknown as { rings: unknown[]; head: number }).rings.length;
    expect(fifo).toBeLessThanOrEqual(2 * (4 * 1000 + 1024) + 1024);
  });
});
