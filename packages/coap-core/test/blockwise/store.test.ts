import { describe, expect, it } from 'vitest';
import { TransferStore } from '../../src/blockwise/store.js';
import { etagOf, toHex } from '../../src/index.js';

const limits = { maxBodySize: 1 << 20, maxTransfers: 3, maxBufferedBytes: 1000, transferTimeout: 100 };
const snapshot = (n: number, expires: number) => ({
  kind: 2 as const,
  code: 0x45,
  payload: new Uint8Array(n),
  etag: new Uint8Array(4),
  contentFormat: undefined,
  maxAge: undefined,
  expires,
});

describe('Block-wise transfer store (bounded, expiring)', () => {
  it('evicts the oldest transfers beyond maxTransfers and maxBufferedBytes', () => {
    const s = new TransferStore(limits);
    for (const k of ['a', 'b', 'c', 'd']) s.set(k, snapshot(10, 1000));
    expect(s.count).toBe(3);
    expect(s.get('a', 2, 0)).toBeUndefined();
    expect(s.get('d', 2, 0)).toBeDefined();
    s.set('big', snapshot(990, 1000));
    expect(s.bufferedBytes).toBeLessThanOrEqual(1000);
    expect(s.get('big', 2, 0)).toBeDefined();
  });

  it('expires idle transfers; a touched transfer lives on', () => {
    const s = new TransferStore(limits);
    s.set('x', snapshot(10, 100));
    s.set('y', snapshot(10, 100));
    expect(s.get('x', 2, 50)).toBeDefined(); // touched: expires at 150 now
    s.sweep(120);
    expect(s.get('y', 2, 120)).toBeUndefined();
    expect(s.get('x', 2, 120)).toBeDefined();
    expect(s.count).toBe(1);
  });

  it('accounts Block1 growth and never mixes kinds', () => {
    const s = new TransferStore(limits);
    s.set('t', { kind: 1, chunks: [], received: 0, held: 0, expires: 100, streamed: false });
    s.grew('t', 600);
    expect(s.bufferedBytes).toBe(600);
    expect(s.get('t', 2, 0)).toBeUndefined();
    s.grew('missing', 50); // unknown key: no accounting
    expect(s.bufferedBytes).toBe(600);
    s.delete('t');
    expect(s.bufferedBytes).toBe(0);
  });

  it('ETag is a 4-byte FNV-1a of the representation', () => {
    expect(toHex(etagOf(new Uint8Array(0)))).toBe('811c9dc5');
    expect(toHex(etagOf(new TextEncoder().encode('a')))).toBe('e40c292c');
  });
});
