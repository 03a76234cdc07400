/**
 * A CoAP endpoint: client and server over one transport (RFC 7252 §5). Requests are matched to
 * responses by token and peer (§5.3.2); the server routes on method and path, answers 4.04 / 4.05 /
 * 4.02 / 4.15 itself, generates `/.well-known/core` (RFC 6690) and honours No-Response (RFC 7967).
 * Block-wise transfers (RFC 7959) and Observe (RFC 7641) are handled here for both roles.
 */
import {
  type Block1Transfer,
  type Block2Snapshot,
  type BlockwiseLimits,
  DEFAULT_BLOCKWISE_LIMITS,
  etagOf,
  TransferStore,
} from '../blockwise/store.js';
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { filterLinks, formatLinkFormat, type Link, type LinkAttribute } from '../link-format/index.js';
import { decodeBlock, encodeBlock, sizeToSzx, szxToSize } from '../message/block.js';
import { Code, describeCode, isRequestCode } from '../message/constants.js';
import { ContentFormat } from '../message/content-formats.js';
import type { CoapMessage } from '../message/decode.js';
import { isCritical, OptionNumber, optionName } from '../message/options.js';
import type { CoapOptionInit } from '../message/types.js';
import { parseUri, uriToOptions } from '../message/uri.js';
import {
  type InboundExchange,
  MessageLayer,
  type MessageLayerOptions,
  type OutgoingMessage,
  type Transmission,
  type TransmissionCallbacks,
  type UpperLayer,
} from '../messaging/message-layer.js';
import { exchangeLifetime, maxTransmitWait, nonLifetime } from '../messaging/parameters.js';
import { Observation } from '../observe/observation.js';
import { isFresher, OBSERVE_MODULUS } from '../observe/sequence.js';
import { cryptoRandom, type Random, randomInt } from '../random.js';
import { type Peer, peerKey, type Transport } from '../transport/types.js';
import { bytesEqual, toHex, utf8Decode, utf8Encode, writeUtf8 } from '../util/bytes.js';
import { commit, MAX_POOLED, reserve, slabBytes } from '../util/pool.js';
import { CoapRequestError, CoapStatusError } from './errors.js';
import {
  assembled,
  concatChunks,
  DEFAULT_MAX_UNFRAGMENTED_SIZE,
  OuterBlockServer,
  type OuterBlockwiseOptions,
  withoutBlockOptions,
} from './outer-blockwise.js';
import { CoapResponse } from './response.js';
import { type CompiledRoute, METHOD_CODES, type Method, Router } from './router.js';
import type {
  ClientSecurity,
  SecuredRequest,
  SecurityIdentity,
  ServerSecurity,
  UnprotectResult,
} from './security.js';

export { CoapStatusError } from './errors.js';
export { CoapResponse } from './response.js';

export interface ObserveServerOptions {
  /** Observers kept in total (default 10,000); further registrations are served without Observe. */
  readonly maxObservers?: number;
  /** A notification is sent Confirmable at least this often per observer (ms; default 24 h, §4.5). */
  readonly confirmableInterval?: number;
  /** Send every notification Confirmable (default false). */
  readonly confirmable?: boolean;
}

export interface CoapEndpointOptions extends MessageLayerOptions {
  readonly transport: Transport;
  /** Token length in bytes, fixed or a [min, max] range (default [4, 8]); RFC 7252 §5.3.1. */
  readonly tokenLength?: number | readonly [number, number];
  /** Most client requests waiting for a response at once (default 10,000). */
  readonly maxPendingRequests?: number;
  /** Block size for Block-wise transfers, 16–1024 (default 1024); RFC 7959. */
  readonly blockSize?: number;
  readonly blockwise?: Partial<BlockwiseLimits>;
  readonly observe?: ObserveServerOptions;
  /**
   * Protects every client request that has no `security` of its own (e.g. OSCORE with one context, see
   * `oscoreClient` in @thimble/oscore).
   */
  readonly clientSecurity?: ClientSecurity;
  /**
   * Unprotects incoming protected requests before routing and protects their responses and notifications
   * (e.g. `oscoreServer` in @thimble/oscore, RFC 8613 §8.2 / §8.3).
   */
  readonly serverSecurity?: ServerSecurity;
  /**
   * Outer Block-wise on protected messages (RFC 8613 §4.1.3.4.2), below the security layers: the block
   * size for sending protected messages in Outer blocks and the largest one reassembled.
   */
  readonly outerBlockwise?: OuterBlockwiseOptions;
}

export interface RequestOptions {
  /** Method name or code (default GET). */
  readonly method?: Method | number;
  /** Absolute URI; alternatively `peer` plus `path` / `query` / `options`. */
  readonly uri?: string;
  readonly peer?: Peer;
  readonly path?: string | readonly string[];
  readonly query?: readonly string[];
  /**
   * Extra options (added after those from the URI). A Block2 option here asks for that one block (RFC 7959
   * §2.4, e.g. to resume a download): the response comes back as it is, without fetching further blocks.
   */
  readonly options?: readonly CoapOptionInit[];
  readonly payload?: Uint8Array | string;
  /** Confirmable (default) or Non-confirmable. */
  readonly confirmable?: boolean;
  readonly accept?: number;
  readonly contentFormat?: number;
  readonly signal?: AbortSignal;
  /** Milliseconds to wait for each response (default: MAX_TRANSMIT_WAIT for CON, NON_LIFETIME for NON). */
  readonly timeout?: number;
  /** Block size for this request (16–1024); also asks the server for it early (RFC 7959 §2.4). */
  readonly blockSize?: number;
  /** Largest response body reassembled from Block2 (default 16 MiB). */
  readonly maxBodySize?: number;
  /** Called for each block of a Block-wise transfer, in order (progress, streaming). */
  readonly onBlock?: (progress: BlockProgress) => void;
  /**
   * Protects this request (every block and retry) and verifies its responses, e.g. `oscoreClient(ctx)`;
   * `null` sends it unprotected even when the endpoint has a `clientSecurity`. A response that is not
   * protected or fails verification rejects the request with a `CoapRequestError` of reason 'security'.
   */
  readonly security?: ClientSecurity | null;
}

export interface BlockProgress {
  readonly direction: 'upload' | 'download';
  readonly offset: number;
  readonly data: Uint8Array;
  readonly more: boolean;
  /** Total size when known (Size1 / Size2). */
  readonly total: number | undefined;
}

/** A request as a server handler sees it. */
export class CoapRequest {
  private queryList: string[] | undefined;
  constructor(
    readonly message: CoapMessage,
    readonly peer: Peer,
    readonly path: readonly string[],
    readonly params: Readonly<Record<string, string>>,
    private readonly body?: Uint8Array,
    /** Set when the request came protected (e.g. OSCORE) and verified: the authenticated peer. */
    readonly security?: SecurityIdentity,
  ) {}
  get method(): number {
    return this.message.code;
  }
  /** The request body (reassembled for Block1 transfers). */
  get payload(): Uint8Array {
    return this.body ?? this.message.payload;
  }
  get contentFormat(): number | undefined {
    return this.message.getUint(OptionNumber.ContentFormat);
  }
  get accept(): number | undefined {
    return this.message.getUint(OptionNumber.Accept);
  }
  /** The Observe option of the request (0 register, 1 deregister), if any. */
  get observe(): number | undefined {
    return this.message.getUint(OptionNumber.Observe);
  }
  get query(): readonly string[] {
    if (this.queryList === undefined) this.queryList = this.message.getStrings(OptionNumber.UriQuery);
    return this.queryList;
  }
  /** The value of `name=value` in the query, `''` for a bare `name`, undefined if absent. */
  queryParam(name: string): string | undefined {
    for (const q of this.query) {
      const eq = q.indexOf('=');
      if (eq < 0 ? q === name : q.slice(0, eq) === name) return eq < 0 ? '' : q.slice(eq + 1);
    }
    return undefined;
  }
  text(): string {
    return utf8Decode(this.payload);
  }
}

/** What a handler returns. */
export interface ResponseInit {
  readonly code: number;
  readonly payload?: Uint8Array | string;
  readonly contentFormat?: number;
  readonly maxAge?: number;
  readonly etag?: Uint8Array;
  /**
   * Extra options. With a Block2 option the handler serves that block of its representation itself (the
   * payload is the block): the endpoint sends it as it is and keeps no snapshot (RFC 7959 §2.4).
   */
  readonly options?: readonly CoapOptionInit[];
}

export type Handler = (request: CoapRequest) => ResponseInit | Promise<ResponseInit>;

/** Receives a Block1 body block by block instead of having it reassembled in memory. */
export type BlockSink = (
  request: CoapRequest,
  chunk: Uint8Array,
  offset: number,
  more: boolean,
) => void | Promise<void>;

export interface RouteOptions {
  /** Content-Formats the handler accepts in request payloads; others get 4.15 (RFC 7252 §5.10.3). */
  readonly accepts?: readonly number[];
  /** Link attributes for `/.well-known/core` (rt, if, ct, obs, title, ...). Omit to hide the resource. */
  readonly link?: Readonly<Record<string, string | number | true | readonly string[]>>;
  /**
   * GET (and FETCH, RFC 8132 §2.4) on this route may register observers (RFC 7641); `notify(path)` sends
   * them the new state.
   */
  readonly observable?: boolean;
  /** Largest request body for this route (4.13 with Size1 beyond it). */
  readonly maxBodySize?: number;
  /** Streams Block1 bodies to this sink; the handler then sees an empty payload (RFC 7959 §2.5). */
  readonly blockSink?: BlockSink;
  /**
   * Only OSCORE-protected requests reach the handler; others get 4.01 Unauthorized (RFC 8613 §8.2 allows
   * a server to require OSCORE for a resource).
   */
  readonly requireOscore?: boolean;
}

interface RouteEntry {
  readonly handler: Handler;
  readonly options: RouteOptions;
}

/**
 * A request waiting for its response. It is also the message layer's callbacks for its transmission:
 * one object per request instead of a callbacks object and two closures.
 */
class PendingRequest implements TransmissionCallbacks {
  timer: TimerHandle | undefined = undefined;
  tx: Transmission | undefined = undefined;
  abort: (() => void) | undefined = undefined;
  /** The protected request whose responses must verify (object security), if any. */
  secured: SecuredRequest | undefined = undefined;
  /** Responses accepted so far (an observation ignores unverifiable ones once it is established). */
  received = 0;
  /** The protected request as sent, to ask for the rest of an Outer Block2 response (RFC 8613 §4.1.3.4.2). */
  outer: OuterRequest | undefined = undefined;
  /** When the response timer is armed only on an empty ACK: when it runs out (clock ms), and the timeout. */
  deadline: number | undefined = undefined;
  timeout = 0;
  constructor(
    readonly key: string,
    /** Where the request went: only a response from there is its answer. */
    readonly peer: Peer,
    readonly resolve: (r: CoapResponse) => void,
    readonly reject: (e: Error) => void,
    readonly signal: AbortSignal | undefined,
    /** Set for observations: every response with this token goes here and the entry stays. */
    readonly observe: ((message: CoapMessage, peer: Peer) => void) | undefined,
    /** Set for group requests: responses from any peer are collected. */
    readonly group: ((message: CoapMessage, peer: Peer) => void) | undefined,
    private readonly failure: (entry: PendingRequest, error: Error) => void,
    private readonly maxRetransmit: number,
    private readonly armLate: (entry: PendingRequest) => void,
  ) {}
  onAck(piggybacked: boolean): void {
    // an empty ACK: the response comes separately, within the request's timeout (see `dispatch`)
    if (!piggybacked && this.deadline !== undefined && this.timer === undefined) this.armLate(this);
  }
  onReset(): void {
    this.failure(this, new CoapRequestError('reset', 'the peer rejected the request (RST)'));
  }
  onTimeout(): void {
    this.failure(
      this,
      new CoapRequestError('timeout', `no acknowledgement after ${this.maxRetransmit} retransmissions`),
    );
  }
}

interface OuterRequest {
  readonly message: OutgoingMessage;
  readonly peer: Peer;
  readonly confirmable: boolean;
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
}

interface Prepared {
  readonly code: number;
  readonly peer: Peer;
  readonly options: CoapOptionInit[];
  readonly payload: Uint8Array | undefined;
  readonly confirmable: boolean;
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
  readonly blockSize: number;
  readonly earlyBlock2: boolean;
  readonly maxBodySize: number;
  readonly onBlock: ((p: BlockProgress) => void) | undefined;
  readonly security: ClientSecurity | undefined;
}

interface Observer {
  readonly key: string;
  readonly resource: string;
  readonly peer: Peer;
  token: Uint8Array;
  request: CoapRequest;
  entry: RouteEntry;
  busy: boolean;
  dirty: boolean;
  lastConfirmable: number;
  removed: boolean;
  /** Protects notifications when the registration came protected (new Partial IV each, RFC 8613 §8.3.1). */
  protect: ((m: OutgoingMessage) => OutgoingMessage) | undefined;
  /** Confirmable or not, as the last `notify` asked (undefined: the endpoint's rule). */
  confirmable: boolean | undefined;
}

/** Options of `CoapEndpoint.notify`. */
export interface NotifyOptions {
  /** Only the observers whose registration request passes (e.g. one FETCH observation of several). */
  readonly filter?: (request: CoapRequest) => boolean;
  /**
   * Send these notifications Confirmable (true) or Non-confirmable (false); a Non-confirmable observer
   * still gets a Confirmable one every `confirmableInterval` (RFC 7641 §4.5). Default: the endpoint's rule.
   */
  readonly confirmable?: boolean;
}

/** Critical options the server understands by itself (RFC 7252 §5.4.1). */
const UNDERSTOOD_CRITICAL = new Set<number>([
  OptionNumber.IfMatch,
  OptionNumber.UriHost,
  OptionNumber.IfNoneMatch,
  OptionNumber.UriPort,
  OptionNumber.UriPath,
  OptionNumber.UriQuery,
  OptionNumber.Accept,
  OptionNumber.Block1,
  OptionNumber.Block2,
]);
const SINGLE_CRITICAL = new Set<number>([
  OptionNumber.UriHost,
  OptionNumber.IfNoneMatch,
  OptionNumber.UriPort,
  OptionNumber.Accept,
  OptionNumber.Block1,
  OptionNumber.Block2,
]);

/**
 * An observer's key among those of one resource: the client, and for FETCH the query in the payload as
 * well (RFC 8132 §2.4: the payload is part of what is observed), so one client keeps several FETCH
 * observations of one resource apart while a repeated registration still replaces its own (RFC 7641 §4.1).
 */
function observerKey(peer: Peer, request: CoapRequest): string {
  if (request.message.code !== Code.FETCH) return peerKey(peer);
  return `${peerKey(peer)}|${request.contentFormat ?? ''}|${toHex(request.payload)}`;
}

/** The same transport address (what `peerKey` tells apart), without building the keys. */
const samePeer = (a: Peer, b: Peer): boolean => a.port === b.port && a.address === b.address;

function tokenKey(token: Uint8Array): string {
  let s = '';
  for (let i = 0; i < token.length; i++) s += String.fromCharCode(token[i]!);
  return s;
}

/** `tokenKey` of a received message, read from its bytes (the token follows the 4-byte header). */
function messageTokenKey(message: CoapMessage): string {
  const bytes = message.bytes;
  let s = '';
  for (let i = 4, end = 4 + message.tokenLength; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Whether a message carries an Echo option (RFC 9175 §2.2.1). */
function hasEcho(options: readonly CoapOptionInit[]): boolean {
  return options.some((o) => o.number === OptionNumber.Echo);
}

/** RFC 9175 §2.4: a 4.01 with an Echo option asks the client to repeat the request with that Echo value. */
function echoChallenge(response: CoapMessage): Uint8Array | undefined {
  if (response.code !== Code.Unauthorized) return undefined;
  return response.getOption(OptionNumber.Echo);
}

/**
 * A request that arrived protected, as the exchange layers see it: the inner (decrypted) message, and
 * responses protected on their way out (RFC 8613 §8.3).
 */
class SecuredExchange implements InboundExchange {
  constructor(
    private readonly outer: InboundExchange,
    private readonly result: Extract<UnprotectResult, { ok: true }>,
  ) {}
  get message(): CoapMessage {
    return this.result.request;
  }
  get identity(): SecurityIdentity {
    return this.result.identity;
  }
  get peer(): Peer {
    return this.outer.peer;
  }
  get responded(): boolean {
    return this.outer.responded;
  }
  get multicast(): boolean {
    return this.outer.multicast;
  }
  acknowledge(): void {
    this.outer.acknowledge();
  }
  protect(response: OutgoingMessage): OutgoingMessage {
    return this.result.protectResponse(response);
  }
  respond(response: OutgoingMessage): void {
    let out: OutgoingMessage;
    try {
      out = this.result.protectResponse(response);
    } catch {
      // e.g. the sender sequence numbers are exhausted: an unprotected 5.00 is all we can say
      out = { code: Code.InternalServerError };
    }
    this.outer.respond(out);
  }
}

/** " (peer said 4.01 Unauthorized: Security context not found)" for an unprotected error response. */
function unprotectedDiagnostic(message: CoapMessage): string {
  if (message.code >>> 5 < 4) return '';
  const text = message.payloadLength > 0 ? `: ${utf8Decode(message.payload)}` : '';
  return ` (peer answered ${describeCode(message.code)}${text})`;
}

function identityOf(ex: InboundExchange): SecurityIdentity | undefined {
  return ex instanceof SecuredExchange ? ex.identity : undefined;
}

function toBytes(payload: Uint8Array | string | undefined): Uint8Array | undefined {
  if (typeof payload !== 'string') return payload;
  // A short string is encoded into the shared slab (a view costs far less than a new ArrayBuffer); the
  // bytes are copied into the encoded message right away, so the view never outlives this request.
  if (payload.length * 3 <= MAX_POOLED) {
    const start = reserve(payload.length * 3);
    return commit(start, writeUtf8(payload, slabBytes(), start) - start);
  }
  return utf8Encode(payload);
}

function linkAttributes(link: NonNullable<RouteOptions['link']>): LinkAttribute[] {
  const out: LinkAttribute[] = [];
  for (const [name, v] of Object.entries(link)) {
    if (v === true) out.push({ name, value: true });
    else if (Array.isArray(v)) out.push({ name, value: v.join(' ') });
    else out.push({ name, value: String(v) });
  }
  return out;
}

/** The options a handler's response asks for (ETag, Content-Format, Max-Age, extra), after `first`. */
function responseOptions(response: ResponseInit, first: CoapOptionInit[]): CoapOptionInit[] {
  const options = first;
  if (response.etag !== undefined) options.push({ number: OptionNumber.ETag, value: response.etag });
  if (response.contentFormat !== undefined) {
    options.push({ number: OptionNumber.ContentFormat, value: response.contentFormat });
  }
  if (response.maxAge !== undefined) options.push({ number: OptionNumber.MaxAge, value: response.maxAge });
  if (response.options !== undefined) for (const o of response.options) options.push(o);
  return options;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

export class CoapEndpoint implements UpperLayer {
  readonly messaging: MessageLayer;
  readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly tokenRange: readonly [number, number];
  private readonly maxPending: number;
  private readonly blockSize: number;
  private readonly transfers: TransferStore;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly router = new Router<RouteEntry>();
  private readonly understood = new Set(UNDERSTOOD_CRITICAL);
  private readonly linkProviders: (() => Link[])[] = [];
  private readonly observers = new Map<string, Map<string, Observer>>();
  private observerCount = 0;
  private observeSequence = 0;
  private readonly observeOptions: Required<ObserveServerOptions>;
  private readonly clientSecurity: ClientSecurity | undefined;
  private security: ServerSecurity | undefined;
  private readonly outerBlockSize: number | undefined;
  private readonly outerMaxMessageSize: number;
  private outerServer: OuterBlockServer | undefined;
  /** MAX_TRANSMIT_WAIT: request timeouts from this long on arm their response timer late (see `dispatch`). */
  private readonly lateArmingFrom: number;
  private closed = false;

  constructor(options: CoapEndpointOptions) {
    this.transport = options.transport;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
    const tl = options.tokenLength ?? [4, 8];
    this.tokenRange = typeof tl === 'number' ? [tl, tl] : tl;
    if (this.tokenRange[0] < 1 || this.tokenRange[1] > 8 || this.tokenRange[0] > this.tokenRange[1]) {
      throw new RangeError('token length must be within 1-8 bytes');
    }
    this.maxPending = options.maxPendingRequests ?? 10_000;
    this.blockSize = options.blockSize ?? 1024;
    sizeToSzx(this.blockSize); // validates
    this.messaging = new MessageLayer(options.transport, {
      ...options,
      clock: this.clock,
      random: this.random,
    });
    this.lateArmingFrom = maxTransmitWait(this.messaging.parameters);
    // A transfer must outlive the slowest block exchange: EXCHANGE_LIFETIME unless configured.
    this.transfers = new TransferStore({
      ...DEFAULT_BLOCKWISE_LIMITS,
      transferTimeout: exchangeLifetime(this.messaging.parameters),
      ...options.blockwise,
    });
    this.observeOptions = {
      maxObservers: options.observe?.maxObservers ?? 10_000,
      confirmableInterval: options.observe?.confirmableInterval ?? 24 * 3600_000,
      confirmable: options.observe?.confirmable ?? false,
    };
    this.clientSecurity = options.clientSecurity;
    this.outerBlockSize = options.outerBlockwise?.blockSize;
    if (this.outerBlockSize !== undefined) sizeToSzx(this.outerBlockSize); // validates
    this.outerMaxMessageSize = options.outerBlockwise?.maxMessageSize ?? DEFAULT_MAX_UNFRAGMENTED_SIZE;
    if (options.serverSecurity !== undefined) this.setServerSecurity(options.serverSecurity);
    this.messaging.setUpperLayer(this);
    options.transport.onError((error, peer) => this.failPeer(error, peer));
  }

  /** The transport's local address. */
  get local(): Peer {
    return this.transport.local;
  }

  /** The server-side security layer, if one is installed. */
  get serverSecurity(): ServerSecurity | undefined {
    return this.security;
  }

  /**
   * Installs the server-side security layer after construction, for an application layer that owns the
   * credentials (e.g. an LwM2M server building OSCORE contexts from its credential store). Throws when one
   * is installed already: layers do not stack.
   */
  setServerSecurity(security: ServerSecurity): void {
    if (this.security !== undefined) throw new Error('a server security layer is installed already');
    this.security = security;
    // RFC 8613 §4.1.3.4.2: Outer Block-wise needs to tell protected messages apart
    this.outerServer =
      security.isProtected === undefined
        ? undefined
        : new OuterBlockServer(this.transfers, this.clock, this.outerBlockSize, this.outerMaxMessageSize);
    // RFC 8613 §2: the OSCORE option is critical; a server without a security layer answers 4.02
    this.understood.add(OptionNumber.OSCORE);
  }

  /** Declares a critical option as understood by a layer above (e.g. OSCORE). */
  understandOption(number: number): void {
    this.understood.add(number);
  }

  // ================================================================== client

  private newToken(): Uint8Array {
    const [min, max] = this.tokenRange;
    for (;;) {
      const token = this.random.fill(new Uint8Array(min === max ? min : randomInt(this.random, min, max)));
      if (!this.pending.has(tokenKey(token))) return token;
    }
  }

  private async prepare(options: RequestOptions): Promise<Prepared> {
    if (options.uri === undefined) return this.prepareFor(options, undefined);
    const u = this.parseRequestUri(options.uri);
    const peer =
      options.peer ??
      (this.transport.resolve
        ? await this.transport.resolve(u.host, u.port)
        : { address: u.host, port: u.port });
    return this.prepareFor(options, { uri: u, peer });
  }

  private parseRequestUri(uri: string): ReturnType<typeof parseUri> {
    if (this.closed) throw new CoapRequestError('closed', 'endpoint is closed');
    let u: ReturnType<typeof parseUri>;
    try {
      u = parseUri(uri);
    } catch (e) {
      throw new CoapRequestError('invalid-request', (e as Error).message, { cause: e });
    }
    if (u.scheme !== this.transport.scheme) {
      throw new CoapRequestError(
        'invalid-request',
        `this endpoint speaks ${this.transport.scheme}://, not ${u.scheme}://`,
      );
    }
    return u;
  }

  /** Builds a request; `target` is its parsed URI with the peer it resolved to, when it has a URI. */
  private prepareFor(
    options: RequestOptions,
    target: { readonly uri: ReturnType<typeof parseUri>; readonly peer: Peer } | undefined,
  ): Prepared {
    if (this.closed) throw new CoapRequestError('closed', 'endpoint is closed');
    const method = options.method ?? 'GET';
    const code = typeof method === 'number' ? method : METHOD_CODES[method];
    if (code === undefined || !isRequestCode(code)) {
      throw new CoapRequestError('invalid-request', `unknown method ${String(method)}`);
    }
    let peer: Peer;
    const opts: CoapOptionInit[] = [];
    if (options.uri !== undefined) {
      const u = target?.uri ?? this.parseRequestUri(options.uri);
      peer = target?.peer ?? options.peer ?? { address: u.host, port: u.port };
      for (const o of uriToOptions(u, peer.port)) opts.push(o);
    } else if (options.peer !== undefined) {
      peer = options.peer;
      const path = options.path ?? [];
      const segments = typeof path === 'string' ? path.split('/').filter((s) => s !== '') : path;
      for (const s of segments) opts.push({ number: OptionNumber.UriPath, value: s });
      for (const q of options.query ?? []) opts.push({ number: OptionNumber.UriQuery, value: q });
    } else {
      throw new CoapRequestError('invalid-request', 'a request needs a uri or a peer');
    }
    if (options.contentFormat !== undefined) {
      opts.push({ number: OptionNumber.ContentFormat, value: options.contentFormat });
    }
    if (options.accept !== undefined) opts.push({ number: OptionNumber.Accept, value: options.accept });
    if (options.options !== undefined) for (const o of options.options) opts.push(o);
    const confirmable = options.confirmable ?? true;
    const timeout =
      options.timeout ??
      (confirmable
        ? maxTransmitWait(this.messaging.parameters) + this.messaging.parameters.processingDelay
        : nonLifetime(this.messaging.parameters));
    const blockSize = options.blockSize ?? this.blockSize;
    try {
      sizeToSzx(blockSize);
    } catch (e) {
      throw new CoapRequestError('invalid-request', (e as Error).message);
    }
    return {
      code,
      peer,
      options: opts,
      payload: toBytes(options.payload),
      confirmable,
      timeout,
      signal: options.signal,
      blockSize,
      earlyBlock2: options.blockSize !== undefined,
      maxBodySize: options.maxBodySize ?? 16 * 1024 * 1024,
      onBlock: options.onBlock,
      security: options.security === null ? undefined : (options.security ?? this.clientSecurity),
    };
  }

  /**
   * Sends a request and resolves with the response, running Block1 / Block2 transfers transparently
   * (RFC 7959). Rejects with `CoapRequestError` when no response comes.
   */
  request(options: RequestOptions): Promise<CoapResponse> {
    // by peer (no URI to resolve) the request is built at once: one promise and microtask less
    if (options.uri === undefined) {
      let p: Prepared;
      try {
        p = this.prepareFor(options, undefined);
      } catch (e) {
        return Promise.reject(e);
      }
      return this.requestPrepared(p);
    }
    return this.prepare(options).then((p) => this.requestPrepared(p));
  }

  private async requestPrepared(p: Prepared): Promise<CoapResponse> {
    let response: CoapResponse;
    if (p.payload !== undefined && p.payload.length > p.blockSize) {
      response = await this.upload(p);
    } else {
      const extra: CoapOptionInit[] = [];
      if (p.earlyBlock2 && (p.code === Code.GET || p.code === Code.FETCH)) {
        extra.push({
          number: OptionNumber.Block2,
          value: encodeBlock({ num: 0, more: false, szx: sizeToSzx(p.blockSize) }),
        });
      }
      response = await this.single(p, extra, p.payload);
    }
    return this.download(p, response);
  }

  /** One request/response exchange with a fresh token. */
  private single(
    p: Prepared,
    extra: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
  ): Promise<CoapResponse> {
    if (this.pending.size >= this.maxPending) return Promise.reject(this.queueFull());
    const options = extra.length === 0 ? p.options : [...p.options, ...extra];
    return this.send(p, options, payload).then((r) => this.echoRetry(p, options, payload, r) ?? r);
  }

  private queueFull(): CoapRequestError {
    return new CoapRequestError('queue-full', `more than ${this.maxPending} requests pending`);
  }

  private send(
    p: Prepared,
    options: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
  ): Promise<CoapResponse> {
    return this.exchange(
      { code: p.code, token: this.newToken(), options, payload },
      p.peer,
      p.confirmable,
      p.timeout,
      p.signal,
      undefined,
      undefined,
      p.security,
    );
  }

  /**
   * RFC 9175 §2.4 / RFC 8613 Appendix B.1.2: a 4.01 with Echo is answered once by repeating the request
   * (protected anew) with the Echo value, e.g. after an OSCORE server lost its replay window. Returns the
   * repeated exchange, or undefined when `r` is the answer.
   */
  private echoRetry(
    p: Prepared,
    options: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
    r: CoapResponse,
  ): Promise<CoapResponse> | undefined {
    const echo = echoChallenge(r.message);
    if (echo === undefined || hasEcho(options)) return undefined;
    return this.send(p, [...options, { number: OptionNumber.Echo, value: echo.slice() }], payload);
  }

  /** RFC 7959 §2.5: a body larger than the block size goes as Block1 blocks. */
  private async upload(p: Prepared): Promise<CoapResponse> {
    const body = p.payload!;
    let size = p.blockSize;
    let offset = 0;
    let restarts = 0;
    // RFC 9175 §3: a Request-Tag keeps concurrent transfers to the same resource apart
    const tag = this.random.fill(new Uint8Array(4));
    for (;;) {
      const szx = sizeToSzx(size);
      const chunk = body.subarray(offset, offset + size);
      const more = offset + chunk.length < body.length;
      const num = offset / size;
      const extra: CoapOptionInit[] = [
        { number: OptionNumber.Block1, value: encodeBlock({ num, more, szx }) },
        { number: OptionNumber.RequestTag, value: tag },
      ];
      if (num === 0) extra.push({ number: OptionNumber.Size1, value: body.length });
      // `single` inlined: the block loop awaits the exchange itself (one promise and microtask less)
      if (this.pending.size >= this.maxPending) throw this.queueFull();
      const options = [...p.options, ...extra];
      let r = await this.send(p, options, chunk);
      const retry = this.echoRetry(p, options, chunk, r);
      if (retry !== undefined) r = await retry;
      const ack = r.message.getUint(OptionNumber.Block1);
      const acked = ack === undefined ? undefined : decodeBlock(ack);
      if (r.code === Code.RequestEntityTooLarge && acked !== undefined && acked.szx < szx && restarts < 3) {
        // §2.9.3: the server wants smaller blocks: start over with its size
        size = acked.size;
        offset = 0;
        restarts++;
        continue;
      }
      p.onBlock?.({ direction: 'upload', offset, data: chunk, more, total: body.length });
      if (!more || r.code !== Code.Continue) return r;
      offset += chunk.length;
      // §2.3: late negotiation, the server may ask for smaller blocks from now on
      if (acked !== undefined && acked.szx < szx && acked.szx < 7) size = acked.size;
    }
  }

  /** RFC 7959 §2.4: fetches the remaining blocks of a Block2 response and reassembles the body. */
  private async download(p: Prepared, first: CoapResponse): Promise<CoapResponse> {
    const value = first.message.getUint(OptionNumber.Block2);
    if (value === undefined) return first;
    const block = decodeBlock(value);
    if (!block.more && block.num === 0) return first;
    if (p.code !== Code.GET && p.code !== Code.FETCH) return first; // continuing would repeat the action
    // the caller asked for one block itself (e.g. to resume a download): it gets that block and no more
    if (p.options.some((o) => o.number === OptionNumber.Block2)) return first;
    let attempt = 0;
    let response = first;
    for (;;) {
      try {
        return await this.downloadFrom(p, response);
      } catch (e) {
        if (!(e instanceof EtagChanged) || ++attempt > 3) throw e;
        // the representation changed mid-transfer: start again from block 0 (§2.4)
        response = await this.single(
          p,
          [{ number: OptionNumber.Block2, value: encodeBlock({ num: 0, more: false, szx: block.szx }) }],
          p.payload,
        );
        if (response.message.getUint(OptionNumber.Block2) === undefined) return response;
      }
    }
  }

  private async downloadFrom(p: Prepared, first: CoapResponse): Promise<CoapResponse> {
    const block = decodeBlock(first.message.getUint(OptionNumber.Block2)!);
    if (block.num !== 0)
      throw new CoapRequestError('invalid-request', 'Block2 transfer did not start at block 0');
    const etag = first.message.getOption(OptionNumber.ETag);
    const total = first.message.getUint(OptionNumber.Size2);
    if (total !== undefined && total > p.maxBodySize) {
      throw new CoapRequestError(
        'invalid-request',
        `response of ${total} bytes exceeds maxBodySize ${p.maxBodySize}`,
      );
    }
    const chunks: Uint8Array[] = [first.payload];
    let received = first.payload.length;
    let more = block.more;
    let szx = Math.min(block.szx, 6);
    p.onBlock?.({ direction: 'download', offset: 0, data: first.payload, more, total });
    let last = first;
    while (more) {
      const size = szxToSize(szx);
      if (received % size !== 0)
        throw new CoapRequestError('invalid-request', 'Block2 blocks do not line up');
      const num = received / size;
      // `single` inlined: the block loop awaits the exchange itself (one promise and microtask less)
      if (this.pending.size >= this.maxPending) throw this.queueFull();
      const options = [
        ...p.options,
        { number: OptionNumber.Block2, value: encodeBlock({ num, more: false, szx }) },
      ];
      let r = await this.send(p, options, p.payload);
      const retry = this.echoRetry(p, options, p.payload, r);
      if (retry !== undefined) r = await retry;
      if (r.code !== first.code) return r; // an error in the middle of the transfer is the answer
      const v = r.message.getUint(OptionNumber.Block2);
      if (v === undefined) return r; // the server sent the whole (new) representation
      const b = decodeBlock(v);
      const tag = r.message.getOption(OptionNumber.ETag);
      if ((etag === undefined) !== (tag === undefined) || (etag !== undefined && !bytesEqual(etag, tag!))) {
        throw new EtagChanged();
      }
      if (b.offset !== received)
        throw new CoapRequestError('invalid-request', 'unexpected Block2 block number');
      if (received + r.payload.length > p.maxBodySize) {
        throw new CoapRequestError('invalid-request', `response exceeds maxBodySize ${p.maxBodySize}`);
      }
      chunks.push(r.payload);
      p.onBlock?.({ direction: 'download', offset: received, data: r.payload, more: b.more, total });
      received += r.payload.length;
      more = b.more;
      szx = Math.min(b.szx, 6);
      last = r;
    }
    return new CoapResponse(last.message, last.peer, concat(chunks, received));
  }

  private exchange(
    message: OutgoingMessage,
    peer: Peer,
    confirmable: boolean,
    timeout: number,
    signal: AbortSignal | undefined,
    observe?: PendingRequest['observe'],
    group?: PendingRequest['group'],
    security?: ClientSecurity,
  ): Promise<CoapResponse> {
    return new Promise<CoapResponse>((resolve, reject) => {
      if (this.closed) {
        reject(new CoapRequestError('closed', 'endpoint is closed'));
        return;
      }
      if (signal?.aborted) {
        reject(new CoapRequestError('aborted', 'request aborted', { cause: signal.reason }));
        return;
      }
      const key = tokenKey(message.token!);
      const entry = new PendingRequest(
        key,
        peer,
        resolve,
        reject,
        signal,
        observe,
        group,
        this.failEntry,
        this.messaging.parameters.maxRetransmit,
        this.armLate,
      );
      let outgoing = message;
      if (security !== undefined) {
        try {
          entry.secured = security.protectRequest(message, confirmable);
        } catch (e) {
          reject(
            new CoapRequestError('security', `cannot protect the request: ${(e as Error).message}`, {
              cause: e,
            }),
          );
          return;
        }
        outgoing = entry.secured.message;
        if (observe === undefined && group === undefined && security.outerBlockwise === true) {
          entry.outer = { message: outgoing, peer, confirmable, timeout, signal };
          const limit = this.outerBlockSize;
          if (limit !== undefined && (outgoing.payload?.length ?? 0) > limit) {
            // RFC 8613 §4.1.3.4.2: the protected request goes in Outer Block1 blocks; the last one
            // is sent under this entry and gets the (protected) response
            this.sendOuterBlock1(entry, outgoing, limit).catch((e: unknown) => reject(e));
            return;
          }
        }
      }
      this.dispatch(entry, outgoing, peer, confirmable, timeout);
    });
  }

  /** Registers a pending request and sends its message (the last Outer block of it, if split). */
  private dispatch(
    entry: PendingRequest,
    outgoing: OutgoingMessage,
    peer: Peer,
    confirmable: boolean,
    timeout: number,
  ): void {
    const { key, group, signal, resolve } = entry;
    this.pending.set(key, entry);
    // Sent first, timers after: the peer can start on the request meanwhile (lock-step Block-wise), and
    // no response can arrive before this returns (transports deliver asynchronously).
    const tx = this.messaging.send(outgoing, peer, confirmable, entry);
    entry.tx = tx;
    if (
      confirmable &&
      group === undefined &&
      entry.observe === undefined &&
      tx.messageId >= 0 &&
      timeout >= this.lateArmingFrom
    ) {
      // A Confirmable request on its way (not queued behind NSTART) whose timeout is at least
      // MAX_TRANSMIT_WAIT: until it is acknowledged, the message layer gives up first (RFC 7252 §4.2,
      // at most MAX_TRANSMIT_WAIT after sending), and a piggybacked response ends it. So the response
      // timer is armed only on an empty ACK, for the same deadline: one timer less per request.
      entry.deadline = this.clock.now() + timeout;
      entry.timeout = timeout;
    } else {
      entry.timer = this.clock.setTimeout(
        () =>
          group !== undefined
            ? this.settle(entry) && resolve(undefined as unknown as CoapResponse)
            : this.fail(entry, new CoapRequestError('timeout', `no response within ${timeout} ms`)),
        timeout,
      );
    }
    if (signal !== undefined) {
      entry.abort = () =>
        this.fail(entry, new CoapRequestError('aborted', 'request aborted', { cause: signal.reason }));
      signal.addEventListener('abort', entry.abort, { once: true });
    }
  }

  /**
   * RFC 8613 §4.1.3.4.2 with RFC 7959 §2.5: sends the protected request (protected once, by the caller)
   * in Outer Block1 blocks of `blockSize`, each a plain exchange answered 2.31 Continue by the next hop;
   * the last block goes under `entry`, whose response is the protected answer.
   */
  private async sendOuterBlock1(
    entry: PendingRequest,
    outgoing: OutgoingMessage,
    blockSize: number,
  ): Promise<void> {
    const { peer, confirmable, timeout, signal } = entry.outer!;
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
        if (this.closed) throw new CoapRequestError('closed', 'endpoint is closed');
        if (signal?.aborted)
          throw new CoapRequestError('aborted', 'request aborted', { cause: signal.reason });
        this.dispatch(
          entry,
          { code: outgoing.code, token: outgoing.token, options, payload: chunk },
          peer,
          confirmable,
          timeout,
        );
        return;
      }
      // every block a fresh token; the blocks are matched by the OSCORE option (one Partial IV)
      const r = await this.exchange(
        { code: outgoing.code, token: this.newToken(), options, payload: chunk },
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
  private async receiveOuterBlock2(entry: PendingRequest, first: CoapMessage): Promise<CoapMessage> {
    const o = entry.outer!;
    let block = decodeBlock(first.getUint(OptionNumber.Block2)!);
    if (block.num !== 0) {
      throw new CoapRequestError('security', 'the Outer Block2 transfer did not start at block 0');
    }
    const limit = this.outerMaxMessageSize;
    const total = first.getUint(OptionNumber.Size2);
    const tooLarge = () =>
      new CoapRequestError('security', `protected response exceeds the outer maximum message size ${limit}`);
    if ((total !== undefined && total > limit) || first.payloadLength > limit) throw tooLarge();
    // The received datagram buffers are fresh per message (transports never reuse them): keep views.
    const chunks: Uint8Array[] = [first.payload];
    let received = first.payloadLength;
    let szx = Math.min(block.szx, 6);
    const base = withoutBlockOptions(o.message.options);
    while (block.more) {
      const size = szxToSize(szx);
      if (received % size !== 0) throw new CoapRequestError('security', 'Outer Block2 blocks do not line up');
      const r = await this.exchange(
        {
          code: o.message.code,
          token: this.newToken(),
          options: [
            ...base,
            { number: OptionNumber.Block2, value: encodeBlock({ num: received / size, more: false, szx }) },
          ],
        },
        o.peer,
        o.confirmable,
        o.timeout,
        o.signal,
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

  private settle(entry: PendingRequest): boolean {
    if (this.pending.get(entry.key) !== entry) return false;
    this.pending.delete(entry.key);
    if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
    if (entry.abort !== undefined) entry.signal?.removeEventListener('abort', entry.abort);
    entry.tx?.cancel();
    return true;
  }

  private fail(entry: PendingRequest, error: Error): void {
    if (this.settle(entry)) entry.reject(error);
  }

  private readonly failEntry = (entry: PendingRequest, error: Error): void => this.fail(entry, error);

  /** Arms the response timer of a request acknowledged with an empty ACK (see `dispatch`). */
  private readonly armLate = (entry: PendingRequest): void => {
    if (this.pending.get(entry.key) !== entry) return;
    entry.timer = this.clock.setTimeout(
      () => this.fail(entry, new CoapRequestError('timeout', `no response within ${entry.timeout} ms`)),
      Math.max(0, entry.deadline! - this.clock.now()),
    );
  };

  private failPeer(error: Error, peer: Peer | undefined): void {
    if (peer === undefined) return;
    for (const entry of [...this.pending.values()]) {
      if (samePeer(entry.peer, peer)) {
        this.fail(entry, new CoapRequestError('transport', error.message, { cause: error }));
      }
    }
  }

  /** @internal message layer → exchange layer */
  onResponse(message: CoapMessage, peer: Peer): boolean {
    const entry = this.pending.get(messageTokenKey(message));
    if (entry === undefined) return false;
    if (entry.group !== undefined) {
      entry.group(message, peer);
      return true;
    }
    if (!samePeer(entry.peer, peer)) return false;
    let inner = message;
    if (entry.secured !== undefined) {
      if (entry.outer !== undefined && message.hasOption(OptionNumber.Block2)) {
        // RFC 8613 §4.1.3.4.2: a protected response in Outer Block2 blocks; unprotect it once it is whole
        const secured = entry.secured;
        this.settle(entry);
        this.receiveOuterBlock2(entry, message).then(
          (whole) => {
            let verified: CoapMessage;
            try {
              verified = secured.unprotectResponse(whole);
            } catch (e) {
              entry.reject(
                new CoapRequestError(
                  'security',
                  `response rejected by the security layer: ${(e as Error).message}`,
                  {
                    cause: e,
                  },
                ),
              );
              return;
            }
            entry.received++;
            entry.resolve(new CoapResponse(verified, peer));
          },
          (e: unknown) => entry.reject(e as Error),
        );
        return true;
      }
      try {
        inner = entry.secured.unprotectResponse(message);
      } catch (e) {
        // RFC 8613 §8.4: an unprotected or unverifiable response is never taken as the answer. An
        // established observation just drops it (it may be forged); a request fails with the reason.
        if (entry.observe !== undefined && entry.received > 0) return true;
        this.fail(
          entry,
          new CoapRequestError(
            'security',
            `response rejected by the security layer: ${(e as Error).message}${unprotectedDiagnostic(message)}`,
            { cause: e },
          ),
        );
        return true;
      }
    }
    entry.received++;
    if (entry.observe !== undefined) {
      entry.tx?.cancel();
      entry.observe(inner, peer);
      return true;
    }
    this.settle(entry);
    entry.resolve(new CoapResponse(inner, peer));
    return true;
  }

  /**
   * CoAP ping (RFC 7252 §4.3): an Empty Confirmable message that a live peer answers with a Reset.
   * Resolves true on the Reset, false if the peer never answers.
   */
  ping(peer: Peer): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.messaging.send({ code: Code.Empty }, peer, true, {
        onReset: () => resolve(true),
        onAck: () => resolve(true),
        onTimeout: () => resolve(false),
      });
    });
  }

  /**
   * Observes a resource (RFC 7641): resolves once the first response arrived. Notifications come newest
   * first through the async iterator and as `notification` events; reordered ones are dropped (§3.4).
   * The registration is renewed when Max-Age runs out without a notification (§3.3.1). FETCH observes a
   * query in the payload (RFC 8132 §2.4); its cancellation repeats the payload.
   */
  async observe(
    uriOrOptions: string | RequestOptions,
    options: Omit<RequestOptions, 'uri'> = {},
  ): Promise<Observation> {
    const req = typeof uriOrOptions === 'string' ? { ...options, uri: uriOrOptions } : uriOrOptions;
    const p = await this.prepare({ ...req, method: req.method ?? 'GET' });
    const token = this.newToken();
    const key = tokenKey(token);
    let first: ((r: CoapResponse) => void) | undefined;
    const firstResponse = new Promise<CoapResponse>((resolve) => {
      first = resolve;
    });
    const { observation, onMessage, register } = this.observationOf(p, token, (r) => {
      const f = first;
      first = undefined;
      f?.(r);
    });
    const registration = this.exchange(
      { code: p.code, token, options: register, payload: p.payload },
      p.peer,
      p.confirmable,
      p.timeout,
      p.signal,
      onMessage,
      undefined,
      p.security,
    );
    // The entry stays in `pending`; the exchange promise only settles on failure.
    registration.catch((e: unknown) => observation.fail(e as Error));
    await Promise.race([firstResponse, registration]);
    const entry = this.pending.get(key);
    if (entry?.timer !== undefined) {
      this.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    return observation;
  }

  /**
   * Takes up an observation this endpoint (or an earlier run of it) registered with `token`, without
   * sending anything: notifications from `peer` with that token are delivered again, e.g. after a server
   * restarted and reloaded its observations from a store (RFC 7641 §3.3.1: the registration is renewed with
   * the same token when Max-Age runs out). `options` are those of the original request (method, path,
   * query, Accept, payload), used for the renewal and the cancellation. Secured observations cannot be
   * resumed (their responses verify against the lost request binding, RFC 8613 §8.4). Aborting `signal`
   * forgets the token without a message (late notifications then get RST).
   */
  resumeObservation(options: Omit<RequestOptions, 'uri'> & { readonly token: Uint8Array }): Observation {
    if (this.closed) throw new CoapRequestError('closed', 'endpoint is closed');
    const p = this.prepareFor({ ...options, method: options.method ?? 'GET' }, undefined);
    if (p.security !== undefined)
      throw new CoapRequestError('invalid-request', 'a secured observation cannot be resumed');
    const token = options.token;
    if (token.length < 1 || token.length > 8)
      throw new CoapRequestError('invalid-request', 'a token has 1-8 bytes');
    const key = tokenKey(token);
    if (this.pending.has(key)) throw new CoapRequestError('invalid-request', 'the token is in use');
    if (this.pending.size >= this.maxPending)
      throw new CoapRequestError('queue-full', `more than ${this.maxPending} requests pending`);
    if (p.signal?.aborted)
      throw new CoapRequestError('aborted', 'request aborted', { cause: p.signal.reason });
    const { observation, onMessage } = this.observationOf(p, token.slice(), undefined);
    const entry = new PendingRequest(
      key,
      p.peer,
      () => undefined,
      (e) => observation.fail(e),
      p.signal,
      onMessage,
      undefined,
      this.failEntry,
      this.messaging.parameters.maxRetransmit,
      this.armLate,
    );
    entry.received = 1;
    if (p.signal !== undefined) {
      const signal = p.signal;
      entry.abort = () =>
        this.fail(entry, new CoapRequestError('aborted', 'request aborted', { cause: signal.reason }));
      signal.addEventListener('abort', entry.abort, { once: true });
    }
    this.pending.set(key, entry);
    return observation;
  }

  /**
   * The client side of one observation (RFC 7641 §3): the `Observation`, the handler of every response
   * with its token, and the registration options. `first` receives the first response, if wanted.
   */
  private observationOf(
    p: Prepared,
    token: Uint8Array,
    first: ((r: CoapResponse) => void) | undefined,
  ): {
    observation: Observation;
    onMessage: (message: CoapMessage, peer: Peer) => void;
    register: CoapOptionInit[];
  } {
    const key = tokenKey(token);
    const register = [...p.options, { number: OptionNumber.Observe, value: 0 }];
    let last: { seq: number; time: number } | undefined;
    let renewTimer: TimerHandle | undefined;
    let waitingFirst = first !== undefined;
    let ended = false;
    const endObservation = () => {
      ended = true;
      if (renewTimer !== undefined) this.clock.clearTimeout(renewTimer);
      const entry = this.pending.get(key);
      if (entry !== undefined) this.settle(entry);
    };
    const observation: Observation = new Observation(async () => {
      if (ended) return;
      endObservation();
      // §3.6: deregister with Observe = 1 (same token, and the same payload for FETCH, RFC 8132 §2.4);
      // late notifications then get RST
      await this.exchange(
        {
          code: p.code,
          token,
          options: [...p.options, { number: OptionNumber.Observe, value: 1 }],
          payload: p.payload,
        },
        p.peer,
        p.confirmable,
        Math.min(p.timeout, 10_000),
        undefined,
        undefined,
        undefined,
        p.security,
      ).catch(() => undefined);
    }, token);
    const renew = (maxAge: number) => {
      if (renewTimer !== undefined) this.clock.clearTimeout(renewTimer);
      renewTimer = this.clock.setTimeout(
        () => {
          renewTimer = undefined;
          if (ended) return;
          // §3.3.1: Max-Age passed without a notification: register again with the same token
          const entry = this.pending.get(key);
          if (entry === undefined) return;
          const outgoing = this.protectAgain(entry, p, {
            code: p.code,
            token,
            options: register,
            payload: p.payload,
          });
          if (outgoing === undefined) {
            endObservation();
            observation.fail(new CoapRequestError('security', 'cannot protect the re-registration'));
            return;
          }
          entry.tx = this.messaging.send(outgoing, p.peer, true, {
            onTimeout: () => {
              endObservation();
              observation.fail(
                new CoapRequestError('timeout', 'observation lost: re-registration unanswered'),
              );
            },
            onReset: () => {
              endObservation();
              observation.fail(new CoapRequestError('reset', 'the server rejected the re-registration'));
            },
          });
          renew(maxAge);
        },
        maxAge * 1000 + 2_000 + randomInt(this.random, 0, 1000),
      );
    };
    let echoed = false;
    const onMessage = (message: CoapMessage, peer: Peer) => {
      const echo = waitingFirst && !echoed ? echoChallenge(message) : undefined;
      const entry = this.pending.get(key);
      if (echo !== undefined && entry !== undefined) {
        // RFC 9175 §2.4: register again (same token, protected anew) with the server's Echo value
        echoed = true;
        const outgoing = this.protectAgain(entry, p, {
          code: p.code,
          token,
          options: [...register, { number: OptionNumber.Echo, value: echo.slice() }],
          payload: p.payload,
        });
        if (outgoing !== undefined) {
          entry.received = 0;
          entry.tx = this.messaging.send(outgoing, p.peer, p.confirmable, {
            onReset: () =>
              this.fail(entry, new CoapRequestError('reset', 'the peer rejected the request (RST)')),
            onTimeout: () => this.fail(entry, new CoapRequestError('timeout', 'no acknowledgement')),
          });
          return;
        }
      }
      const seq = message.getUint(OptionNumber.Observe);
      const now = this.clock.now();
      let response = new CoapResponse(message, peer);
      const deliver = (r: CoapResponse) => {
        if (waitingFirst) {
          waitingFirst = false;
          first?.(r);
        }
        observation.deliver(r);
      };
      if (seq === undefined || !response.ok) {
        // not (or no longer) observed: this is the last response (§3.2)
        endObservation();
        deliver(response);
        observation.end();
        return;
      }
      // Reordered notifications are dropped (§3.4). A secured exchange orders them itself: OSCORE accepts a
      // notification only with a Partial IV above the last one (RFC 8613 §7.4.1), and the Observe values
      // it hands up may not compare (a first response without Partial IV reads as 0, like Partial IV 0).
      const secured = entry?.secured !== undefined;
      if (!secured && last !== undefined && !isFresher(last.seq, last.time, seq, now)) return;
      last = { seq, time: now };
      renew(message.getUint(OptionNumber.MaxAge) ?? 60);
      const block = message.getUint(OptionNumber.Block2);
      if (block !== undefined && decodeBlock(block).more) {
        // RFC 7959 §3.4: fetch the rest of a large notification with plain GETs
        const plain: Prepared = { ...p, options: p.options };
        this.download(plain, response).then(
          (full) => {
            if (!ended && last?.seq === seq) deliver(full);
          },
          () => undefined,
        );
        return;
      }
      response = new CoapResponse(message, peer);
      deliver(response);
    };
    return { observation, onMessage, register };
  }

  /**
   * The message to send for a new request on an existing exchange (same token): protected anew, with a
   * new binding for its responses, when the exchange is secured. Undefined if protection fails.
   */
  private protectAgain(
    entry: PendingRequest,
    p: Prepared,
    message: OutgoingMessage,
  ): OutgoingMessage | undefined {
    if (p.security === undefined) return message;
    try {
      entry.secured = p.security.protectRequest(message, true);
      return entry.secured.message;
    } catch {
      return undefined;
    }
  }

  /**
   * Sends a Non-confirmable request to a group address (RFC 7252 §8.1) and collects every response
   * that arrives within `window` ms.
   */
  async groupRequest(options: RequestOptions & { window?: number }): Promise<CoapResponse[]> {
    const p = await this.prepare({ ...options, confirmable: false });
    if (p.security !== undefined) {
      // a pairwise security context cannot protect a group request (that needs Group OSCORE)
      throw new CoapRequestError(
        'invalid-request',
        'group requests cannot be protected; pass security: null to send one unprotected',
      );
    }
    const responses: CoapResponse[] = [];
    await this.exchange(
      { code: p.code, token: this.newToken(), options: p.options, payload: p.payload },
      p.peer,
      false,
      options.window ?? 2_000,
      p.signal,
      undefined,
      (message, peer) => {
        responses.push(new CoapResponse(message, peer));
      },
    );
    return responses;
  }

  get(uri: string, options: Omit<RequestOptions, 'uri' | 'method'> = {}): Promise<CoapResponse> {
    return this.request({ ...options, uri, method: 'GET' });
  }
  post(
    uri: string,
    payload?: Uint8Array | string,
    options: Omit<RequestOptions, 'uri' | 'method' | 'payload'> = {},
  ) {
    return this.request({ ...options, uri, payload, method: 'POST' });
  }
  put(
    uri: string,
    payload?: Uint8Array | string,
    options: Omit<RequestOptions, 'uri' | 'method' | 'payload'> = {},
  ) {
    return this.request({ ...options, uri, payload, method: 'PUT' });
  }
  delete(uri: string, options: Omit<RequestOptions, 'uri' | 'method'> = {}): Promise<CoapResponse> {
    return this.request({ ...options, uri, method: 'DELETE' });
  }
  fetch(
    uri: string,
    payload?: Uint8Array | string,
    options: Omit<RequestOptions, 'uri' | 'method' | 'payload'> = {},
  ) {
    return this.request({ ...options, uri, payload, method: 'FETCH' });
  }
  patch(
    uri: string,
    payload?: Uint8Array | string,
    options: Omit<RequestOptions, 'uri' | 'method' | 'payload'> = {},
  ) {
    return this.request({ ...options, uri, payload, method: 'PATCH' });
  }
  ipatch(
    uri: string,
    payload?: Uint8Array | string,
    options: Omit<RequestOptions, 'uri' | 'method' | 'payload'> = {},
  ) {
    return this.request({ ...options, uri, payload, method: 'iPATCH' });
  }

  // ================================================================== server

  /** Registers a handler for one method (or several) on a path pattern (`/a/:id`, `/files/*`). */
  route(
    method: Method | readonly Method[],
    pattern: string,
    handler: Handler,
    options: RouteOptions = {},
  ): this {
    const methods = typeof method === 'string' ? [method] : method;
    for (const m of methods) {
      const route: CompiledRoute<RouteEntry> = this.router.add(pattern, METHOD_CODES[m], {
        handler,
        options,
      });
      if (options.link !== undefined) {
        route.link = linkAttributes(options.link);
        if (options.observable && !route.link.some((a) => a.name === 'obs'))
          route.link.push({ name: 'obs', value: true });
      }
    }
    return this;
  }

  /** Adds links to `/.well-known/core` computed at request time (e.g. the files of a file server). */
  addLinkProvider(provider: () => Link[]): this {
    this.linkProviders.push(provider);
    return this;
  }

  /** The resources `/.well-known/core` lists (RFC 6690 §4): routes with link attributes and no parameters. */
  links(): Link[] {
    const out: Link[] = [];
    for (const r of this.router.all()) {
      if (r.link === undefined || r.wildcard || r.segments.some((s) => s.startsWith(':'))) continue;
      out.push({ target: `/${r.segments.join('/')}`, attributes: r.link });
    }
    for (const provider of this.linkProviders) for (const l of provider()) out.push(l);
    return out;
  }

  /** @internal message layer → exchange layer */
  onRequest(inbound: InboundExchange): void {
    let ex = inbound;
    const security = this.security;
    if (security !== undefined) {
      let outer = inbound;
      if (this.outerServer !== undefined && security.isProtected!(inbound.message)) {
        // RFC 8613 §4.1.3.4.2: Outer Block options first, until the whole protected message is here
        const whole = this.outerServer.receive(inbound);
        if (whole === undefined) return;
        outer = whole;
      }
      // RFC 8613 §8.2: verify and decrypt before anything looks at the request
      const result = security.unprotectRequest(outer.message, outer.peer);
      if (result !== undefined) {
        if (!result.ok) {
          if (!outer.multicast) outer.respond(result.response);
          return;
        }
        ex = new SecuredExchange(outer, result);
      }
    }
    const message = ex.message;
    const problem = this.checkOptions(message);
    if (problem !== undefined) {
      this.reply(ex, { code: Code.BadOption, payload: problem });
      return;
    }
    const path = message.getStrings(OptionNumber.UriPath);
    if (path.length === 2 && path[0] === '.well-known' && path[1] === 'core') {
      this.respondWithBlocks(ex, this.discovery(message));
      return;
    }
    const match = this.router.match(path);
    if (match === undefined) {
      this.reply(ex, { code: Code.NotFound });
      return;
    }
    const entry = match.route.handlers.get(message.code);
    if (entry === undefined) {
      this.reply(ex, { code: Code.MethodNotAllowed });
      return;
    }
    if (entry.options.requireOscore === true && identityOf(ex)?.kind !== 'oscore') {
      this.reply(ex, { code: Code.Unauthorized, payload: 'OSCORE required' });
      return;
    }
    const accepts = entry.options.accepts;
    if (accepts !== undefined && message.payloadLength > 0) {
      const cf = message.getUint(OptionNumber.ContentFormat) ?? ContentFormat.OctetStream;
      if (!accepts.includes(cf)) {
        this.reply(ex, { code: Code.UnsupportedContentFormat });
        return;
      }
    }
    const block1 = message.getUint(OptionNumber.Block1);
    if (block1 !== undefined) {
      this.receiveBlock1(ex, path, match.params, entry, block1);
      return;
    }
    const block2 = message.getUint(OptionNumber.Block2);
    if (block2 !== undefined && decodeBlock(block2).num > 0 && this.serveSnapshot(ex, block2, path)) return;
    this.invoke(
      ex,
      new CoapRequest(message, ex.peer, path, match.params, undefined, identityOf(ex)),
      entry,
      undefined,
    );
  }

  private invoke(
    ex: InboundExchange,
    request: CoapRequest,
    entry: RouteEntry,
    block1: number | undefined,
  ): void {
    // RFC 7641 §2: GET; RFC 8132 §2.4: FETCH too
    const code = request.message.code;
    const observe =
      (code === Code.GET || code === Code.FETCH) && entry.options.observable ? request.observe : undefined;
    let result: ResponseInit | Promise<ResponseInit>;
    try {
      result = entry.handler(request);
    } catch (e) {
      this.reply(ex, { code: e instanceof CoapStatusError ? e.code : Code.InternalServerError });
      return;
    }
    const done = (r: ResponseInit) => {
      let response = r;
      if (observe !== undefined) response = this.observeRegistration(ex, request, entry, observe, response);
      if (block1 !== undefined) {
        response = {
          ...response,
          options: [...(response.options ?? []), { number: OptionNumber.Block1, value: block1 }],
        };
      }
      this.respondWithBlocks(ex, response);
    };
    if (result !== null && typeof (result as Promise<ResponseInit>).then === 'function') {
      (result as Promise<ResponseInit>).then(done, (e: unknown) =>
        this.reply(ex, { code: e instanceof CoapStatusError ? e.code : Code.InternalServerError }),
      );
    } else {
      done(result as ResponseInit);
    }
  }

  // ------------------------------------------------------------------ Block1 (server)

  /**
   * The request's transfer: peer, method, path, query, Accept and Request-Tag (RFC 9175 §3). `path` is
   * passed where the caller decoded it already; the usually absent options are only read when present.
   */
  private transferKey(
    ex: InboundExchange,
    kind: string,
    path: readonly string[] = ex.message.getStrings(OptionNumber.UriPath),
  ): string {
    const m = ex.message;
    const tag = m.hasOption(OptionNumber.RequestTag)
      ? m.getOptions(OptionNumber.RequestTag).map(toHex).join(',')
      : '';
    const query = m.hasOption(OptionNumber.UriQuery) ? m.getStrings(OptionNumber.UriQuery).join('&') : '';
    return `${kind}|${peerKey(ex.peer)}|${m.code}|${path.join('/')}|${query}|${m.getUint(OptionNumber.Accept) ?? ''}|${tag}`;
  }

  /** RFC 7959 §2.5: reassembles (or streams) a Block1 body, answering 2.31 / 4.08 / 4.13 on the way. */
  private receiveBlock1(
    ex: InboundExchange,
    path: string[],
    params: Record<string, string>,
    entry: RouteEntry,
    value: number,
  ): void {
    const message = ex.message;
    const block = decodeBlock(value);
    const now = this.clock.now();
    const limit = entry.options.maxBodySize ?? this.transfers.limits.maxBodySize;
    const szx = Math.min(block.szx, sizeToSzx(this.blockSize));
    const size1 = message.getUint(OptionNumber.Size1);
    if (block.szx === 7 || (size1 !== undefined && size1 > limit)) {
      this.reply(ex, {
        code: Code.RequestEntityTooLarge,
        options: [{ number: OptionNumber.Size1, value: limit }],
      });
      return;
    }
    const key = this.transferKey(ex, 'b1', path);
    let transfer = this.transfers.get<Block1Transfer>(key, 1, now);
    if (block.num === 0) transfer = this.transfers.startBlock1(key, now);
    if (transfer === undefined || block.offset !== transfer.received) {
      // §2.9.2: a block out of sequence, or the start is unknown
      this.transfers.delete(key);
      this.reply(ex, { code: Code.RequestEntityIncomplete });
      return;
    }
    const chunk = message.payload;
    if (block.more && chunk.length !== block.size) {
      this.transfers.delete(key);
      this.reply(ex, { code: Code.BadRequest, payload: 'Block1 block shorter than its size' });
      return;
    }
    if (transfer.received + chunk.length > limit) {
      this.transfers.delete(key);
      this.reply(ex, {
        code: Code.RequestEntityTooLarge,
        options: [{ number: OptionNumber.Size1, value: limit }],
      });
      return;
    }
    const offset = transfer.received;
    transfer.received += chunk.length;
    const sink = entry.options.blockSink;
    const continueOrFinish = () => {
      if (block.more) {
        // 2.31 Continue, possibly asking for smaller blocks from now on (§2.3)
        this.reply(ex, {
          code: Code.Continue,
          options: [{ number: OptionNumber.Block1, value: encodeBlock({ num: block.num, more: true, szx }) }],
        });
        return;
      }
      this.transfers.delete(key);
      const body = sink !== undefined ? new Uint8Array(0) : concat(transfer!.chunks, transfer!.received);
      this.invoke(
        ex,
        new CoapRequest(message, ex.peer, path, params, body, identityOf(ex)),
        entry,
        encodeBlock({ num: block.num, more: false, szx: block.szx }),
      );
    };
    if (sink !== undefined) {
      transfer.streamed = true;
      const request = new CoapRequest(message, ex.peer, path, params, new Uint8Array(0), identityOf(ex));
      let r: void | Promise<void>;
      try {
        r = sink(request, chunk, offset, block.more);
      } catch (e) {
        this.transfers.delete(key);
        this.reply(ex, { code: e instanceof CoapStatusError ? e.code : Code.InternalServerError });
        return;
      }
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(continueOrFinish, (e: unknown) => {
          this.transfers.delete(key);
          this.reply(ex, { code: e instanceof CoapStatusError ? e.code : Code.InternalServerError });
        });
      } else continueOrFinish();
      return;
    }
    // Kept as a view, not copied: a received datagram's buffer is the receiver's to keep (every transport
    // hands out a fresh buffer per datagram, see `DatagramHandler`; a decrypted OSCORE request is a fresh
    // encoding too), so the only copy of the body is the one into the reassembled payload at the end.
    transfer.chunks.push(chunk);
    this.transfers.grew(key, chunk.length);
    continueOrFinish();
  }

  // ------------------------------------------------------------------ Block2 (server)

  /** Serves block NUM > 0 from the snapshot taken at block 0 (consistent representation, §2.4). */
  private serveSnapshot(ex: InboundExchange, value: number, path: readonly string[]): boolean {
    const key = this.transferKey(ex, 'b2', path);
    const snap = this.transfers.get<Block2Snapshot>(key, 2, this.clock.now());
    if (snap === undefined) return false;
    this.sendBlock(ex, key, snap, value, []);
    return true;
  }

  /** Sends one block of `snap`; the last block ends the transfer stored under `key` (if any). */
  private sendBlock(
    ex: InboundExchange,
    key: string,
    snap: Block2Snapshot,
    value: number,
    extra: readonly CoapOptionInit[],
  ): void {
    const requested = decodeBlock(value);
    const szx = Math.min(requested.szx, sizeToSzx(this.blockSize));
    const size = szxToSize(szx);
    const offset = requested.num * size;
    if (offset >= snap.payload.length && !(offset === 0 && snap.payload.length === 0)) {
      this.reply(ex, { code: Code.BadOption, payload: 'Block2 beyond the end of the representation' });
      return;
    }
    const more = offset + size < snap.payload.length;
    const options: CoapOptionInit[] = [
      ...extra,
      { number: OptionNumber.Block2, value: encodeBlock({ num: offset / size, more, szx }) },
    ];
    if (offset === 0 || ex.message.getUint(OptionNumber.Size2) !== undefined) {
      options.push({ number: OptionNumber.Size2, value: snap.payload.length });
    }
    if (!more) this.transfers.delete(key);
    this.reply(ex, {
      code: snap.code,
      payload: snap.payload.subarray(offset, offset + size),
      contentFormat: snap.contentFormat,
      maxAge: snap.maxAge,
      etag: snap.etag,
      options,
    });
  }

  /** Sends a response, split into Block2 blocks when it is larger than the block size (§2.4). */
  private respondWithBlocks(ex: InboundExchange, response: ResponseInit): void {
    // a handler that set Block2 itself served one block of its own representation (no snapshot is kept)
    if (response.options?.some((o) => o.number === OptionNumber.Block2)) {
      this.reply(ex, response);
      return;
    }
    const payload = toBytes(response.payload);
    const requested = ex.message.getUint(OptionNumber.Block2);
    const limit =
      requested === undefined ? this.blockSize : Math.min(this.blockSize, decodeBlock(requested).size);
    if (
      payload === undefined ||
      (payload.length <= limit && requested === undefined) ||
      response.code >>> 5 !== 2
    ) {
      this.reply(ex, response);
      return;
    }
    const snap: Block2Snapshot = {
      kind: 2,
      code: response.code,
      payload,
      etag: response.etag ?? etagOf(payload),
      contentFormat: response.contentFormat,
      maxAge: response.maxAge,
      expires: this.clock.now() + this.transfers.limits.transferTimeout,
    };
    const key = this.transferKey(ex, 'b2');
    if (payload.length > limit) this.transfers.set(key, snap);
    this.sendBlock(
      ex,
      key,
      snap,
      requested ?? encodeBlock({ num: 0, more: false, szx: sizeToSzx(limit) }),
      response.options ?? [],
    );
  }

  // ------------------------------------------------------------------ Observe (server)

  /** RFC 7641 §4.1: registers, replaces or removes an observer; adds the Observe option to the response. */
  private observeRegistration(
    ex: InboundExchange,
    request: CoapRequest,
    entry: RouteEntry,
    observe: number,
    response: ResponseInit,
  ): ResponseInit {
    const resource = request.path.join('/');
    const key = observerKey(ex.peer, request);
    const existing = this.observers.get(resource)?.get(key);
    if (observe !== 0 || response.code >>> 5 !== 2) {
      if (existing !== undefined) this.removeObserver(existing);
      return response;
    }
    if (existing !== undefined) {
      // one registration per client and resource: the new one replaces the old (§4.1)
      existing.token = request.message.token.slice();
      existing.request = request;
      existing.entry = entry;
      existing.protect = ex instanceof SecuredExchange ? (m) => ex.protect(m) : undefined;
    } else {
      if (this.observerCount >= this.observeOptions.maxObservers) return response;
      let map = this.observers.get(resource);
      if (map === undefined) {
        map = new Map();
        this.observers.set(resource, map);
      }
      map.set(key, {
        key,
        resource,
        peer: ex.peer,
        token: request.message.token.slice(),
        request,
        entry,
        busy: false,
        dirty: false,
        lastConfirmable: this.clock.now(),
        removed: false,
        protect: ex instanceof SecuredExchange ? (m) => ex.protect(m) : undefined,
        confirmable: undefined,
      });
      this.observerCount++;
    }
    return {
      ...response,
      options: [
        { number: OptionNumber.Observe, value: this.nextObserveSequence() },
        ...(response.options ?? []),
      ],
    };
  }

  private nextObserveSequence(): number {
    this.observeSequence = (this.observeSequence + 1) % OBSERVE_MODULUS;
    return this.observeSequence;
  }

  private removeObserver(o: Observer): void {
    if (o.removed) return;
    o.removed = true;
    const map = this.observers.get(o.resource);
    if (map?.get(o.key) === o) {
      map.delete(o.key);
      this.observerCount--;
      if (map.size === 0) this.observers.delete(o.resource);
    }
  }

  /** Number of registered observers (of one resource path, or in total), of those passing `filter` if given. */
  observerTotal(path?: string, filter?: (request: CoapRequest) => boolean): number {
    if (path === undefined) return this.observerCount;
    const map = this.observers.get(path.replace(/^\/+/, ''));
    if (map === undefined) return 0;
    if (filter === undefined) return map.size;
    let n = 0;
    for (const o of map.values()) if (filter(o.request)) n++;
    return n;
  }

  /**
   * Sends the current representation of `path` to its observers (RFC 7641 §4.2). A slow observer never
   * holds the others back; while one of its notifications is in flight only the newest state is sent
   * next (§4.5.2).
   */
  notify(path: string, options: NotifyOptions = {}): void {
    const map = this.observers.get(path.replace(/^\/+/, ''));
    if (map === undefined) return;
    const filter = options.filter;
    for (const o of map.values()) {
      if (filter !== undefined && !filter(o.request)) continue;
      o.confirmable = options.confirmable;
      if (o.busy) o.dirty = true;
      else this.sendNotification(o);
    }
  }

  private sendNotification(o: Observer): void {
    o.busy = true;
    o.dirty = false;
    let result: ResponseInit | Promise<ResponseInit>;
    try {
      result = o.entry.handler(o.request);
    } catch {
      result = { code: Code.InternalServerError };
    }
    Promise.resolve(result).then(
      (r) => this.transmitNotification(o, r),
      () => this.transmitNotification(o, { code: Code.InternalServerError }),
    );
  }

  private transmitNotification(o: Observer, response: ResponseInit): void {
    if (o.removed || this.closed) return;
    const now = this.clock.now();
    const payload = toBytes(response.payload);
    const success = response.code >>> 5 === 2;
    const options = responseOptions(
      response,
      success ? [{ number: OptionNumber.Observe, value: this.nextObserveSequence() }] : [],
    );
    let body = payload;
    if (payload !== undefined && payload.length > this.blockSize && success) {
      // RFC 7959 §3.4: the first block goes with the notification; the client asks for the rest
      const etag = response.etag ?? etagOf(payload);
      if (response.etag === undefined) options.push({ number: OptionNumber.ETag, value: etag });
      options.push({
        number: OptionNumber.Block2,
        value: encodeBlock({ num: 0, more: true, szx: sizeToSzx(this.blockSize) }),
      });
      options.push({ number: OptionNumber.Size2, value: payload.length });
      body = payload.subarray(0, this.blockSize);
    }
    if (!success) this.removeObserver(o); // an error response ends the observation (§3.2, §4.2)
    const confirmable =
      (o.confirmable ?? this.observeOptions.confirmable) ||
      now - o.lastConfirmable >= this.observeOptions.confirmableInterval;
    if (confirmable) o.lastConfirmable = now;
    const finished = () => {
      o.busy = false;
      if (o.dirty && !o.removed) this.sendNotification(o);
    };
    let notification: OutgoingMessage = { code: response.code, token: o.token, options, payload: body };
    if (o.protect !== undefined) {
      try {
        notification = o.protect(notification); // RFC 8613 §8.3.1: a new Partial IV for every notification
      } catch {
        this.removeObserver(o);
        o.busy = false;
        return;
      }
    }
    this.messaging.send(
      notification,
      o.peer,
      confirmable,
      {
        onAck: finished,
        onReset: () => this.removeObserver(o), // §3.6: RST cancels
        onTimeout: () => this.removeObserver(o), // §4.5: an unacknowledged CON ends the observation
      },
      !confirmable,
    );
    if (!confirmable) finished();
  }

  // ------------------------------------------------------------------ shared server helpers

  /** RFC 7252 §5.4.1: an unrecognised or repeated non-repeatable critical option in a request → 4.02. */
  private checkOptions(message: CoapMessage): string | undefined {
    let problem: string | undefined;
    let previous = -1;
    message.forEachOption((n) => {
      if (problem !== undefined || !isCritical(n)) {
        previous = n;
        return;
      }
      if (!this.understood.has(n)) problem = `unrecognized critical option ${optionName(n)} (${n})`;
      else if (n === previous && SINGLE_CRITICAL.has(n)) problem = `repeated option ${optionName(n)}`;
      previous = n;
    });
    return problem;
  }

  private discovery(message: CoapMessage): ResponseInit {
    if (message.code !== Code.GET) return { code: Code.MethodNotAllowed };
    let links = this.links();
    // RFC 6690 §4.1: one query parameter filters the links
    const q = message.getString(OptionNumber.UriQuery);
    if (q !== undefined && q !== '') {
      const eq = q.indexOf('=');
      links = eq < 0 ? [] : filterLinks(links, q.slice(0, eq), q.slice(eq + 1));
    }
    return { code: Code.Content, contentFormat: ContentFormat.LinkFormat, payload: formatLinkFormat(links) };
  }

  private reply(ex: InboundExchange, response: ResponseInit): void {
    if (ex.responded || this.closed) return;
    if (ex.multicast) {
      this.replyToGroup(ex, response);
      return;
    }
    // RFC 7967: No-Response suppresses the classes whose bits are set (2.xx → 2, 4.xx → 8, 5.xx → 16)
    const noResponse = ex.message.getUint(OptionNumber.NoResponse);
    if (noResponse !== undefined && noResponse !== 0) {
      const cls = response.code >>> 5;
      const bit = cls === 2 ? 2 : cls === 4 ? 8 : cls === 5 ? 16 : 0;
      if ((noResponse & bit) !== 0) {
        ex.acknowledge();
        return;
      }
    }
    ex.respond({
      code: response.code,
      options: responseOptions(response, []),
      payload: toBytes(response.payload),
    });
  }

  /**
   * RFC 7252 §8.2: no error responses to a group request (and no empty discovery result, RFC 6690
   * §4.1); the response is delayed by a random Leisure so the members do not all answer at once.
   */
  private replyToGroup(ex: InboundExchange, response: ResponseInit): void {
    const payload = toBytes(response.payload);
    const emptyDiscovery =
      response.contentFormat === ContentFormat.LinkFormat && (payload?.length ?? 0) === 0;
    if (response.code >>> 5 !== 2 || emptyDiscovery) return;
    const leisure = randomInt(this.random, 0, this.messaging.parameters.defaultLeisure);
    this.clock.setTimeout(() => {
      if (this.closed) return;
      ex.respond({ code: response.code, options: responseOptions(response, []), payload });
    }, leisure);
  }

  /** Fails pending requests, stops timers and closes the transport. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const entry of [...this.pending.values()]) {
      this.fail(entry, new CoapRequestError('closed', 'endpoint closed'));
    }
    this.observers.clear();
    this.observerCount = 0;
    this.messaging.close();
    await this.transport.close();
  }

  /** Requests still waiting for a response (for tests and metrics). */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /** Block-wise transfers in progress on the server side (for tests and metrics). */
  get transfersInProgress(): number {
    this.transfers.sweep(this.clock.now());
    return this.transfers.count;
  }
}

class EtagChanged extends Error {
  constructor() {
    super('the representation changed during a Block2 transfer');
  }
}
