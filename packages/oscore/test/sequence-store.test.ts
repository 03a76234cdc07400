import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
});
