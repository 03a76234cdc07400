/**
 * Server-side Block-wise state (RFC 7959): Block1 bodies being reassembled and Block2 representations
 * being served block by block, for application bodies and for Outer Block-wise on protected messages
 * (RFC 8613 §4.1.3.4.2). All are bounded in entries and bytes together and expire when idle.
 */
import type { CoapOptionInit } from '../message/types.js';

/** FNV-1a 32-bit over the bytes: a cheap ETag for a representation snapshot. */
export function etagOf(bytes: Uint8Array): Uint8Array {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return Uint8Array.of(h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
}

export interface BlockwiseLimits {
  /** Largest request body reassembled from Block1 (4.13 beyond it). */
  readonly maxBodySize: number;
  /** Transfers (Block1 and Block2 together) kept at once. */
  readonly maxTransfers: number;
  /** Bytes held by all transfers together. */
  readonly maxBufferedBytes: number;
  /** An idle transfer is dropped after this many ms (the endpoint defaults it to EXCHANGE_LIFETIME). */
  readonly transferTimeout: number;
}

export const DEFAULT_BLOCKWISE_LIMITS: BlockwiseLimits = {
  maxBodySize: 16 * 1024 * 1024,
  maxTransfers: 1_000,
  maxBufferedBytes: 256 * 1024 * 1024,
  transferTimeout: 120_000,
};

export interface Block1Transfer {
  kind: 1;
  chunks: Uint8Array[];
  /** Body bytes received so far (streamed or held). */
  received: number;
  /** Bytes held in `chunks`, as accounted by the store (see `grew`). */
  held: number;
  expires: number;
  /** Set by a streaming route: chunks go to the sink instead of `chunks`. */
  streamed: boolean;
}

export interface Block2Snapshot {
  kind: 2;
  code: number;
  payload: Uint8Array;
  etag: Uint8Array;
  contentFormat: number | undefined;
  maxAge: number | undefined;
  expires: number;
}

/** A whole protected (outer) response served in Outer Block2 blocks (RFC 8613 §4.1.3.4.2). */
export interface OuterSnapshot {
  kind: 3;
  code: number;
  /** The outer options of the protected message (no Block or Size options). */
  options: readonly CoapOptionInit[];
  payload: Uint8Array;
  expires: number;
}

type Entry = Block1Transfer | Block2Snapshot | OuterSnapshot;

function size(e: Entry): number {
  return e.kind === 1 ? e.held : e.payload.length;
}

/** A bounded map of transfers, evicted oldest first (by when the transfer started) and on expiry. */
export class TransferStore {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(readonly limits: BlockwiseLimits) {}

  get count(): number {
    return this.entries.size;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Starts a Block1 reassembly under `key` (a block with NUM 0, RFC 7959 §2.5), replacing any earlier one. */
  startBlock1(key: string, now: number): Block1Transfer {
    const transfer: Block1Transfer = {
      kind: 1,
      chunks: [],
      received: 0,
      held: 0,
      expires: now + this.limits.transferTimeout,
      streamed: false,
    };
    this.set(key, transfer);
    return transfer;
  }

  get<T extends Entry>(key: string, kind: T['kind'], now: number): T | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.kind !== kind) return undefined;
    if (e.expires <= now) {
      this.delete(key);
      return undefined;
    }
    // Only the expiry moves: re-inserting on every block would leave a hole per block in the Map,
    // which iteration (eviction) then has to step over. Eviction order stays insertion order.
    e.expires = now + this.limits.transferTimeout;
    return e as T;
  }

  set(key: string, entry: Entry): void {
    this.delete(key);
    this.entries.set(key, entry);
    this.bytes += size(entry);
    if (this.over()) this.evict(key);
  }

  /** Accounts bytes appended to a Block1 transfer's chunks. */
  grew(key: string, by: number): void {
    const e = this.entries.get(key);
    if (e === undefined || e.kind !== 1) return;
    e.held += by;
    this.bytes += by;
    if (this.over()) this.evict(key);
  }

  private over(): boolean {
    return this.entries.size > this.limits.maxTransfers || this.bytes > this.limits.maxBufferedBytes;
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.bytes -= size(e);
  }

  /** Drops expired entries, then the least recently used ones while over the limits. */
  evict(keep?: string, now = 0): void {
    for (const [key, e] of this.entries) {
      const over = this.entries.size > this.limits.maxTransfers || this.bytes > this.limits.maxBufferedBytes;
      if (!over && (now === 0 || e.expires > now)) break;
      if (key !== keep) this.delete(key);
    }
  }

  sweep(now: number): void {
    for (const [key, e] of this.entries) if (e.expires <= now) this.delete(key);
  }
}
