/**
 * Q-Block2 download, the client side of RFC 9177 §4.5 / §7.2: the request carries Q-Block2 (block 0);
 * the server sends a payload set of MAX_PAYLOADS blocks as Non-confirmable responses with the request's
 * token. After the last block of a set (or NON_RECEIVE_TIMEOUT without a new block) the client asks
 * for the blocks it lacks (one Q-Block2 option per block, M clear) or, when nothing is missing, for the
 * next set (one Q-Block2 option, M set, NUM = the set's first block). Every request has a new token.
 *
 * Negotiation: Q-Block2 is critical, so a server that does not know it answers 4.02 (Bad Option) and
 * the download ends as `unsupported` (the caller then uses Block2). A response without Q-Block2 (an
 * error, or a server that answers the whole representation at once) ends the download as it is.
 * An ETag change between blocks means the representation changed: the download starts over, at most
 * NON_MAX_RETRANSMIT times.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { decodeBlock, encodeBlock, szxToSize } from '../message/block.js';
import { Code, MessageType } from '../message/constants.js';
import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import type { CoapOptionInit } from '../message/types.js';
import { bytesEqual, concatChunks, toHex } from '../util/bytes.js';
import {
  DEFAULT_QBLOCK_PARAMETERS,
  endsPayloadSet,
  QBlockError,
  type QBlockMessage,
  type QBlockParameters,
} from './qblock.js';

export interface QBlock2DownloadOptions {
  /** GET or FETCH. */
  readonly code: number;
  /** The request's options (Uri-Path, Accept...); Q-Block2 is added. */
  readonly options: readonly CoapOptionInit[];
  readonly payload?: Uint8Array;
  /** Block size exponent asked for, 0–6. */
  readonly szx: number;
  newToken(): Uint8Array;
  send(request: QBlockMessage): void;
  readonly clock: Clock;
  readonly parameters?: Partial<QBlockParameters>;
  /** Largest body accepted (default 4 MiB). */
  readonly maxBodySize?: number;
}

export type QBlock2Outcome =
  /** The whole representation: the response code, its payload and the last block's message. */
  | {
      readonly kind: 'done';
      readonly code: number;
      readonly payload: Uint8Array;
      readonly contentFormat: number | undefined;
    }
  /** A response that ends the download as it is (no Q-Block2: an error, or the whole body at once). */
  | { readonly kind: 'response'; readonly response: CoapMessage }
  /** The server does not know Q-Block2 (4.02): fetch the representation with Block2 instead. */
  | { readonly kind: 'unsupported'; readonly response: CoapMessage };

export class QBlock2Download {
  /** Requests sent, block requests for lost blocks, waits without any block. */
  readonly stats = { requests: 0, missingRequests: 0, timeouts: 0, restarts: 0 };
  private readonly params: QBlockParameters;
  private readonly maxBodySize: number;
  private readonly tokens = new Set<string>();
  private blocks: (Uint8Array | undefined)[] = [];
  private received = 0;
  private total: number | undefined;
  private highest = -1;
  private etag: Uint8Array | undefined;
  private code = 0;
  private contentFormat: number | undefined;
  private szx: number;
  private silent = 0;
  /** Blocks asked for in the latest request for lost blocks. */
  private lastAsked: number[] = [];
  /** First block of the latest payload set asked for. */
  private nextAsked = 0;
  private timer: TimerHandle | undefined;
  private settled = false;
  private resolve!: (o: QBlock2Outcome) => void;
  private reject!: (e: Error) => void;
  readonly done: Promise<QBlock2Outcome>;

  constructor(private readonly o: QBlock2DownloadOptions) {
    this.params = { ...DEFAULT_QBLOCK_PARAMETERS, ...o.parameters };
    this.maxBodySize = o.maxBodySize ?? 4 * 1024 * 1024;
    this.szx = o.szx;
    szxToSize(o.szx);
    this.done = new Promise<QBlock2Outcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  start(): Promise<QBlock2Outcome> {
    this.request([{ num: 0, more: false }]);
    return this.done;
  }

  /** Gives the download a response; false if its token is not one of this download's requests. */
  receive(response: CoapMessage): boolean {
    if (!this.tokens.has(toHex(response.token))) return false;
    if (this.settled) return true;
    this.silent = 0;
    const value = response.getUint(OptionNumber.QBlock2);
    if (value === undefined) {
      if (response.code === Code.BadOption && this.received === 0) {
        this.finish({ kind: 'unsupported', response });
      } else this.finish({ kind: 'response', response });
      return true;
    }
    let block: ReturnType<typeof decodeBlock>;
    try {
      block = decodeBlock(value);
    } catch {
      return true; // a malformed block is dropped; the set's wait recovers it
    }
    const etag = response.getOption(OptionNumber.ETag);
    if (this.etag !== undefined && (etag === undefined || !bytesEqual(etag, this.etag))) {
      this.restart();
      return true;
    }
    if (this.etag === undefined && etag !== undefined) this.etag = etag.slice();
    const payload = response.payload;
    if (block.offset + payload.length > this.maxBodySize) {
      this.finish(undefined, new QBlockError('cancelled', 'Q-Block2 body larger than maxBodySize'));
      return true;
    }
    this.szx = block.szx === 7 ? 6 : block.szx;
    this.code = response.code;
    this.contentFormat = response.getUint(OptionNumber.ContentFormat) ?? this.contentFormat;
    if (this.blocks[block.num] === undefined) {
      this.blocks[block.num] = payload.slice();
      this.received++;
    }
    if (!block.more) this.total = block.num + 1;
    if (block.num > this.highest) this.highest = block.num;
    if (this.total !== undefined && this.received === this.total) {
      const chunks = this.blocks as Uint8Array[];
      let size = 0;
      for (const c of chunks) size += c.length;
      this.finish({
        kind: 'done',
        code: this.code,
        payload: concatChunks(chunks, size),
        contentFormat: this.contentFormat,
      });
      return true;
    }
    if (!block.more || endsPayloadSet(block.num, this.params.maxPayloads)) this.next(false);
    else if (this.lastAsked.length > 0 && this.lastAsked.every((n) => this.blocks[n] !== undefined)) {
      this.next(false); // every block of the last request for lost blocks is in: go on at once
    } else this.arm();
    return true;
  }

  cancel(): void {
    this.finish(undefined, new QBlockError('cancelled', 'Q-Block2 download cancelled'));
  }

  /**
   * Asks for what is missing below the highest block seen, or else for the next payload set (once per
   * set, unless `again` after a silent wait).
   */
  private next(again = true): void {
    const missing: { num: number; more: boolean }[] = [];
    const end = this.total ?? this.highest + 1;
    for (let i = 0; i < end && missing.length < this.params.maxPayloads; i++) {
      if (this.blocks[i] === undefined) missing.push({ num: i, more: false });
    }
    if (missing.length > 0) {
      this.stats.missingRequests++;
      this.lastAsked = missing.map((m) => m.num);
      this.request(missing);
    } else if (this.total === undefined && (again || this.nextAsked <= this.highest)) {
      this.lastAsked = [];
      this.nextAsked = this.highest + 1;
      this.request([{ num: this.highest + 1, more: true }]);
    } else this.arm();
  }

  private restart(): void {
    this.stats.restarts++;
    if (this.stats.restarts > this.params.nonMaxRetransmit) {
      this.finish(undefined, new QBlockError('timeout', 'Q-Block2: the representation keeps changing'));
      return;
    }
    this.blocks = [];
    this.received = 0;
    this.total = undefined;
    this.highest = -1;
    this.etag = undefined;
    this.lastAsked = [];
    this.nextAsked = 0;
    this.request([{ num: 0, more: false }]);
  }

  private request(asked: readonly { num: number; more: boolean }[]): void {
    const token = this.o.newToken();
    this.tokens.add(toHex(token));
    const options: CoapOptionInit[] = [...this.o.options];
    for (const a of asked) {
      options.push({
        number: OptionNumber.QBlock2,
        value: encodeBlock({ num: a.num, more: a.more, szx: this.szx }),
      });
    }
    this.stats.requests++;
    this.o.send({
      type: MessageType.NON,
      code: this.o.code,
      token,
      options,
      ...(this.o.payload === undefined ? {} : { payload: this.o.payload }),
    });
    this.arm();
  }

  /** RFC 9177 §7.2: NON_RECEIVE_TIMEOUT without a block, ask again (for what is missing, or block 0). */
  private arm(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.settled) return;
      this.stats.timeouts++;
      if (++this.silent > this.params.nonMaxRetransmit) {
        this.finish(undefined, new QBlockError('timeout', 'Q-Block2 download: the server stopped answering'));
        return;
      }
      if (this.received === 0) this.request([{ num: 0, more: false }]);
      else this.next();
    }, this.params.nonReceiveTimeout);
  }

  private finish(outcome: QBlock2Outcome | undefined, error?: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (outcome !== undefined) this.resolve(outcome);
    else this.reject(error!);
  }
}
