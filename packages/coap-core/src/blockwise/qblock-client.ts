/**
 * Q-Block1 upload, the client side of RFC 9177 §4.3 / §7.2: the body goes out as Non-confirmable
 * requests carrying the Q-Block1 option, in payload sets of MAX_PAYLOADS blocks; the server answers the
 * last block of a set with 2.31 (Continue), reports the blocks it lacks with 4.08 (Request Entity
 * Incomplete) and a missing-blocks list, and answers the whole body once it has every block.
 *
 * Negotiation (RFC 9177 §4.1): the first block goes alone. Q-Block1 is critical, so a server that does
 * not know it answers 4.02 (Bad Option) and the upload ends as `unsupported`: the caller then sends the
 * body with Block1 (RFC 7959). Any 2.31 shows the server knows Q-Block1 and the rest follows in sets.
 *
 * The upload is transport-neutral: it hands each request to `send` (the caller gives it a message ID and
 * puts it on the wire) and takes the responses whose token it issued through `receive`. Time comes from
 * the injected `Clock`, the random part of NON_TIMEOUT_RANDOM from the injected `Random`.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { encodeBlock, szxToSize } from '../message/block.js';
import { Code, MessageType } from '../message/constants.js';
import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import type { CoapOptionInit } from '../message/types.js';
import { type Random, randomFloat } from '../random.js';
import { toHex } from '../util/bytes.js';
import {
  DEFAULT_QBLOCK_PARAMETERS,
  decodeMissingBlocks,
  MISSING_BLOCKS_CONTENT_FORMAT,
  payloadSetOf,
  QBlockError,
  type QBlockMessage,
  type QBlockParameters,
} from './qblock.js';

export interface QBlock1UploadOptions {
  /** Request code: POST, PUT, FETCH, iPATCH... */
  readonly code: number;
  /** The request's own options (Uri-Path, Content-Format...); Q-Block1, Request-Tag and Size1 are added. */
  readonly options: readonly CoapOptionInit[];
  readonly body: Uint8Array;
  /** Block size exponent, 0–6 (RFC 7959 §2.2; 6 = 1024 bytes). */
  readonly szx: number;
  /** Request-Tag shared by every block of this body (RFC 9175 §3, RFC 9177 §4.3). */
  readonly requestTag: Uint8Array;
  /** A fresh token for each request (RFC 9177 §4.3: every block is its own request). */
  newToken(): Uint8Array;
  send(request: QBlockMessage): void;
  readonly clock: Clock;
  readonly random: Random;
  readonly parameters?: Partial<QBlockParameters>;
}

/** How an upload ended. */
export type QBlock1Outcome =
  /** The server's response to the whole body. */
  | { readonly kind: 'done'; readonly response: CoapMessage }
  /** The server does not know Q-Block1 (4.02 to the first block): send the body with Block1 instead. */
  | { readonly kind: 'unsupported'; readonly response: CoapMessage };

/** Counters of one upload, for tests and benchmarks. */
export interface QBlock1Stats {
  /** Requests sent, first transmissions and retransmissions together. */
  sent: number;
  /** Blocks sent again after a 4.08 or a timeout. */
  resent: number;
  /** 2.31 (Continue) responses. */
  continues: number;
  /** 4.08 (Request Entity Incomplete) responses. */
  incompletes: number;
  /** Waits that ended without any response. */
  timeouts: number;
}

export class QBlock1Upload {
  readonly stats: QBlock1Stats = { sent: 0, resent: 0, continues: 0, incompletes: 0, timeouts: 0 };
  private readonly params: QBlockParameters;
  private readonly size: number;
  private readonly count: number;
  /** Token (hex) → block number, for every request of this upload. */
  private readonly tokens = new Map<string, number>();
  /** Next block never sent. */
  private next = 0;
  /** First block of the latest payload set sent: only an answer to that set moves the upload on. */
  private setStart = 0;
  /** When each block was last sent (ms): a block resent less than NON_TIMEOUT ago is still on its way. */
  private readonly sentAt: number[] = [];
  /** True once the server answered anything but 4.02: it knows Q-Block1. */
  private confirmed = false;
  private silent = 0;
  private timer: TimerHandle | undefined;
  private settled = false;
  private resolve!: (outcome: QBlock1Outcome) => void;
  private reject!: (error: Error) => void;
  readonly done: Promise<QBlock1Outcome>;

  constructor(private readonly o: QBlock1UploadOptions) {
    this.params = { ...DEFAULT_QBLOCK_PARAMETERS, ...o.parameters };
    this.size = szxToSize(o.szx);
    this.count = Math.max(1, Math.ceil(o.body.length / this.size));
    this.done = new Promise<QBlock1Outcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Sends the first block (the probe) and returns the outcome's promise. */
  start(): Promise<QBlock1Outcome> {
    this.sendBlock(0, false);
    this.next = 1;
    this.arm();
    return this.done;
  }

  /** Gives the upload a response; returns false if its token is not one of this upload's requests. */
  receive(response: CoapMessage): boolean {
    const num = this.tokens.get(toHex(response.token));
    if (num === undefined) return false;
    if (this.settled) return true;
    this.silent = 0;
    const code = response.code;
    const current = num >= this.setStart;
    if (code === Code.Continue) {
      this.confirmed = true;
      this.stats.continues++;
      // RFC 9177 §7.2: one payload set per answer; a late answer to an older set does not open another.
      if (current) this.sendNextSet();
      return true;
    }
    if (
      code === Code.RequestEntityIncomplete &&
      response.getUint(OptionNumber.ContentFormat) === MISSING_BLOCKS_CONTENT_FORMAT
    ) {
      this.confirmed = true;
      this.stats.incompletes++;
      let missing: number[];
      try {
        missing = decodeMissingBlocks(response.payload);
      } catch (e) {
        this.finish(undefined, e as Error);
        return true;
      }
      this.recover(missing, current);
      return true;
    }
    if (code === Code.BadOption && !this.confirmed) {
      this.finish({ kind: 'unsupported', response });
      return true;
    }
    this.finish({ kind: 'done', response });
    return true;
  }

  /** Stops the upload; its promise rejects with a `QBlockError` ('cancelled'). */
  cancel(): void {
    this.finish(undefined, new QBlockError('cancelled', 'Q-Block1 upload cancelled'));
  }

  /** True if `token` belongs to one of this upload's requests. */
  owns(token: Uint8Array): boolean {
    return this.tokens.has(toHex(token));
  }

  private finish(outcome: QBlock1Outcome | undefined, error?: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (outcome !== undefined) this.resolve(outcome);
    else this.reject(error!);
  }

  /** RFC 9177 §7.2: the rest of the current payload set, or the next set, without delay. */
  private sendNextSet(): void {
    if (this.next < this.count) {
      const set = payloadSetOf(this.next, this.params.maxPayloads);
      const end = Math.min(this.count, (set + 1) * this.params.maxPayloads);
      this.setStart = this.next;
      while (this.next < end) this.sendBlock(this.next++, false);
    }
    this.arm();
  }

  /**
   * A 4.08 listed the blocks the server lacks (RFC 9177 §4.4): send up to MAX_PAYLOADS of them again.
   * Once every block went out, the last block (M = 0) closes the burst so that the server answers it
   * (4.08 again, or the final response); before that, the upload goes on with the next set.
   */
  private recover(missing: readonly number[], current: boolean): void {
    const budget = this.params.maxPayloads;
    const now = this.o.clock.now();
    const recent = now - this.params.nonTimeout;
    let n = 0;
    const last = this.count - 1;
    for (const num of missing) {
      if (n >= budget - 1) break;
      // never sent yet, sent below as the closer, or resent so recently that it may still arrive
      if (num >= this.next || num === last || (this.sentAt[num] ?? 0) > recent) continue;
      this.sendBlock(num, true);
      n++;
    }
    if (this.next >= this.count) {
      if (current || n > 0) {
        this.sendBlock(last, true);
        this.arm();
      }
    } else if (current) {
      this.sendNextSet();
    }
  }

  /** Waits NON_TIMEOUT plus a random share up to NON_TIMEOUT_RANDOM for the server's answer. */
  private arm(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    const p = this.params;
    const wait = p.nonTimeout + randomFloat(this.o.random) * Math.max(0, p.nonTimeoutRandom - p.nonTimeout);
    this.timer = this.o.clock.setTimeout(() => this.onTimeout(), wait);
  }

  /**
   * No answer within the wait (RFC 9177 §7.2): before the server confirmed Q-Block1, send the probe
   * again; otherwise go on with the next set, or, when every block went out, send the last block again
   * to make the server say what it lacks. More than NON_MAX_RETRANSMIT such retransmissions in a row
   * without any answer end the upload.
   */
  private onTimeout(): void {
    this.timer = undefined;
    if (this.settled) return;
    this.stats.timeouts++;
    // Only waits that end in a retransmission count towards NON_MAX_RETRANSMIT: going on with a new set
    // after a silent wait is the normal pace of a lossy link, not a retry.
    const retransmits = !this.confirmed || this.next >= this.count;
    if (retransmits && ++this.silent > this.params.nonMaxRetransmit) {
      this.finish(undefined, new QBlockError('timeout', 'Q-Block1 upload: the server stopped answering'));
      return;
    }
    if (!this.confirmed) {
      this.sendBlock(0, true);
      this.arm();
    } else if (this.next < this.count) {
      this.sendNextSet();
    } else {
      this.sendBlock(this.count - 1, true);
      this.arm();
    }
  }

  private sendBlock(num: number, again: boolean): void {
    const o = this.o;
    const start = num * this.size;
    const end = Math.min(o.body.length, start + this.size);
    const more = num < this.count - 1;
    const token = o.newToken();
    this.tokens.set(toHex(token), num);
    this.sentAt[num] = o.clock.now();
    const options: CoapOptionInit[] = [
      ...o.options,
      { number: OptionNumber.QBlock1, value: encodeBlock({ num, more, szx: o.szx }) },
      { number: OptionNumber.RequestTag, value: o.requestTag },
    ];
    if (num === 0) options.push({ number: OptionNumber.Size1, value: o.body.length });
    this.stats.sent++;
    if (again) this.stats.resent++;
    o.send({
      type: MessageType.NON,
      code: o.code,
      token,
      options,
      payload: o.body.subarray(start, end),
    });
  }
}
