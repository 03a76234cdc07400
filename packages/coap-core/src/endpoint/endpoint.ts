/**
 * A CoAP endpoint: client and server over one transport (RFC 7252 §5). Requests are matched to
 * responses by token and peer (§5.3.2); the server routes on method and path, answers 4.04 / 4.05 /
 * 4.02 / 4.15 itself, generates `/.well-known/core` (RFC 6690) and honours No-Response (RFC 7967).
 */
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { filterLinks, formatLinkFormat, type Link, type LinkAttribute } from '../link-format/index.js';
import { Code, isRequestCode } from '../message/constants.js';
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
  type UpperLayer,
} from '../messaging/message-layer.js';
import { maxTransmitWait, nonLifetime } from '../messaging/parameters.js';
import { cryptoRandom, type Random, randomInt } from '../random.js';
import { type Peer, peerKey, type Transport } from '../transport/types.js';
import { utf8Decode, utf8Encode, writeUtf8 } from '../util/bytes.js';
import { commit, MAX_POOLED, reserve, slabBytes } from '../util/pool.js';
import { CoapRequestError } from './errors.js';
import { METHOD_CODES, type Method, Router } from './router.js';

export interface CoapEndpointOptions extends MessageLayerOptions {
  readonly transport: Transport;
  /** Token length in bytes, fixed or a [min, max] range (default [4, 8]); RFC 7252 §5.3.1. */
  readonly tokenLength?: number | readonly [number, number];
  /** Most client requests waiting for a response at once (default 10,000). */
  readonly maxPendingRequests?: number;
}

export interface RequestOptions {
  /** Method name or code (default GET). */
  readonly method?: Method | number;
  /** Absolute URI; alternatively `peer` plus `path` / `query` / `options`. */
  readonly uri?: string;
  readonly peer?: Peer;
  readonly path?: string | readonly string[];
  readonly query?: readonly string[];
  /** Extra options (added after those from the URI). */
  readonly options?: readonly CoapOptionInit[];
  readonly payload?: Uint8Array | string;
  /** Confirmable (default) or Non-confirmable. */
  readonly confirmable?: boolean;
  readonly accept?: number;
  readonly contentFormat?: number;
  readonly signal?: AbortSignal;
  /** Milliseconds to wait for the response (default: MAX_TRANSMIT_WAIT for CON, NON_LIFETIME for NON). */
  readonly timeout?: number;
}

/** A response received by the client. */
export class CoapResponse {
  constructor(
    readonly message: CoapMessage,
    readonly peer: Peer,
  ) {}
  get code(): number {
    return this.message.code;
  }
  /** True for 2.xx. */
  get ok(): boolean {
    return this.message.code >>> 5 === 2;
  }
  get payload(): Uint8Array {
    return this.message.payload;
  }
  get contentFormat(): number | undefined {
    return this.message.getUint(OptionNumber.ContentFormat);
  }
  text(): string {
    return utf8Decode(this.message.payload);
  }
}

/** A request as a server handler sees it. */
export class CoapRequest {
  private queryList: string[] | undefined;
  constructor(
    readonly message: CoapMessage,
    readonly peer: Peer,
    readonly path: readonly string[],
    readonly params: Readonly<Record<string, string>>,
  ) {}
  get method(): number {
    return this.message.code;
  }
  get payload(): Uint8Array {
    return this.message.payload;
  }
  get contentFormat(): number | undefined {
    return this.message.getUint(OptionNumber.ContentFormat);
  }
  get accept(): number | undefined {
    return this.message.getUint(OptionNumber.Accept);
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
    return utf8Decode(this.message.payload);
  }
}

/** What a handler returns. */
export interface ResponseInit {
  readonly code: number;
  readonly payload?: Uint8Array | string;
  readonly contentFormat?: number;
  readonly maxAge?: number;
  readonly etag?: Uint8Array;
  readonly options?: readonly CoapOptionInit[];
}

export type Handler = (request: CoapRequest) => ResponseInit | Promise<ResponseInit>;

export interface RouteOptions {
  /** Content-Formats the handler accepts in request payloads; others get 4.15 (RFC 7252 §5.10.3). */
  readonly accepts?: readonly number[];
  /** Link attributes for `/.well-known/core` (rt, if, ct, obs, title, ...). Omit to hide the resource. */
  readonly link?: Readonly<Record<string, string | number | true | readonly string[]>>;
}

interface RouteEntry {
  readonly handler: Handler;
  readonly accepts: readonly number[] | undefined;
}

interface PendingRequest {
  readonly key: string;
  readonly peerKey: string;
  resolve(r: CoapResponse): void;
  reject(e: Error): void;
  timer: TimerHandle | undefined;
  tx: Transmission | undefined;
  abort: (() => void) | undefined;
  signal: AbortSignal | undefined;
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
]);
const SINGLE_CRITICAL = new Set<number>([
  OptionNumber.UriHost,
  OptionNumber.IfNoneMatch,
  OptionNumber.UriPort,
  OptionNumber.Accept,
]);

function tokenKey(token: Uint8Array): string {
  let s = '';
  for (let i = 0; i < token.length; i++) s += String.fromCharCode(token[i]!);
  return s;
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

export class CoapEndpoint implements UpperLayer {
  readonly messaging: MessageLayer;
  readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly tokenRange: readonly [number, number];
  private readonly maxPending: number;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly router = new Router<RouteEntry>();
  private readonly understood = new Set(UNDERSTOOD_CRITICAL);
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
    this.messaging = new MessageLayer(options.transport, {
      ...options,
      clock: this.clock,
      random: this.random,
    });
    this.messaging.setUpperLayer(this);
    options.transport.onError((error, peer) => this.failPeer(error, peer));
  }

  /** The transport's local address. */
  get local(): Peer {
    return this.transport.local;
  }

  /** Declares a critical option as understood by a layer above (e.g. Block1, OSCORE). */
  understandOption(number: number): void {
    this.understood.add(number);
  }

  // ------------------------------------------------------------------ client

  private newToken(): Uint8Array {
    const [min, max] = this.tokenRange;
    for (;;) {
      const token = this.random.fill(new Uint8Array(min === max ? min : randomInt(this.random, min, max)));
      if (!this.pending.has(tokenKey(token))) return token;
    }
  }

  /** Sends a request and resolves with the response. Rejects with `CoapRequestError` otherwise. */
  async request(options: RequestOptions): Promise<CoapResponse> {
    if (this.closed) throw new CoapRequestError('closed', 'endpoint is closed');
    if (this.pending.size >= this.maxPending) {
      throw new CoapRequestError('queue-full', `more than ${this.maxPending} requests pending`);
    }
    const method = options.method ?? 'GET';
    const code = typeof method === 'number' ? method : METHOD_CODES[method];
    if (code === undefined || !isRequestCode(code)) {
      throw new CoapRequestError('invalid-request', `unknown method ${String(method)}`);
    }
    let peer: Peer;
    const opts: CoapOptionInit[] = [];
    if (options.uri !== undefined) {
      let u: ReturnType<typeof parseUri>;
      try {
        u = parseUri(options.uri);
      } catch (e) {
        throw new CoapRequestError('invalid-request', (e as Error).message, { cause: e });
      }
      if (u.scheme !== this.transport.scheme) {
        throw new CoapRequestError(
          'invalid-request',
          `this endpoint speaks ${this.transport.scheme}://, not ${u.scheme}://`,
        );
      }
      peer =
        options.peer ??
        (this.transport.resolve
          ? await this.transport.resolve(u.host, u.port)
          : { address: u.host, port: u.port });
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
    return this.exchange(
      { code, token: this.newToken(), options: opts, payload: toBytes(options.payload) },
      peer,
      confirmable,
      timeout,
      options.signal,
    );
  }

  private exchange(
    message: OutgoingMessage,
    peer: Peer,
    confirmable: boolean,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<CoapResponse> {
    return new Promise<CoapResponse>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new CoapRequestError('aborted', 'request aborted', { cause: signal.reason }));
        return;
      }
      const key = tokenKey(message.token!);
      const entry: PendingRequest = {
        key,
        peerKey: peerKey(peer),
        resolve,
        reject,
        timer: undefined,
        tx: undefined,
        abort: undefined,
        signal,
      };
      this.pending.set(key, entry);
      entry.timer = this.clock.setTimeout(
        () => this.fail(entry, new CoapRequestError('timeout', `no response within ${timeout} ms`)),
        timeout,
      );
      if (signal !== undefined) {
        entry.abort = () =>
          this.fail(entry, new CoapRequestError('aborted', 'request aborted', { cause: signal.reason }));
        signal.addEventListener('abort', entry.abort, { once: true });
      }
      entry.tx = this.messaging.send(message, peer, confirmable, {
        onReset: () => this.fail(entry, new CoapRequestError('reset', 'the peer rejected the request (RST)')),
        onTimeout: () =>
          this.fail(
            entry,
            new CoapRequestError(
              'timeout',
              `no acknowledgement after ${this.messaging.parameters.maxRetransmit} retransmissions`,
            ),
          ),
      });
    });
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

  private failPeer(error: Error, peer: Peer | undefined): void {
    if (peer === undefined) return;
    const key = peerKey(peer);
    for (const entry of [...this.pending.values()]) {
      if (entry.peerKey === key) {
        this.fail(entry, new CoapRequestError('transport', error.message, { cause: error }));
      }
    }
  }

  /** @internal message layer → exchange layer */
  onResponse(message: CoapMessage, peer: Peer): boolean {
    const entry = this.pending.get(tokenKey(message.token));
    if (entry === undefined || entry.peerKey !== peerKey(peer)) return false;
    this.settle(entry);
    entry.resolve(new CoapResponse(message, peer));
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

  // ------------------------------------------------------------------ server

  /** Registers a handler for one method (or several) on a path pattern (`/a/:id`, `/files/*`). */
  route(
    method: Method | readonly Method[],
    pattern: string,
    handler: Handler,
    options: RouteOptions = {},
  ): this {
    const methods = typeof method === 'string' ? [method] : method;
    for (const m of methods) {
      const route = this.router.add(pattern, METHOD_CODES[m], { handler, accepts: options.accepts });
      if (options.link !== undefined) route.link = linkAttributes(options.link);
    }
    return this;
  }

  /** The resources `/.well-known/core` lists (RFC 6690 §4): routes with link attributes and no parameters. */
  links(): Link[] {
    const out: Link[] = [];
    for (const r of this.router.all()) {
      if (r.link === undefined || r.wildcard || r.segments.some((s) => s.startsWith(':'))) continue;
      out.push({ target: `/${r.segments.join('/')}`, attributes: r.link });
    }
    return out;
  }

  /** @internal message layer → exchange layer */
  onRequest(ex: InboundExchange): void {
    const message = ex.message;
    const problem = this.checkOptions(message);
    if (problem !== undefined) {
      this.reply(ex, { code: Code.BadOption, payload: problem });
      return;
    }
    const path = message.getStrings(OptionNumber.UriPath);
    if (path.length === 2 && path[0] === '.well-known' && path[1] === 'core') {
      this.reply(ex, this.discovery(message));
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
    if (entry.accepts !== undefined && message.payloadLength > 0) {
      const cf = message.getUint(OptionNumber.ContentFormat) ?? ContentFormat.OctetStream;
      if (!entry.accepts.includes(cf)) {
        this.reply(ex, { code: Code.UnsupportedContentFormat });
        return;
      }
    }
    const request = new CoapRequest(message, ex.peer, path, match.params);
    let result: ResponseInit | Promise<ResponseInit>;
    try {
      result = entry.handler(request);
    } catch {
      this.reply(ex, { code: Code.InternalServerError });
      return;
    }
    if (result !== null && typeof (result as Promise<ResponseInit>).then === 'function') {
      (result as Promise<ResponseInit>).then(
        (r) => this.reply(ex, r),
        () => this.reply(ex, { code: Code.InternalServerError }),
      );
    } else {
      this.reply(ex, result as ResponseInit);
    }
  }

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
    const options: CoapOptionInit[] = [];
    if (response.etag !== undefined) options.push({ number: OptionNumber.ETag, value: response.etag });
    if (response.contentFormat !== undefined) {
      options.push({ number: OptionNumber.ContentFormat, value: response.contentFormat });
    }
    if (response.maxAge !== undefined) options.push({ number: OptionNumber.MaxAge, value: response.maxAge });
    if (response.options !== undefined) for (const o of response.options) options.push(o);
    ex.respond({ code: response.code, options, payload: toBytes(response.payload) });
  }

  /** Fails pending requests, stops timers and closes the transport. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const entry of [...this.pending.values()]) {
      this.fail(entry, new CoapRequestError('closed', 'endpoint closed'));
    }
    this.messaging.close();
    await this.transport.close();
  }

  /** Requests still waiting for a response (for tests and metrics). */
  get pendingRequests(): number {
    return this.pending.size;
  }
}
