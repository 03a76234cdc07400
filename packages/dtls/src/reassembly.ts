/**
 * Handshake message reassembly (RFC 6347 §4.2.3): fragments may arrive out of order, overlap or repeat; a
 * message is complete when every byte of it has arrived. Bounded: a message larger than `maxMessageSize`
 * is refused, and only a few future messages are buffered.
 */

import { DtlsError } from './errors.js';
import type { HandshakeFragment } from './handshake.js';

interface Partial {
  readonly msgType: number;
  readonly body: Uint8Array;
  /** Received byte ranges as [start, end) pairs, merged, sorted. */
  ranges: number[];
}

export interface CompleteMessage {
  readonly msgType: number;
  readonly messageSeq: number;
  readonly body: Uint8Array;
}

export class Reassembler {
  private readonly partial = new Map<number, Partial>();

  constructor(
    private readonly maxMessageSize: number,
    /** How many messages ahead of the next expected one are buffered. */
    private readonly window = 8,
  ) {}

  /** Adds a fragment of message `messageSeq` (≥ `next`); returns false when dropped as out of window. */
  add(fragment: HandshakeFragment, next: number): boolean {
    if (fragment.messageSeq < next || fragment.messageSeq >= next + this.window) return false;
    if (fragment.length > this.maxMessageSize) {
      throw new DtlsError(
        'limit',
        `handshake message of ${fragment.length} bytes exceeds ${this.maxMessageSize}`,
      );
    }
    let p = this.partial.get(fragment.messageSeq);
    if (p === undefined) {
      p = { msgType: fragment.msgType, body: new Uint8Array(fragment.length), ranges: [] };
      this.partial.set(fragment.messageSeq, p);
    } else if (p.msgType !== fragment.msgType || p.body.length !== fragment.length) {
      throw new DtlsError('decode-error', 'handshake fragments of one message disagree on type or length');
    }
    p.body.set(fragment.body, fragment.fragmentOffset);
    p.ranges = merge(p.ranges, fragment.fragmentOffset, fragment.fragmentOffset + fragment.body.length);
    return true;
  }

  /** Removes and returns message `seq` when complete. */
  take(seq: number): CompleteMessage | undefined {
    const p = this.partial.get(seq);
    if (p === undefined) return undefined;
    const complete = p.body.length === 0 || (p.ranges[0] === 0 && p.ranges[1] === p.body.length);
    if (!complete) return undefined;
    this.partial.delete(seq);
    return { msgType: p.msgType, messageSeq: seq, body: p.body };
  }

  clear(): void {
    this.partial.clear();
  }
}

function merge(ranges: number[], start: number, end: number): number[] {
  if (end <= start) return ranges;
  const out: number[] = [];
  let s = start;
  let e = end;
  let placed = false;
  for (let i = 0; i < ranges.length; i += 2) {
    const rs = ranges[i]!;
    const re = ranges[i + 1]!;
    if (re < s) out.push(rs, re);
    else if (rs > e) {
      if (!placed) {
        out.push(s, e);
        placed = true;
      }
      out.push(rs, re);
    } else {
      s = Math.min(s, rs);
      e = Math.max(e, re);
    }
  }
  if (!placed) out.push(s, e);
  return out;
}
