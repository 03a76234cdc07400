/**
 * A CoAP endpoint: client and server over one transport (RFC 7252 §5). This class is a façade over the
 * stack of layers built once in its constructor (`stack/stack.ts`; docs/ARCHITECTURE.md, coap-core):
 * token matching, optional object security with Outer Block-wise, Block-wise (RFC 7959) and Observe
 * (RFC 7641) for both roles, the server dispatch (routes, 4.0x answers, `/.well-known/core`, RFC 6690;
 * No-Response, RFC 7967) and the client requests.
 */
import type { BlockwiseLimits } from '../blockwise/store.js';
import type { RequestOptions } from '../client/options.js';
import { type Clock, systemClock } from '../clock.js';
import { CoapRequestError } from '../errors.js';
import type { Link } from '../link-format/index.js';
import { sizeToSzx } from '../message/block.js';
import type { CoapResponse } from '../message/response.js';
import type { MessageLayer, MessageLayerOptions } from '../messaging/message-layer.js';
import type { Observation } from '../observe/observation.js';
import type { EndObservationsOptions, NotifyOptions, ObserveServerOptions } from '../observe/server.js';
import { cryptoRandom, type Random } from '../random.js';
import type { AmplificationOptions } from '../security/amplification.js';
import type { OuterBlockwiseOptions } from '../security/outer-blockwise.js';
import type { ClientSecurity, ServerSecurity } from '../security/types.js';
import type { CoapRequest, Handler, RouteOptions } from '../server/request.js';
import type { Method } from '../server/router.js';
import { buildStack, type Stack } from '../stack/stack.js';
import type { Peer, Transport } from '../transport/types.js';

export type { BlockProgress, RequestOptions } from '../client/options.js';
export { CoapStatusError } from '../errors.js';
export { CoapResponse } from '../message/response.js';
export type { EndObservationsOptions, NotifyOptions, ObserveServerOptions } from '../observe/server.js';
export {
  type BlockSink,
  CoapRequest,
  type Handler,
  type ResourceState,
  type ResponseInit,
  type RouteOptions,
} from '../server/request.js';

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
   * (e.g. `oscoreServer` in @thimble/oscore, RFC 8613 §8.2 / §8.3). Given here, once: the stack is built
   * with it.
   */
  readonly serverSecurity?: ServerSecurity;
  /**
   * Outer Block-wise on protected messages (RFC 8613 §4.1.3.4.2), below the security layers: the block
   * size for sending protected messages in Outer blocks and the largest one reassembled.
   */
  readonly outerBlockwise?: OuterBlockwiseOptions;
  /**
   * Amplification mitigation (RFC 9175 §2.4): a response to a peer whose address is not verified is at
   * most `factor` (3) times its request, else an Echo challenge (4.01 with Echo) is sent instead and the
   * full answer follows when the client repeats the request with the Echo value. `true` for the
   * defaults; off when not given (`coap serve` and `lwm2m server` turn it on). See
   * `security/amplification.ts`.
   */
  readonly amplification?: AmplificationOptions | boolean;
}

export class CoapEndpoint {
  readonly messaging: MessageLayer;
  readonly transport: Transport;
  private readonly stack: Stack;

  constructor(options: CoapEndpointOptions) {
    this.transport = options.transport;
    const clock: Clock = options.clock ?? systemClock;
    const random: Random = options.random ?? cryptoRandom();
    const tl = options.tokenLength ?? [4, 8];
    const tokenRange: readonly [number, number] = typeof tl === 'number' ? [tl, tl] : tl;
    if (tokenRange[0] < 1 || tokenRange[1] > 8 || tokenRange[0] > tokenRange[1]) {
      throw new RangeError('token length must be within 1-8 bytes');
    }
    const blockSize = options.blockSize ?? 1024;
    sizeToSzx(blockSize); // validates
    this.stack = buildStack({
      transport: options.transport,
      messageLayer: options,
      clock,
      random,
      tokenRange,
      maxPendingRequests: options.maxPendingRequests ?? 10_000,
      blockSize,
      blockwise: options.blockwise,
      observe: options.observe,
      clientSecurity: options.clientSecurity,
      serverSecurity: options.serverSecurity,
      outerBlockwise: options.outerBlockwise,
      amplification:
        options.amplification === true
          ? {}
          : options.amplification === false
            ? undefined
            : options.amplification,
    });
    this.messaging = this.stack.matcher.messaging;
    const matcher = this.stack.matcher;
    options.transport.onError((error, peer) => matcher.failPeer(error, peer));
  }

  /** The transport's local address. */
  get local(): Peer {
    return this.transport.local;
  }

  /** The server-side security layer given at construction, if any. */
  /** Responses replaced by an Echo challenge so far (amplification mitigation, RFC 9175 §2.4). */
  get amplificationChallenges(): number {
    return this.stack.amplification.challenges;
  }

  /** Responses cut to a smaller first Block2 block instead (amplification mitigation, RFC 9175 §2.4). */
  get amplificationCuts(): number {
    return this.stack.amplification.cuts;
  }

  get serverSecurity(): ServerSecurity | undefined {
    return this.stack.security.server;
  }

  /** Declares a critical option as understood by a layer above (e.g. OSCORE). */
  understandOption(number: number): void {
    this.stack.dispatch.understandOption(number);
  }

  // ================================================================== client

  /**
   * Sends a request and resolves with the response, running Block1 / Block2 transfers transparently
   * (RFC 7959). Rejects with `CoapRequestError` when no response comes.
   */
  request(options: RequestOptions): Promise<CoapResponse> {
    return this.stack.requests.request(options);
  }

  /**
   * CoAP ping (RFC 7252 §4.3): an Empty Confirmable message that a live peer answers with a Reset.
   * Resolves true on the Reset, false if the peer never answers.
   */
  ping(peer: Peer): Promise<boolean> {
    return this.stack.requests.ping(peer);
  }

  /**
   * Observes a resource (RFC 7641): resolves once the first response arrived. Notifications come newest
   * first through the async iterator and as `notification` events; reordered ones are dropped (§3.4).
   * The registration is renewed when Max-Age runs out without a notification (§3.3.1). FETCH observes a
   * query in the payload (RFC 8132 §2.4); its cancellation repeats the payload.
   */
  observe(
    uriOrOptions: string | RequestOptions,
    options: Omit<RequestOptions, 'uri'> = {},
  ): Promise<Observation> {
    return this.stack.observeClient.observe(uriOrOptions, options);
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
    return this.stack.observeClient.resumeObservation(options);
  }

  /**
   * Sends a Non-confirmable request to a group address (RFC 7252 §8.1) and collects every response
   * that arrives within `window` ms.
   */
  groupRequest(options: RequestOptions & { window?: number }): Promise<CoapResponse[]> {
    return this.stack.requests.groupRequest(options);
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
    this.stack.dispatch.route(method, pattern, handler, options);
    return this;
  }

  /** Adds links to `/.well-known/core` computed at request time (e.g. the files of a file server). */
  addLinkProvider(provider: () => Link[]): this {
    this.stack.dispatch.addLinkProvider(provider);
    return this;
  }

  /** The resources `/.well-known/core` lists (RFC 6690 §4): routes with link attributes and no parameters. */
  links(): Link[] {
    return this.stack.dispatch.links();
  }

  /** Number of registered observers (of one resource path, or in total), of those passing `filter` if given. */
  observerTotal(path?: string, filter?: (request: CoapRequest) => boolean): number {
    return this.stack.observeServer.observerTotal(path, filter);
  }

  /**
   * Sends the current representation of `path` to its observers (RFC 7641 §4.2). A slow observer never
   * holds the others back; while one of its notifications is in flight only the newest state is sent
   * next (§4.5.2).
   */
  notify(path: string, options: NotifyOptions = {}): void {
    this.stack.observeServer.notify(path, options);
  }

  /**
   * Ends the observations of `path`: each observer gets a last notification with an error code (RFC 7641
   * §3.2; 5.03 by default, e.g. for a server "reboot"; 4.04 when the resource is gone) and is forgotten.
   * Returns how many observations were ended.
   */
  endObservations(path: string, options: EndObservationsOptions = {}): number {
    return this.stack.observeServer.endObservations(path, options);
  }

  /** Fails pending requests, stops timers and closes the transport. */
  async close(): Promise<void> {
    const { state, matcher, observeServer } = this.stack;
    if (state.closed) return;
    state.closed = true;
    matcher.failAll(() => new CoapRequestError('closed', 'endpoint closed'));
    observeServer.clear();
    this.messaging.close();
    await this.transport.close();
  }

  /** Requests still waiting for a response (for tests and metrics). */
  get pendingRequests(): number {
    return this.stack.matcher.size;
  }

  /** Block-wise transfers in progress on the server side (for tests and metrics). */
  get transfersInProgress(): number {
    return this.stack.blockwiseServer.inProgress;
  }
}
