/**
 * Outer Block-wise (RFC 8613 §4.1.3.4.2), the layer below security (docs/ARCHITECTURE.md, coap-core):
 * RFC 7959 applied hop by hop to the *protected* messages of an object-security layer, e.g. by a proxy
 * whose link takes only small datagrams. The Block1 / Block2 / Size1 / Size2 options of a protected
 * message are Outer (unprotected) options; the blocks carry slices of one protected message, so:
 *
 * - a receiver reassembles the whole protected message first, then unprotects it once (RFC 8613
 *   §4.1.3.4.2: "until all blocks of the message have been received"), bounded by MAX_UNFRAGMENTED_SIZE;
 * - a sender protects once and sends the same protected bytes block by block: every block carries the
 *   same OSCORE option (one Partial IV), so sequence numbers and replay windows see one message.
 *
 * Inner Block-wise (§4.1.3.4.1, every block a protected message of its own) runs above the security
 * layer (`blockwise/`) and is independent of this: both can be used together.
 *
 * `OuterBlockServer` is the server side (reassembling Outer Block1, serving Outer Block2 from a snapshot
 * of the protected response); `OuterBlockwiseLayer` puts it in the stack and adds the client side.
 */
import type { Block1Transfer, OuterSnapshot, TransferStore } from '../blockwise/store.js';
import type { Clock } from '../clock.js';
import { CoapRequestError } from '../errors.js';
import {
  type DecodedBlock as Block,
  decodeBlock,
  encodeBlock,
  sizeToSzx,
  szxToSize,
} from '../message/block.js';
import { Code } from '../message/constants.js';
import { type CoapMessage, decodeMessage } from '../message/decode.js';
import { encodeMessage } from '../message/encode.js';
import { OptionNumber } from '../message/options.js';
import type { CoapOptionInit } from '../message/types.js';
import type { InboundExchange, OutgoingMessage } from '../messaging/message-layer.js';
import type { ClientExchange } from '../stack/exchange.js';
import { AbstractLayer, ExchangeWrapper, type StackState } from '../stack/layer.js';
import type { Matcher } from '../stack/matcher.js';
import type { Peer } from '../transport/types.js';
import { peerKey } from '../transport/types.js';
import { concatChunks, toHex, utf8Encode } from '../util/bytes.js';
import { unprotectedDiagnostic } from './layer.js';
import type { ServerSecurity } from './types.js';

/** Outer Block-wise settings of an endpoint (RFC 8613 §4.1.3.4.2). */
export interface OuterBlockwiseOptions {
  /**
   * Protected messages whose payload is larger than this are sent in Outer blocks of this size (16–1024):
   * client requests with Outer Block1, server responses with Outer Block2. Default: sent whole (a peer
   * can still ask for Outer Block2 blocks, and received Outer blocks are always reassembled).
   */
  readonly blockSize?: number;
  /**
   * MAX_UNFRAGMENTED_SIZE: the largest protected message reassembled from Outer blocks (default 4096,
   * RFC 8613 §4.1.3.4.2). A server answers 4.13 with Size1 beyond it; a client fails the request.
   */
  readonly maxMessageSize?: number;
}

/** RFC 8613 §4.1.3.4.2: the default MAX_UNFRAGMENTED_SIZE. */
export const DEFAULT_MAX_UNFRAGMENTED_SIZE = 4096;

function isBlockOption(n: number): boolean {
  return (
    n === OptionNumber.Block1 ||
    n === OptionNumber.Block2 ||
    n === OptionNumber.Size1 ||
    n === OptionNumber.Size2
  );
}

/** The options of `m` minus the (hop-by-hop) Block and Size options, copied out of the datagram. */
export function optionsWithoutBlocks(m: CoapMessage): CoapOptionInit[] {
  const out: CoapOptionInit[] = [];
  m.forEachOption((number, bytes, start, end) => {
    if (!isBlockOption(number)) out.push({ number, value: bytes.slice(start, end) });
  });
  return out;
}

/** Drops Block and Size options from an option list (an outgoing protected request's outer options). */
export function withoutBlockOptions(options: readonly CoapOptionInit[] | undefined): CoapOptionInit[] {
  const out: CoapOptionInit[] = [];
  if (options !== undefined) for (const o of options) if (!isBlockOption(o.number)) out.push(o);
  return out;
}

/** The whole protected message: header and outer options of `m` (no Block/Size options) with `payload`. */
export function assembled(m: CoapMessage, payload: Uint8Array): CoapMessage {
  return decodeMessage(
    encodeMessage({
      type: m.type,
      code: m.code,
      messageId: m.messageId,
      token: m.token,
      options: optionsWithoutBlocks(m),
      payload,
    }),
  );
}

/**
 * A protected request as the security layer sees it: the whole protected message (reassembled from
 * Outer Block1 blocks, or as received); its response goes out in Outer Block2 blocks when asked for or
 * larger than the configured block size, and confirms an Outer Block1 transfer (RFC 7959 §2.3).
 */
class OuterExchange extends ExchangeWrapper {
  constructor(
    outer: InboundExchange,
    readonly message: CoapMessage,
    private readonly server: OuterBlockServer,
    /** The Outer Block1 value (last block, M=0) to echo in a successful final response. */
    readonly block1: number | undefined,
    /** The Outer Block2 the requester asked for (num and size), if any. */
    readonly block2: Block | undefined,
  ) {
    super(outer);
  }
  respond(response: OutgoingMessage): void {
    this.server.respond(this, response);
  }
}

/** Server side of Outer Block-wise: one per endpoint, its state in the endpoint's bounded store. */
export class OuterBlockServer {
  readonly maxMessageSize: number;
  constructor(
    private readonly transfers: TransferStore,
    private readonly clock: Clock,
    private readonly blockSize: number | undefined,
    maxMessageSize: number | undefined,
  ) {
    this.maxMessageSize = maxMessageSize ?? DEFAULT_MAX_UNFRAGMENTED_SIZE;
  }

  /**
   * Takes one received protected request (or Outer block of one). Returns the exchange that carries the
   * whole protected message, to be unprotected now; or undefined when this block was answered here
   * (2.31 Continue, 4.08, 4.13, or a block of a stored response).
   */
  receive(ex: InboundExchange): InboundExchange | undefined {
    const m = ex.message;
    const b1 = m.getUint(OptionNumber.Block1);
    const b2 = m.getUint(OptionNumber.Block2);
    if (b1 === undefined && b2 === undefined) {
      return this.blockSize === undefined ? ex : new OuterExchange(ex, m, this, undefined, undefined);
    }
    const requested = b2 === undefined ? undefined : decodeBlock(b2);
    if (b1 === undefined) {
      if (requested!.num > 0) {
        // A later block of a response we hold: the request is the one already unprotected (same OSCORE
        // option, i.e. the same Partial IV), so it is served from the snapshot and never unprotected
        // again. Without a snapshot it goes to the security layer, which refuses a replay.
        const key = this.key2(ex);
        const snap = this.transfers.get<OuterSnapshot>(key, 3, this.clock.now());
        if (snap !== undefined) {
          this.sendBlock(ex, key, snap, requested!, []);
          return undefined;
        }
      }
      return new OuterExchange(ex, m, this, undefined, requested);
    }
    return this.receiveBlock1(ex, b1, requested);
  }

  /** RFC 7959 §2.5 on the protected message: collect Outer Block1 blocks until the last one. */
  private receiveBlock1(
    ex: InboundExchange,
    value: number,
    requested: Block | undefined,
  ): InboundExchange | undefined {
    const m = ex.message;
    const block = decodeBlock(value);
    const limit = this.maxMessageSize;
    const size1 = m.getUint(OptionNumber.Size1);
    const tooLarge: OutgoingMessage = {
      code: Code.RequestEntityTooLarge,
      options: [{ number: OptionNumber.Size1, value: limit }],
    };
    if (block.szx === 7 || (size1 !== undefined && size1 > limit)) {
      ex.respond(tooLarge);
      return undefined;
    }
    const now = this.clock.now();
    const key = this.key1(ex);
    let transfer = this.transfers.get<Block1Transfer>(key, 1, now);
    if (block.num === 0) transfer = this.transfers.startBlock1(key, now);
    if (transfer === undefined || block.offset !== transfer.received) {
      // §2.9.2: out of sequence, or the start is unknown (expired, evicted, never seen)
      this.transfers.delete(key);
      ex.respond({ code: Code.RequestEntityIncomplete });
      return undefined;
    }
    const chunk = m.payload;
    if (block.more && chunk.length !== block.size) {
      this.transfers.delete(key);
      ex.respond({ code: Code.BadRequest, payload: utf8Encode('Block1 block shorter than its size') });
      return undefined;
    }
    if (transfer.received + chunk.length > limit) {
      this.transfers.delete(key);
      ex.respond(tooLarge);
      return undefined;
    }
    transfer.received += chunk.length;
    if (block.more) {
      // Kept beyond this call: the payload is a view into the datagram, so copy it.
      transfer.chunks.push(chunk.slice());
      this.transfers.grew(key, chunk.length);
      const szx = Math.min(block.szx, this.blockSize === undefined ? 6 : sizeToSzx(this.blockSize));
      ex.respond({
        code: Code.Continue,
        options: [{ number: OptionNumber.Block1, value: encodeBlock({ num: block.num, more: true, szx }) }],
      });
      return undefined;
    }
    this.transfers.delete(key);
    transfer.chunks.push(chunk);
    const whole = assembled(m, concatChunks(transfer.chunks, transfer.received));
    return new OuterExchange(ex, whole, this, value, requested);
  }

  /** @internal the response (protected, or a security error) to a request that came through `receive`. */
  respond(ox: OuterExchange, response: OutgoingMessage): void {
    const success = response.code >>> 5 === 2;
    const extra: CoapOptionInit[] =
      ox.block1 !== undefined && success ? [{ number: OptionNumber.Block1, value: ox.block1 }] : [];
    const payload = response.payload;
    const requested = ox.block2;
    const own = this.blockSize ?? 1024;
    const limit = requested === undefined ? this.blockSize : Math.min(own, requested.size);
    const observe = response.options?.some((o) => o.number === OptionNumber.Observe) === true;
    if (
      limit === undefined ||
      payload === undefined ||
      !success ||
      // Notifications go whole: each is a new protected message, and the registration's OSCORE option
      // could not name the one a later block request is for. Their inner Block-wise bounds their size.
      observe ||
      (payload.length <= limit && requested === undefined)
    ) {
      ox.outer.respond(
        extra.length === 0 ? response : { ...response, options: [...(response.options ?? []), ...extra] },
      );
      return;
    }
    const snap: OuterSnapshot = {
      kind: 3,
      code: response.code,
      options: withoutBlockOptions(response.options),
      payload,
      expires: this.clock.now() + this.transfers.limits.transferTimeout,
    };
    const key = this.key2(ox.outer);
    if (payload.length > limit) this.transfers.set(key, snap);
    const first =
      requested === undefined
        ? { num: 0, szx: sizeToSzx(limit) }
        : { num: requested.num, szx: sizeToSzx(limit) };
    this.sendBlock(ox.outer, key, snap, first, extra);
  }

  private sendBlock(
    ex: InboundExchange,
    key: string,
    snap: OuterSnapshot,
    requested: { readonly num: number; readonly szx: number },
    extra: readonly CoapOptionInit[],
  ): void {
    const szx = Math.min(requested.szx, this.blockSize === undefined ? 6 : sizeToSzx(this.blockSize));
    const size = szxToSize(szx);
    const offset = requested.num * size;
    if (offset >= snap.payload.length && !(offset === 0 && snap.payload.length === 0)) {
      ex.respond({ code: Code.BadOption });
      return;
    }
    const more = offset + size < snap.payload.length;
    const options: CoapOptionInit[] = [
      ...snap.options,
      ...extra,
      { number: OptionNumber.Block2, value: encodeBlock({ num: offset / size, more, szx }) },
    ];
    if (offset === 0 || ex.message.getUint(OptionNumber.Size2) !== undefined) {
      options.push({ number: OptionNumber.Size2, value: snap.payload.length });
    }
    if (!more) this.transfers.delete(key);
    ex.respond({ code: snap.code, options, payload: snap.payload.subarray(offset, offset + size) });
  }

  /**
   * Outer Block1 transfers are told apart by peer, OSCORE option (its 'kid' and Partial IV name one
   * protected message, whatever the tokens of its blocks) and any Outer Request-Tag a proxy added
   * (RFC 9175 §3).
   */
  private key1(ex: InboundExchange): string {
    const m = ex.message;
    const tags = m.getOptions(OptionNumber.RequestTag).map(toHex).join(',');
    return `ob1|${peerKey(ex.peer)}|${toHex(m.getOption(OptionNumber.OSCORE) ?? new Uint8Array(0))}|${tags}`;
  }

  /** A response is served to the peer that repeats the request's OSCORE option (same Partial IV). */
  private key2(ex: InboundExchange): string {
    return `ob2|${peerKey(ex.peer)}|${toHex(ex.message.getOption(OptionNumber.OSCORE) ?? new Uint8Array(0))}`;
  }
}

/** The Outer Block-wise layer: server side through `OuterBlockServer`, client side here. */
export class OuterBlockwiseLayer extends AbstractLayer {
  /** Server side; undefined when the server security cannot tell protected messages apart. */
  private readonly server: OuterBlockServer | undefined;
  private readonly blockSize: number | undefined;
  private readonly maxMessageSize: number;

  constructor(
    private readonly security: ServerSecurity | undefined,
    transfers: TransferStore,
    clock: Clock,
    options: OuterBlockwiseOptions | undefined,
    private readonly matcher: Matcher,
    private readonly state: StackState,
  ) {
    super();
    this.blockSize = options?.blockSize;
    if (this.blockSize !== undefined) sizeToSzx(this.blockSize); // validates
    this.maxMessageSize = options?.maxMessageSize ?? DEFAULT_MAX_UNFRAGMENTED_SIZE;
    // RFC 8613 §4.1.3.4.2: Outer Block-wise needs to tell protected messages apart
    this.server =
      security?.isProtected === undefined
        ? undefined
        : new OuterBlockServer(transfers, clock, this.blockSize, this.maxMessageSize);
  }

  override receiveRequest(ex: InboundExchange): void {
    if (this.server !== undefined && this.security!.isProtected!(ex.message)) {
      // RFC 8613 §4.1.3.4.2: Outer Block options first, until the whole protected message is here
      const whole = this.server.receive(ex);
      if (whole !== undefined) this.upper.receiveRequest(whole);
      return;
    }
    this.upper.receiveRequest(ex);
  }

  override sendRequest(x: ClientExchange, message: OutgoingMessage): void {
    if (
      x.secured !== undefined &&
      x.observe === undefined &&
      x.group === undefined &&
      x.security?.outerBlockwise === true
    ) {
      x.outer = { message };
      const limit = this.blockSize;
      if (limit !== undefined && (message.payload?.length ?? 0) > limit) {
        // RFC 8613 §4.1.3.4.2: the protected request goes in Outer Block1 blocks; the last one is sent
        // under `x` and gets the (protected) response
        this.sendBlock1(x, message, limit).catch((e: unknown) => x.reject(e as Error));
        return;
      }
    }
    this.lower.sendRequest(x, message);
  }

  override receiveResponse(x: ClientExchange, message: CoapMessage, peer: Peer): void {
    if (x.outer !== undefined && message.hasOption(OptionNumber.Block2)) {
      // RFC 8613 §4.1.3.4.2: a protected response in Outer Block2 blocks; unprotect it once it is whole
      this.matcher.settle(x);
      x.detached = true;
      this.receiveBlock2(x, message).then(
        (whole) => this.upper.receiveResponse(x, whole, peer),
        (e: unknown) => this.matcher.fail(x, e as Error),
      );
      return;
    }
    this.upper.receiveResponse(x, message, peer);
  }

  /**
   * RFC 8613 §4.1.3.4.2 with RFC 7959 §2.5: sends the protected request (protected once, above) in Outer
   * Block1 blocks of `blockSize`, each a plain exchange answered 2.31 Continue by the next hop; the last
   * block goes under `x`, whose response is the protected answer.
   */
  private async sendBlock1(x: ClientExchange, outgoing: OutgoingMessage, blockSize: number): Promise<void> {
    const { peer, confirmable, timeout, signal } = x;
    const body = outgoing.payload!;
    const base = withoutBlockOptions(outgoing.options);
    let size = blockSize;
    let offset = 0;
    let restarts = 0;
    for (;;) {
      const szx = sizeToSzx(size);
      const chunk = body.subarray(offset, offset + size);
      const more = offset + chunk.length < body.length;
      const num = offset / size;
      const options = [...base, { number: OptionNumber.Block1, value: encodeBlock({ num, more, szx }) }];
      if (num === 0) options.push({ number: OptionNumber.Size1, value: body.length });
      if (!more) {
        if (this.state.closed) throw new CoapRequestError('closed', 'endpoint is closed');
        if (signal?.aborted)
          throw new CoapRequestError('aborted', 'request aborted', { cause: signal.reason });
        this.lower.sendRequest(x, { code: outgoing.code, token: outgoing.token, options, payload: chunk });
        return;
      }
      // every block a fresh token; the blocks are matched by the OSCORE option (one Partial IV)
      const r = await this.matcher.exchange(
        this.lower,
        { code: outgoing.code, token: this.matcher.newToken(), options, payload: chunk },
        peer,
        confirmable,
        timeout,
        signal,
      );
      const ack = r.message.getUint(OptionNumber.Block1);
      const acked = ack === undefined ? undefined : decodeBlock(ack);
      if (r.code === Code.RequestEntityTooLarge && acked !== undefined && acked.szx < szx && restarts < 3) {
        // RFC 7959 §2.9.3: the hop wants smaller blocks: start over with its size
        size = acked.size;
        offset = 0;
        restarts++;
        continue;
      }
      if (r.code !== Code.Continue || acked === undefined) {
        throw new CoapRequestError(
          'security',
          `the Outer Block1 transfer of the protected request was refused${unprotectedDiagnostic(r.message)}`,
        );
      }
      offset += chunk.length;
      // §2.3: late negotiation, smaller blocks from now on (sizes are powers of two: offsets stay aligned)
      if (acked.szx < szx) size = acked.size;
    }
  }

  /**
   * RFC 8613 §4.1.3.4.2 with RFC 7959 §2.4: the protected response came in Outer Block2 blocks. Fetches
   * the rest by repeating the protected request's outer options (same OSCORE option, so the server
   * serves its stored response and never unprotects the request again) with Outer Block2 and no payload
   * (RFC 7959 §3.2), and returns the whole protected response, to be unprotected once.
   */
  private async receiveBlock2(x: ClientExchange, first: CoapMessage): Promise<CoapMessage> {
    const request = x.outer!.message;
    let block = decodeBlock(first.getUint(OptionNumber.Block2)!);
    if (block.num !== 0) {
      throw new CoapRequestError('security', 'the Outer Block2 transfer did not start at block 0');
    }
    const limit = this.maxMessageSize;
    const total = first.getUint(OptionNumber.Size2);
    const tooLarge = () =>
      new CoapRequestError('security', `protected response exceeds the outer maximum message size ${limit}`);
    if ((total !== undefined && total > limit) || first.payloadLength > limit) throw tooLarge();
    // The received datagram buffers are fresh per message (transports never reuse them): keep views.
    const chunks: Uint8Array[] = [first.payload];
    let received = first.payloadLength;
    let szx = Math.min(block.szx, 6);
    const base = withoutBlockOptions(request.options);
    while (block.more) {
      const size = szxToSize(szx);
      if (received % size !== 0) throw new CoapRequestError('security', 'Outer Block2 blocks do not line up');
      const r = await this.matcher.exchange(
        this.lower,
        {
          code: request.code,
          token: this.matcher.newToken(),
          options: [
            ...base,
            { number: OptionNumber.Block2, value: encodeBlock({ num: received / size, more: false, szx }) },
          ],
        },
        x.peer,
        x.confirmable,
        x.timeout,
        x.signal,
      );
      const v = r.message.getUint(OptionNumber.Block2);
      if (v === undefined) {
        throw new CoapRequestError(
          'security',
          `the Outer Block2 transfer of the protected response broke off${unprotectedDiagnostic(r.message)}`,
        );
      }
      block = decodeBlock(v);
      if (block.offset !== received)
        throw new CoapRequestError('security', 'unexpected Outer Block2 block number');
      if (received + r.payload.length > limit) throw tooLarge();
      chunks.push(r.payload);
      received += r.payload.length;
      szx = Math.min(block.szx, 6);
    }
    return assembled(first, concatChunks(chunks, received));
  }
}
