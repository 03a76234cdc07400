import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, decodeMessage, encodeMessage, MessageType } from '@thimble/coap-core';
import { reasonOf } from '@thimble/test-support';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeOscoreOption,
  decodePartialIv,
  MemorySequenceStore,
  protectRequest,
  type SecurityContext,
} from '../src/index.js';
import { FileSequenceStore } from '../src/node.js';
import { contextOf } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'thimble-oscore-seq-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = () => join(root, `seq-${counter++}.json`);

const request = { type: MessageType.NON, code: Code.GET, messageId: 1 };

/** Sends one request and returns the Partial IV it used, read back from the wire. */
function send(ctx: SecurityContext): number {
  const outer = decodeMessage(encodeMessage(protectRequest(ctx, request).message));
  return decodePartialIv(decodeOscoreOption(outer.getOption(9)!).partialIv!);
}

describe('sender sequence number persistence (RFC 8613 Appendix B.1.1)', () => {
  it('reserves ahead of use, one write per block of K', () => {
    const store = new MemorySequenceStore();
    const ctx = contextOf(0, { sequenceStore: store, sequenceBlock: 10 });
    expect(store.writes).toBe(0);
    send(ctx);
    expect(store.limit).toBe(10);
    for (let i = 1; i < 10; i++) send(ctx);
    expect(store.writes).toBe(1);
    send(ctx);
    expect(store.writes).toBe(2);
    expect(store.limit).toBe(20);
  });

  it('the file store writes the reservation before the number is used and a restart continues past it', () => {
    const path = freshPath();
    const a = contextOf(0, { sequenceStore: new FileSequenceStore(path), sequenceBlock: 4 });
    expect(send(a)).toBe(0);
    // aiocoap's sequence.json format: the reservation is "next-to-send", the replay window "unknown"
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ 'next-to-send': 4, received: 'unknown' });
    expect(send(a)).toBe(1);
    // crash: `a` is dropped without any shutdown
    const b = contextOf(0, { sequenceStore: new FileSequenceStore(path), sequenceBlock: 4 });
    expect(send(b)).toBe(4);
  });

  it('a failing write stops the message: nothing is sent with an unreserved number', () => {
    class FailingStore extends FileSequenceStore {
      fail = false;
      protected override commit(tmp: string): void {
        if (this.fail) throw new Error('disk full (simulated crash before rename)');
        super.commit(tmp);
      }
    }
    const path = freshPath();
    const store = new FailingStore(path);
    const ctx = contextOf(0, { sequenceStore: store, sequenceBlock: 2 });
    expect(send(ctx)).toBe(0);
    expect(send(ctx)).toBe(1);
    store.fail = true;
    expect(reasonOf(() => send(ctx))).toBe('persistence-failed');
    // the on-disk record still says 2: numbers 0 and 1 were used, 2 was not
    const restarted = contextOf(0, { sequenceStore: new FileSequenceStore(path), sequenceBlock: 2 });
    expect(send(restarted)).toBe(2);
  });

  it('reads what aiocoap writes, including a persisted replay window (which is ignored)', () => {
    const path = freshPath();
    writeFileSync(path, JSON.stringify({ 'next-to-send': 120, received: { index: 7, bitfield: 5 } }));
    expect(new FileSequenceStore(path).load()).toBe(120);
    const ctx = contextOf(0, { sequenceStore: new FileSequenceStore(path), sequenceBlock: 10 });
    expect(send(ctx)).toBe(120);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ 'next-to-send': 130, received: 'unknown' });
  });

  it('refuses a corrupt record rather than guessing', () => {
    const path = freshPath();
    writeFileSync(path, '{"next-to-send": "oops"}');
    expect(reasonOf(() => new FileSequenceStore(path).load())).toBe('persistence-failed');
    writeFileSync(path, '{"next-to-send": -1}');
    expect(reasonOf(() => new FileSequenceStore(path).load())).toBe('persistence-failed');
    writeFileSync(path, '{"received": "unknown"}');
    expect(reasonOf(() => new FileSequenceStore(path).load())).toBe('persistence-failed');
    writeFileSync(path, 'not json');
    expect(reasonOf(() => new FileSequenceStore(path).load())).toBe('persistence-failed');
  });

  it('property: across any sequence of crashes, no sequence number is ever used twice', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 8 }),
        (block, runs) => {
          const path = freshPath();
          const used = new Set<number>();
          let highest = -1;
          for (const messages of runs) {
            // each run is a boot: a new context from the same file, some messages, then a crash
            const ctx = contextOf(0, { sequenceStore: new FileSequenceStore(path), sequenceBlock: block });
            for (let i = 0; i < messages; i++) {
              const seq = send(ctx);
              expect(used.has(seq)).toBe(false);
              expect(seq).toBeGreaterThan(highest);
              used.add(seq);
              highest = seq;
            }
          }
        },
      ),
      { numRuns: 40 },
    );
    // hundreds of fsyncs: seconds on a busy two-core machine running the other suites at the same time
  }, 30_000);

  it('two stores on one file take disjoint blocks: the limit is re-read on every reservation (§7.2.1)', () => {
    const path = freshPath();
    const a = contextOf(0, { sequenceStore: new FileSequenceStore(path), sequenceBlock: 4 });
    const b = contextOf(0, { sequenceStore: new FileSequenceStore(path), sequenceBlock: 4 });
    // both loaded 0; before the fix both would send 0, 1, 2, 3
    expect([send(a), send(a)]).toEqual([0, 1]);
    expect([send(b), send(b)]).toEqual([4, 5]);
    expect([send(a), send(a), send(a)]).toEqual([2, 3, 8]);
    expect(JSON.parse(readFileSync(path, 'utf8'))['next-to-send']).toBe(12);
  });

  it('a reservation never moves the record backwards', () => {
    const path = freshPath();
    const store = new FileSequenceStore(path);
    store.reserve(50);
    store.reserve(0); // e.g. a late "mark as used" of a directory another process already used
    expect(store.load()).toBe(50);
  });

  it('recovers a lock left by a crashed process (pid not alive) and one older than staleMs', () => {
    const path = freshPath();
    const store = new FileSequenceStore(path);
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(
      store.lockPath,
      JSON.stringify({ pid: dead, host: hostname(), time: Date.now(), tag: 'crashed' }),
    );
    store.reserve(8);
    expect(store.brokenLocks).toBe(1);
    expect(existsSync(store.lockPath)).toBe(false);
    // a live pid (ours) but an ancient lock: taken as stale by age
    writeFileSync(
      store.lockPath,
      JSON.stringify({ pid: process.pid, host: hostname(), time: 1, tag: 'old' }),
    );
    expect(store.reserveBlock(0, 4)).toBe(8);
    expect(store.brokenLocks).toBe(2);
    // an unreadable (half-written) lock file is judged by its age too
    writeFileSync(store.lockPath, '{"pid":');
    expect(reasonOf(() => new FileSequenceStore(path, { lockTimeoutMs: 30 }).reserve(20))).toBe(
      'persistence-failed',
    );
    expect(new FileSequenceStore(path, { staleMs: 0 }).reserveBlock(0, 4)).toBe(12);
  });

  it('the fresh lock of a live holder is never broken, and a reservation that cannot get the lock fails before any use', () => {
    const path = freshPath();
    const store = new FileSequenceStore(path, { lockTimeoutMs: 30 });
    writeFileSync(
      store.lockPath,
      JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now(), tag: 'busy' }),
    );
    const ctx = contextOf(0, { sequenceStore: store, sequenceBlock: 4 });
    expect(reasonOf(() => send(ctx))).toBe('persistence-failed');
    expect(existsSync(path)).toBe(false);
    expect(JSON.parse(readFileSync(store.lockPath, 'utf8')).tag).toBe('busy');
  });
});
