/**
 * Q-Block1 reassembly, the server side of RFC 9177 §4.4 / §7.2. Blocks of one body (same peer, same
 * Request-Tag) arrive as Non-confirmable requests, in any order, some lost. The server answers:
 *
 * - the last block of a payload set, and the first block (so the client learns that Q-Block1 is
 *   understood): 2.31 (Continue) if nothing before it is missing, else 4.08 (Request Entity Incomplete)
 *   with the missing-blocks list (RFC 9177 §5);
 * - the last block of the body (M = 0): 4.08 with what is missing, or the final response;
 * - the block that completes the body: the final response, from `complete`;
 * - after NON_RECEIVE_TIMEOUT without a new block: 4.08 with what is missing.
 *
 * Bounded: at most `maxTransfers` bodies of at most `maxBodySize` bytes in progress (4.13 beyond, and
 * the oldest transfer is evicted), each dropped after NON_PARTIAL_TIMEOUT without progress; the final
 * response of a finished body is kept for the same time, so a retransmitted last block gets it again.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { decodeBlock, encodeBlock } from '../message/block.js';
import { Code, MessageType } from '../message/constants.js';
import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import type { CoapOptionInit } from '../message/types.js';
import type { Peer } from '../transport/types.js';
import { peerKey } from '../transport/types.js';
import { concatChunks, toHex } from '../util/bytes.js';
import {
  DEFAULT_QBLOCK_PARAMETERS,
  encodeMissingBlocks,
  endsPayloadSet,
  MISSING_BLOCKS_CONTENT_FORMAT,
  type QBlockMessage,
  type QBlockParameters,
} from './qblock.js';

/** The final response to a whole body. */
export interface QBlockFinalResponse {
  readonly code: number;
  readonly options?: readonly CoapOptionInit[];
  readonly payload?: Uint8Array;
}

export interface QBlock1ReceiverOptions {
  /** Sends a response (NON) to `peer`; the caller gives it a message ID and puts it on the wire. */
  send(peer: Peer, response: QBlockMessage): void;
  /** The whole body arrived: returns the final response. `request` is the block that completed it. */
  complete(body: Uint8Array, request: CoapMessage, peer: Peer): QBlockFinalResponse;
  readonly clock: Clock;
  readonly parameters?: Partial<QBlockParameters>;
  /** Largest body accepted, bytes (default 4 MiB); beyond it the answer is 4.13 with Size1. */
  readonly maxBodySize?: number;
  /** Bodies in progress at once (default 16); a new one evicts the oldest. */
  readonly maxTransfers?: number;
}

/** Most block numbers one 4.08 lists, so the response fits a datagram. */
const MAX_LISTED = 200;

interface Transfer {
  readonly key: string;
  readonly szx: number;
  readonly blocks: (Uint8Array | undefined)[];
  received: number;
  /** Number of blocks, known once the block with M = 0 arrived. */
  total: number | undefined;
  highest: number;
  lastToken: Uint8Array;
  receiveTimer: TimerHandle | undefined;
  expires: number;
}

interface Finished {
  readonly response: QBlockFinalResponse;
  readonly lastNum: number;
  readonly expires: number;
}

export class QBlock1Receiver {
  private readonly params: QBlockParameters;
  private readonly maxBodySize: number;
  private readonly maxTransfers: number;
  private readonly transfers = new Map<string, Transfer>();
  private readonly finished = new Map<string, Finished>();

  constructor(private readonly o: QBlock1ReceiverOptions) {
    this.params = { ...DEFAULT_QBLOCK_PARAMETERS, ...o.parameters };
    this.maxBodySize = o.maxBodySize ?? 4 * 1024 * 1024;
    this.maxTransfers = o.maxTransfers ?? 16;
  }

  /** Bodies in progress. */
  get pending(): number {
    return this.transfers.size;
  }

  /**
   * Takes a request: returns false if it carries no Q-Block1 option (not ours), true once handled
   * (answered, stored, or dropped as RFC 9177 asks).
   */
  receive(request: CoapMessage, peer: Peer): boolean {
    const value = request.getUint(OptionNumber.QBlock1);
    if (value === undefined) return false;
    const now = this.o.clock.now();
    this.sweep(now);
    let block: ReturnType<typeof decodeBlock>;
    try {
      block = decodeBlock(value);
    } catch {
      this.reply(peer, request.token, { code: Code.BadOption });
      return true;
    }
    const payload = request.payload;
    if (block.szx === 7 || (block.more && payload.length !== block.size) || payload.length > block.size) {
      this.reply(peer, request.token, { code: Code.BadRequest });
      return true;
    }
    const tag = request.getOption(OptionNumber.RequestTag);
    const key = `${peerKey(peer)}|${request.code}|${tag === undefined ? '' : toHex(tag)}`;
    const done = this.finished.get(key);
    if (done !== undefined && this.transfers.get(key) === undefined) {
      // A block of a body already complete (a retransmission): the final response again, else silence.
      if (block.num === done.lastNum) this.reply(peer, request.token, done.response, block.num, block.szx);
      return true;
    }
    const size1 = request.getUint(OptionNumber.Size1);
    if (
      block.offset + payload.length > this.maxBodySize ||
      (size1 !== undefined && size1 > this.maxBodySize)
    ) {
      this.reply(peer, request.token, {
        code: Code.RequestEntityTooLarge,
        options: [{ number: OptionNumber.Size1, value: this.maxBodySize }],
      });
      return true;
    }
    let t = this.transfers.get(key);
    if (t === undefined || t.szx !== block.szx) {
      if (t !== undefined) this.drop(t);
      t = this.open(key, block.szx, request.token, now);
    }
    t.expires = now + this.params.nonPartialTimeout;
    t.lastToken = request.token.slice();
    if (t.blocks[block.num] === undefined) {
      t.blocks[block.num] = payload.slice();
      t.received++;
    }
    if (!block.more) t.total = block.num + 1;
    if (block.num > t.highest) t.highest = block.num;

    if (t.total !== undefined && t.received === t.total) {
      this.completeTransfer(t, request, peer, block.num);
      return true;
    }
    if (!block.more || block.num === 0 || endsPayloadSet(block.num, this.params.maxPayloads)) {
      const missing = this.missing(t, block.num);
      if (missing.length > 0) this.reportMissing(peer, request.token, missing);
      else if (block.more) this.reply(peer, request.token, { code: Code.Continue }, block.num, block.szx);
    }
    this.armReceiveTimer(t, peer);
    return true;
  }

  /** Stops every timer and forgets every transfer. */
  close(): void {
    for (const t of [...this.transfers.values()]) this.drop(t);
    this.finished.clear();
  }

  private open(key: string, szx: number, token: Uint8Array, now: number): Transfer {
    while (this.transfers.size >= this.maxTransfers) {
      const oldest = this.transfers.values().next().value as Transfer;
      this.drop(oldest);
    }
    const t: Transfer = {
      key,
      szx,
      blocks: [],
      received: 0,
      total: undefined,
      highest: -1,
      lastToken: token.slice(),
      receiveTimer: undefined,
      expires: now + this.params.nonPartialTimeout,
    };
    this.transfers.set(key, t);
    return t;
  }

  private drop(t: Transfer): void {
    if (t.receiveTimer !== undefined) this.o.clock.clearTimeout(t.receiveTimer);
    t.receiveTimer = undefined;
    this.transfers.delete(t.key);
  }

  private sweep(now: number): void {
    for (const t of this.transfers.values()) if (t.expires <= now) this.drop(t);
    for (const [k, f] of this.finished) if (f.expires <= now) this.finished.delete(k);
  }

  /** Blocks missing below `upTo` (or the whole body once its size is known), at most MAX_LISTED. */
  private missing(t: Transfer, upTo: number): number[] {
    const end = t.total ?? Math.max(upTo, t.highest) + 1;
    const out: number[] = [];
    for (let i = 0; i < end && out.length < MAX_LISTED; i++) if (t.blocks[i] === undefined) out.push(i);
    return out;
  }

  private reportMissing(peer: Peer, token: Uint8Array, missing: readonly number[]): void {
    this.reply(peer, token, {
      code: Code.RequestEntityIncomplete,
      options: [{ number: OptionNumber.ContentFormat, value: MISSING_BLOCKS_CONTENT_FORMAT }],
      payload: encodeMissingBlocks(missing),
    });
  }

  /** RFC 9177 §7.2: NON_RECEIVE_TIMEOUT after the latest block, report what is still missing. */
  private armReceiveTimer(t: Transfer, peer: Peer): void {
    if (t.receiveTimer !== undefined) this.o.clock.clearTimeout(t.receiveTimer);
    t.receiveTimer = this.o.clock.setTimeout(() => {
      t.receiveTimer = undefined;
      if (this.transfers.get(t.key) !== t) return;
      const missing = this.missing(t, t.highest);
      if (missing.length > 0) this.reportMissing(peer, t.lastToken, missing);
    }, this.params.nonReceiveTimeout);
  }

  private completeTransfer(t: Transfer, request: CoapMessage, peer: Peer, num: number): void {
    this.drop(t);
    const chunks = t.blocks as Uint8Array[];
    let total = 0;
    for (const c of chunks) total += c.length;
    const body = concatChunks(chunks, total);
    const response = this.o.complete(body, request, peer);
    const lastNum = t.total! - 1;
    this.finished.set(t.key, {
      response,
      lastNum,
      expires: this.o.clock.now() + this.params.nonPartialTimeout,
    });
    while (this.finished.size > this.maxTransfers) {
      this.finished.delete(this.finished.keys().next().value as string);
    }
    this.reply(peer, request.token, response, num, t.szx);
  }

  private reply(
    peer: Peer,
    token: Uint8Array,
    response: QBlockFinalResponse,
    num?: number,
    szx?: number,
  ): void {
    const options: CoapOptionInit[] = response.options === undefined ? [] : [...response.options];
    if (num !== undefined && szx !== undefined) {
      options.push({ number: OptionNumber.QBlock1, value: encodeBlock({ num, more: false, szx }) });
    }
    this.o.send(peer, {
      type: MessageType.NON,
      code: response.code,
      token,
      options,
      ...(response.payload === undefined ? {} : { payload: response.payload }),
    });
  }
}
