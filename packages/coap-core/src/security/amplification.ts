/**
 * Amplification mitigation (RFC 9175 §2.4, RFC 7252 §11.3), server side, just below the fork: a response
 * to a peer whose address is not verified may be at most `factor` times the size of its request. A larger
 * one is replaced by a 4.01 Unauthorized carrying an Echo option (RFC 9175 §2.2.1); a client that repeats
 * the request with that Echo value has shown it receives at its address, becomes verified for a while,
 * and gets the full answer. A peer is verified without Echo when a secure transport authenticated it
 * (`Peer.identity`, DTLS) or its request was protected (OSCORE). Group requests pass (RFC 7252 §8.2
 * answers them after a Leisure, and only with success responses).
 *
 * Where Block-wise can carry the body (RFC 9175 §2.4 allows limiting the response instead of challenging),
 * a too large success response to a GET or FETCH (safe, so serving its blocks again is harmless) is cut to
 * its first Block2 block instead, with the largest block size that keeps the datagram within the limit
 * (RFC 7959 §2.2, §2.4: the server may pick a smaller block size), M=1, Size2, the representation's ETag
 * and an Echo option: a client that follows Block2 fetches the rest at that size from the Block-wise
 * server (late negotiation, RFC 7959 §2.4), each block again within the limit; a client that echoes the
 * value gets verified and full-size answers (where the request is too small for a 16-byte block beside
 * the Echo option, the block goes without it). Clients that never answer Echo (aiocoap's plain client)
 * still get the whole body. The Echo challenge stays for unsafe methods, non-success responses and where
 * no block of 16 bytes fits. A cut Observe registration response loses its Observe option and the
 * observer is dropped (RFC 7641 §4.1: no Observe, no registration): notifications are not limited here,
 * so an unverified peer gets none.
 *
 * Echo values are random (64 bits) and kept in a bounded table with their peer and expiry, used once;
 * verified peers in a bounded cache with expiry (docs/ARCHITECTURE.md, "Bounded everything").
 *
 * The handler has run when its response is found too large: a request with side effects is carried out
 * once without Echo and again when the client repeats it. Handlers that must not repeat should be
 * idempotent, as PUT and DELETE are (RFC 7252 §5.8); their responses are small and rarely limited.
 */

import { etagOf } from '../blockwise/store.js';
import type { Clock } from '../clock.js';
import { decodeBlock, encodeBlock, szxToSize } from '../message/block.js';
import { Code, MessageType } from '../message/constants.js';
import type { CoapMessage } from '../message/decode.js';
import { encodedLength } from '../message/encode.js';
import { OptionNumber } from '../message/options.js';
import type { CoapOptionInit, OptionValue } from '../message/types.js';
import type { InboundExchange, OutgoingMessage } from '../messaging/message-layer.js';
import type { Random } from '../random.js';
import type { ClientExchange } from '../stack/exchange.js';
import { AbstractLayer, ExchangeWrapper } from '../stack/layer.js';
import { type Peer, peerKey } from '../transport/types.js';
import { toHex } from '../util/bytes.js';
import { SecuredExchange } from './layer.js';

export interface AmplificationOptions {
  /** Largest response to an unverified peer, as a multiple of its request's size (default 3, RFC 9175 §2.4). */
  readonly factor?: number;
  /** How long a peer stays verified after it echoed a value, ms (default 300000). */
  readonly verifiedLifetime?: number;
  /** Most verified peers remembered (default 10000; the oldest is forgotten first). */
  readonly maxVerifiedPeers?: number;
  /** How long an Echo value is accepted after it was sent, ms (default 30000). */
  readonly echoLifetime?: number;
  /** Most Echo values outstanding (default 10000; the oldest is forgotten first). */
  readonly maxEchoValues?: number;
}

/** What the layer tells the exchange layers above when it replaced a response (Observe drops the observer). */
export interface AmplificationListener {
  limited(exchange: InboundExchange): void;
}

const ECHO_LENGTH = 8;

export class AmplificationLayer extends AbstractLayer {
  private readonly factor: number;
  private readonly verifiedLifetime: number;
  private readonly maxVerified: number;
  private readonly echoLifetime: number;
  private readonly maxEchoes: number;
  /** Peer key → verified until (clock ms); insertion order is age. */
  private readonly verified = new Map<string, number>();
  /** Echo value (hex) → the peer it was sent to and its expiry. */
  private readonly echoes = new Map<string, { readonly peer: string; readonly expires: number }>();
  /** Set when the stack is built. */
  listener: AmplificationListener | undefined;
  /** Responses replaced by an Echo challenge so far (for tests and metrics). */
  challenges = 0;
  /** Responses cut to a smaller Block2 block so far (for tests and metrics). */
  cuts = 0;

  constructor(
    private readonly options: AmplificationOptions | undefined,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {
    super();
    this.factor = options?.factor ?? 3;
    this.verifiedLifetime = options?.verifiedLifetime ?? 300_000;
    this.maxVerified = options?.maxVerifiedPeers ?? 10_000;
    this.echoLifetime = options?.echoLifetime ?? 30_000;
    this.maxEchoes = options?.maxEchoValues ?? 10_000;
    if (!(this.factor >= 1)) throw new RangeError('amplification factor must be at least 1');
  }

  /** Whether responses to unverified peers are limited at all. */
  get enabled(): boolean {
    return this.options !== undefined;
  }

  override receiveRequest(ex: InboundExchange): void {
    if (
      this.options === undefined ||
      ex.multicast ||
      ex.peer.identity !== undefined ||
      ex instanceof SecuredExchange
    ) {
      this.upper.receiveRequest(ex);
      return;
    }
    const key = peerKey(ex.peer);
    const now = this.clock.now();
    if (this.isVerified(key, now) || this.echoed(ex, key, now)) {
      this.upper.receiveRequest(ex);
      return;
    }
    this.upper.receiveRequest(new LimitedExchange(ex, this.factor * ex.message.bytes.length, this));
  }

  /** Whether `peer` is verified now (a secure transport's identity counts as verified). */
  isVerifiedPeer(peer: { address: string; port: number; identity?: string }): boolean {
    return peer.identity !== undefined || this.isVerified(peerKey(peer), this.clock.now());
  }

  private isVerified(key: string, now: number): boolean {
    const until = this.verified.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.verified.delete(key);
    return false;
  }

  /** RFC 9175 §2.4: a request repeating an Echo value we sent to this peer, still fresh, verifies it. */
  private echoed(ex: InboundExchange, key: string, now: number): boolean {
    const value = ex.message.getOption(OptionNumber.Echo);
    if (value === undefined || value.length !== ECHO_LENGTH) return false;
    const hex = toHex(value);
    const sent = this.echoes.get(hex);
    if (sent === undefined || sent.peer !== key || sent.expires <= now) return false;
    this.echoes.delete(hex);
    this.verify(key, now);
    return true;
  }

  /**
   * A response to one of our requests, matched by its random token (RFC 7252 §5.3.1) and peer below, shows
   * that the peer receives what we send to its address: it is verified as if it had echoed a value (a device
   * that answered the LwM2M server's Write of a Package URI may then pull the image at full size).
   */
  override receiveResponse(exchange: ClientExchange, message: CoapMessage, peer: Peer): void {
    if (this.options !== undefined && peer.identity === undefined)
      this.verify(peerKey(peer), this.clock.now());
    this.upper.receiveResponse(exchange, message, peer);
  }

  private verify(key: string, now: number): void {
    this.verified.delete(key);
    while (this.verified.size >= this.maxVerified) {
      const oldest = this.verified.keys().next().value;
      if (oldest === undefined) break;
      this.verified.delete(oldest);
    }
    this.verified.set(key, now + this.verifiedLifetime);
  }

  /** RFC 9175 §2.4: the 4.01 Unauthorized with a fresh Echo value that replaces a too large response. */
  challenge(ex: InboundExchange): OutgoingMessage {
    this.challenges++;
    this.listener?.limited(ex);
    return { code: Code.Unauthorized, options: [{ number: OptionNumber.Echo, value: this.echoFor(ex) }] };
  }

  /**
   * RFC 9175 §2.4 with RFC 7959 §2.2/§2.4: `response` (too large for `limit` bytes) cut to the first
   * Block2 block it carries at the largest block size that fits, with an Echo value; undefined when the
   * request is not a GET or FETCH, the response is not a success with a payload, or no 16-byte block fits.
   */
  cut(ex: InboundExchange, response: OutgoingMessage, limit: number): OutgoingMessage | undefined {
    const method = ex.message.code;
    const payload = response.payload;
    if (method !== Code.GET && method !== Code.FETCH) return undefined;
    if (response.code >>> 5 !== 2 || payload === undefined || payload.length === 0) return undefined;
    const options = response.options ?? [];
    let offset = 0;
    let moreAfter = false;
    let maxSzx = 6;
    let total: number | undefined = payload.length;
    const block2 = options.find((o) => o.number === OptionNumber.Block2);
    if (block2 !== undefined) {
      const value = uintOf(block2.value);
      if (value === undefined || value > 0xffffff) return undefined;
      const block = decodeBlock(value);
      if (block.szx === 7) return undefined; // BERT is for reliable transports only
      offset = block.offset;
      moreAfter = block.more;
      maxSzx = block.szx;
      const size2 = options.find((o) => o.number === OptionNumber.Size2);
      total = size2 === undefined ? undefined : uintOf(size2.value);
    }
    const observed = options.some((o) => o.number === OptionNumber.Observe);
    const kept = options.filter(
      (o) =>
        o.number !== OptionNumber.Block2 &&
        o.number !== OptionNumber.Size2 &&
        o.number !== OptionNumber.Observe &&
        o.number !== OptionNumber.Echo,
    );
    // the snapshot the Block-wise server serves the next blocks from carries this same ETag (RFC 7959 §2.4)
    if (block2 === undefined && !kept.some((o) => o.number === OptionNumber.ETag)) {
      kept.push({ number: OptionNumber.ETag, value: etagOf(payload) });
    }
    // with an Echo value where a block of 16 bytes or more fits beside it, else without (a tiny request)
    return (
      this.cutTo(ex, response, limit, kept, offset, moreAfter, maxSzx, total, observed, true) ??
      this.cutTo(ex, response, limit, kept, offset, moreAfter, maxSzx, total, observed, false)
    );
  }

  private cutTo(
    ex: InboundExchange,
    response: OutgoingMessage,
    limit: number,
    kept: readonly CoapOptionInit[],
    offset: number,
    moreAfter: boolean,
    maxSzx: number,
    total: number | undefined,
    observed: boolean,
    withEcho: boolean,
  ): OutgoingMessage | undefined {
    const payload = response.payload!;
    const placeholder = new Uint8Array(ECHO_LENGTH);
    for (let szx = maxSzx; szx >= 0; szx--) {
      const size = szxToSize(szx);
      if (offset % size !== 0) continue;
      const blockOptions: CoapOptionInit[] = [
        ...kept,
        {
          number: OptionNumber.Block2,
          value: encodeBlock({ num: offset / size, more: size < payload.length || moreAfter, szx }),
        },
      ];
      if (total !== undefined) blockOptions.push({ number: OptionNumber.Size2, value: total });
      const candidate = {
        code: response.code,
        token: response.token ?? ex.message.token,
        options: withEcho
          ? [...blockOptions, { number: OptionNumber.Echo, value: placeholder }]
          : blockOptions,
        payload: payload.subarray(0, size),
      };
      if (encodedLength({ type: MessageType.ACK, messageId: 0, ...candidate }) > limit) continue;
      this.cuts++;
      if (observed) this.listener?.limited(ex);
      return {
        code: response.code,
        ...(response.token === undefined ? {} : { token: response.token }),
        options: withEcho
          ? [...blockOptions, { number: OptionNumber.Echo, value: this.echoFor(ex) }]
          : blockOptions,
        payload: candidate.payload,
      };
    }
    return undefined;
  }

  /** A fresh Echo value for `ex`'s peer, remembered until it is used or expires. */
  private echoFor(ex: InboundExchange): Uint8Array {
    const now = this.clock.now();
    const value = new Uint8Array(ECHO_LENGTH);
    for (let i = 0; i < ECHO_LENGTH; i += 4) {
      const r = this.random.nextUint32();
      value[i] = r >>> 24;
      value[i + 1] = (r >>> 16) & 0xff;
      value[i + 2] = (r >>> 8) & 0xff;
      value[i + 3] = r & 0xff;
    }
    for (const [hex, e] of this.echoes) {
      if (this.echoes.size < this.maxEchoes && e.expires > now) break;
      this.echoes.delete(hex);
    }
    this.echoes.set(toHex(value), { peer: peerKey(ex.peer), expires: now + this.echoLifetime });
    return value;
  }
}

/** A uint option's value given as a number or as its bytes (RFC 7252 §3.2). */
function uintOf(value: OptionValue): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || value.length > 4) return undefined;
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

/** An exchange with an unverified peer: a response above `limit` bytes is cut to a block or challenged. */
class LimitedExchange extends ExchangeWrapper {
  constructor(
    outer: InboundExchange,
    private readonly limit: number,
    private readonly layer: AmplificationLayer,
  ) {
    super(outer);
  }
  get message() {
    return this.outer.message;
  }
  respond(response: OutgoingMessage): void {
    let size: number;
    try {
      size = encodedLength({
        type: MessageType.ACK,
        code: response.code,
        messageId: 0,
        token: response.token ?? this.outer.message.token,
        ...(response.options === undefined ? {} : { options: response.options }),
        ...(response.payload === undefined ? {} : { payload: response.payload }),
      });
    } catch {
      this.outer.respond(response); // not encodable: the message layer reports it
      return;
    }
    if (size <= this.limit) {
      this.outer.respond(response);
      return;
    }
    this.outer.respond(this.layer.cut(this.outer, response, this.limit) ?? this.layer.challenge(this.outer));
  }
}
