/**
 * Q-Block2 responses, the server side of RFC 9177 §4.5 / §7.2. A request carrying Q-Block2 asks for a
 * representation in blocks sent as Non-confirmable responses, a payload set (MAX_PAYLOADS blocks) at a
 * time, all with the request's token, the representation's ETag and, on block 0, Size2. The client asks
 * for the next set with one Q-Block2 option whose M bit is set (NUM = first block of the set), and for
 * lost blocks with one Q-Block2 option per block (M clear), several in one request.
 *
 * The representation is fixed per transfer (a snapshot keyed by peer, method and Uri-Path/Uri-Query,
 * bounded in number and kept NON_PARTIAL_TIMEOUT), so every block of one body has the same ETag.
 */
import type { Clock } from '../clock.js';
import { decodeBlock, encodeBlock, szxToSize } from '../message/block.js';
import { Code, MessageType } from '../message/constants.js';
import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import type { CoapOptionInit } from '../message/types.js';
import type { Peer } from '../transport/types.js';
import { peerKey } from '../transport/types.js';
import { DEFAULT_QBLOCK_PARAMETERS, type QBlockMessage, type QBlockParameters } from './qblock.js';
import { etagOf } from './store.js';

/** A representation to send in Q-Block2 blocks. */
export interface QBlock2Representation {
  readonly code: number;
  readonly payload: Uint8Array;
  readonly contentFormat?: number;
}

export interface QBlock2SenderOptions {
  send(peer: Peer, response: QBlockMessage): void;
  /** The representation for a request (called once per transfer; later blocks come from the snapshot). */
  represent(request: CoapMessage, peer: Peer): QBlock2Representation;
  readonly clock: Clock;
  readonly parameters?: Partial<QBlockParameters>;
  /** Snapshots kept at once (default 64); a new one evicts the oldest. */
  readonly maxSnapshots?: number;
}

interface Snapshot {
  readonly representation: QBlock2Representation;
  readonly etag: Uint8Array;
  expires: number;
}

/** Most block numbers one request may ask for (more Q-Block2 options are ignored). */
const MAX_ASKED = 64;

export class QBlock2Sender {
  private readonly params: QBlockParameters;
  private readonly maxSnapshots: number;
  private readonly snapshots = new Map<string, Snapshot>();
  /** Blocks sent, first transmissions and resends together. */
  sent = 0;

  constructor(private readonly o: QBlock2SenderOptions) {
    this.params = { ...DEFAULT_QBLOCK_PARAMETERS, ...o.parameters };
    this.maxSnapshots = o.maxSnapshots ?? 64;
  }

  /** Takes a request: false if it carries no Q-Block2 option, true once answered. */
  receive(request: CoapMessage, peer: Peer): boolean {
    const values = request.getOptions(OptionNumber.QBlock2);
    if (values.length === 0) return false;
    const now = this.o.clock.now();
    for (const [k, s] of this.snapshots) if (s.expires <= now) this.snapshots.delete(k);
    const asked: { num: number; more: boolean; szx: number }[] = [];
    for (const v of values.slice(0, MAX_ASKED)) {
      let value = 0;
      for (const b of v) value = value * 256 + b;
      let block: ReturnType<typeof decodeBlock>;
      try {
        if (v.length > 3) throw new RangeError('Q-Block2 value longer than 3 bytes');
        block = decodeBlock(value);
        if (block.szx === 7) throw new RangeError('BERT is not for UDP');
      } catch {
        this.o.send(peer, { type: MessageType.NON, code: Code.BadOption, token: request.token });
        return true;
      }
      asked.push(block);
    }
    const key = `${peerKey(peer)}|${request.code}|${request.getStrings(OptionNumber.UriPath).join('/')}?${request.getStrings(OptionNumber.UriQuery).join('&')}`;
    let snap = this.snapshots.get(key);
    const first = asked[0]!;
    if (snap === undefined || (first.num === 0 && asked.length === 1)) {
      const representation = this.o.represent(request, peer);
      snap = { representation, etag: etagOf(representation.payload), expires: 0 };
      this.snapshots.delete(key);
      this.snapshots.set(key, snap);
      while (this.snapshots.size > this.maxSnapshots) {
        this.snapshots.delete(this.snapshots.keys().next().value as string);
      }
    }
    snap.expires = now + this.params.nonPartialTimeout;
    const size = szxToSize(first.szx);
    const count = Math.max(1, Math.ceil(snap.representation.payload.length / size));
    if (asked.length === 1 && (first.more || first.num === 0)) {
      // a payload set from `num` (RFC 9177 §4.5): the first request, or "continue"
      const end = Math.min(count, first.num + this.params.maxPayloads);
      for (let n = first.num; n < end; n++) this.sendBlock(peer, request.token, snap, n, first.szx, count);
      return true;
    }
    for (const b of asked) if (b.num < count) this.sendBlock(peer, request.token, snap, b.num, b.szx, count);
    return true;
  }

  private sendBlock(
    peer: Peer,
    token: Uint8Array,
    snap: Snapshot,
    num: number,
    szx: number,
    count: number,
  ): void {
    const r = snap.representation;
    const size = szxToSize(szx);
    const options: CoapOptionInit[] = [
      { number: OptionNumber.ETag, value: snap.etag },
      { number: OptionNumber.QBlock2, value: encodeBlock({ num, more: num < count - 1, szx }) },
    ];
    if (r.contentFormat !== undefined)
      options.push({ number: OptionNumber.ContentFormat, value: r.contentFormat });
    if (num === 0) options.push({ number: OptionNumber.Size2, value: r.payload.length });
    this.sent++;
    this.o.send(peer, {
      type: MessageType.NON,
      code: r.code,
      token,
      options,
      payload: r.payload.subarray(num * size, Math.min(r.payload.length, (num + 1) * size)),
    });
  }
}
