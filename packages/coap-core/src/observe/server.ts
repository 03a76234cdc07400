/**
 * Observe, server side (RFC 7641), the layer between Block-wise and the server dispatch
 * (docs/ARCHITECTURE.md, coap-core): a successful response to a GET / FETCH with Observe 0 on an
 * observable route registers its client on the way down; `notify` sends the current state to the
 * observers of a resource, one at a time per observer (§4.5.2), bounded in number.
 */

import type { BlockwiseServer } from '../blockwise/server.js';
import { etagOf } from '../blockwise/store.js';
import type { Clock } from '../clock.js';
import { encodeBlock, sizeToSzx } from '../message/block.js';
import { Code } from '../message/constants.js';
import { OptionNumber } from '../message/options.js';
import type { InboundExchange, MessageLayer, OutgoingMessage } from '../messaging/message-layer.js';
import { SecuredExchange } from '../security/layer.js';
import { type CoapRequest, type ResponseInit, type RouteEntry, responseOptions } from '../server/request.js';
import type { RequestReceiver, StackState } from '../stack/layer.js';
import { type Peer, peerKey } from '../transport/types.js';
import { bytesEqual, toHex } from '../util/bytes.js';
import { toBytes } from '../util/pool.js';
import { OBSERVE_MODULUS } from './sequence.js';

export interface ObserveServerOptions {
  /** Observers kept in total (default 10,000); further registrations are served without Observe. */
  readonly maxObservers?: number;
  /** A notification is sent Confirmable at least this often per observer (ms; default 24 h, §4.5). */
  readonly confirmableInterval?: number;
  /** Send every notification Confirmable (default false). */
  readonly confirmable?: boolean;
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

/** Options of `CoapEndpoint.endObservations`. */
export interface EndObservationsOptions {
  /** The code of the last notification: 4.xx or 5.xx (default 5.03 Service Unavailable). */
  readonly code?: number;
  /** Its payload (a diagnostic), if any. */
  readonly payload?: string | Uint8Array;
  /** Only the observers whose registration request passes. */
  readonly filter?: (request: CoapRequest) => boolean;
}

/**
 * An observer's key among those of one resource: the client, and for FETCH the query in the payload as
 * well (RFC 8132 §2.4: the payload is part of what is observed), so one client keeps several FETCH
 * observations of one resource apart while a repeated registration still replaces its own (RFC 7641 §4.1).
 */
function observerKey(peer: Peer, request: CoapRequest): string {
  if (request.message.code !== Code.FETCH) return peerKey(peer);
  return `${peerKey(peer)}|${request.contentFormat ?? ''}|${toHex(request.payload)}`;
}

export class ObserveServer implements RequestReceiver {
  private readonly observers = new Map<string, Map<string, Observer>>();
  private observerCount = 0;
  private observeSequence = 0;
  private readonly options: Required<ObserveServerOptions>;
  /** The layers next to this one (set when the stack is built): the dispatch above, Block-wise below. */
  dispatch!: RequestReceiver;
  blockwise!: BlockwiseServer;

  constructor(
    options: ObserveServerOptions | undefined,
    private readonly messaging: MessageLayer,
    private readonly clock: Clock,
    private readonly blockSize: number,
    private readonly state: StackState,
  ) {
    this.options = {
      maxObservers: options?.maxObservers ?? 10_000,
      confirmableInterval: options?.confirmableInterval ?? 24 * 3600_000,
      confirmable: options?.confirmable ?? false,
    };
  }

  /** Up: requests pass; registration happens on the way down, with the response (`respond`). */
  receiveRequest(ex: InboundExchange): void {
    this.dispatch.receiveRequest(ex);
  }

  /** Down: a handler's response, registering or removing an observer on the way (RFC 7641 §2, §4.1). */
  respond(
    ex: InboundExchange,
    request: CoapRequest,
    entry: RouteEntry,
    response: ResponseInit,
    block1: number | undefined,
  ): void {
    // RFC 7641 §2: GET; RFC 8132 §2.4: FETCH too
    const code = request.message.code;
    const observe =
      (code === Code.GET || code === Code.FETCH) && entry.options.observable ? request.observe : undefined;
    this.blockwise.respond(
      ex,
      observe === undefined ? response : this.registration(ex, request, entry, observe, response),
      block1,
    );
  }

  /**
   * Drops the observer registered by `ex`, if its response was replaced below (an Echo challenge to an
   * unverified peer, RFC 9175 §2.4): a peer must not get notifications it was never told about.
   */
  forget(ex: InboundExchange): void {
    const map = this.observers.get(ex.message.getStrings(OptionNumber.UriPath).join('/'));
    if (map === undefined) return;
    const key = peerKey(ex.peer);
    const token = ex.message.token;
    for (const o of map.values()) {
      if (peerKey(o.peer) === key && bytesEqual(o.token, token)) {
        this.removeObserver(o);
        return;
      }
    }
  }

  /** Drops every observer (the endpoint closes). */
  clear(): void {
    this.observers.clear();
    this.observerCount = 0;
  }

  /** RFC 7641 §4.1: registers, replaces or removes an observer; adds the Observe option to the response. */
  private registration(
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
      if (this.observerCount >= this.options.maxObservers) return response;
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

  /**
   * Ends the observations of `path` (those passing `filter`): each observer gets a last notification with
   * an error code, which ends an observation (RFC 7641 §3.2, §4.2): 5.03 Service Unavailable by default
   * (the server goes away, e.g. a reboot), 4.04 Not Found when the resource is gone. Returns how many
   * observations were ended.
   */
  endObservations(path: string, options: EndObservationsOptions = {}): number {
    const code = options.code ?? Code.ServiceUnavailable;
    if (code >>> 5 < 4) throw new RangeError('an observation ends with an error code (4.xx or 5.xx)');
    const map = this.observers.get(path.replace(/^\/+/, ''));
    if (map === undefined) return 0;
    let n = 0;
    for (const o of [...map.values()]) {
      if (options.filter !== undefined && !options.filter(o.request)) continue;
      o.dirty = false;
      this.transmitNotification(o, {
        code,
        ...(options.payload === undefined ? {} : { payload: options.payload }),
      });
      if (!o.removed) this.removeObserver(o);
      n++;
    }
    return n;
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
    if (o.removed || this.state.closed) return;
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
      (o.confirmable ?? this.options.confirmable) ||
      now - o.lastConfirmable >= this.options.confirmableInterval;
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
}
