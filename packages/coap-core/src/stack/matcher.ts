/**
 * The bottom of the exchange stack (docs/ARCHITECTURE.md, coap-core): requests of ours waiting for their
 * response, matched by token and peer (RFC 7252 §5.3.2). It is the message layer's upper layer: requests
 * from peers pass straight up; a response goes up to the exchange it answers, or is refused (a
 * Confirmable one then gets a Reset, §4.2).
 */
import type { Clock } from '../clock.js';
import { CoapRequestError } from '../errors.js';
import type { CoapMessage } from '../message/decode.js';
import { CoapResponse } from '../message/response.js';
import {
  type InboundExchange,
  MessageLayer,
  type MessageLayerOptions,
  type OutgoingMessage,
  type UpperLayer,
} from '../messaging/message-layer.js';
import { maxTransmitWait } from '../messaging/parameters.js';
import { type Random, randomInt } from '../random.js';
import type { ClientSecurity } from '../security/types.js';
import type { Peer, Transport } from '../transport/types.js';
import { ClientExchange, type ExchangeOwner } from './exchange.js';
import { AbstractLayer, type Layer, type StackState } from './layer.js';

export function tokenKey(token: Uint8Array): string {
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

/** The same transport address (what `peerKey` tells apart), without building the keys. */
const samePeer = (a: Peer, b: Peer): boolean => a.port === b.port && a.address === b.address;

export class Matcher extends AbstractLayer implements UpperLayer, ExchangeOwner {
  private readonly pending = new Map<string, ClientExchange>();
  /** MAX_TRANSMIT_WAIT: request timeouts from this long on arm their response timer late (`sendRequest`). */
  private readonly lateArmingFrom: number;
  /** The message layer below, built here with this matcher as its upper layer. */
  readonly messaging: MessageLayer;

  constructor(
    transport: Transport,
    messageOptions: MessageLayerOptions,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly tokenRange: readonly [number, number],
    readonly maxPending: number,
    private readonly state: StackState,
  ) {
    super();
    this.messaging = new MessageLayer(transport, { ...messageOptions, clock, random }, this);
    this.lateArmingFrom = maxTransmitWait(this.messaging.parameters);
  }

  /** Requests waiting for a response. */
  get size(): number {
    return this.pending.size;
  }

  get(key: string): ClientExchange | undefined {
    return this.pending.get(key);
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** A token no pending request uses (RFC 7252 §5.3.1). */
  newToken(): Uint8Array {
    const [min, max] = this.tokenRange;
    for (;;) {
      const token = this.random.fill(new Uint8Array(min === max ? min : randomInt(this.random, min, max)));
      if (!this.pending.has(tokenKey(token))) return token;
    }
  }

  queueFull(): CoapRequestError {
    return new CoapRequestError('queue-full', `more than ${this.maxPending} requests pending`);
  }

  /**
   * Starts one exchange: `message` (with its token) goes down from `via` (the top of the stack, or a layer
   * sending on its own behalf). Resolves with the response; rejects with a `CoapRequestError`.
   */
  exchange(
    via: Layer,
    message: OutgoingMessage,
    peer: Peer,
    confirmable: boolean,
    timeout: number,
    signal: AbortSignal | undefined,
    observe?: ClientExchange['observe'],
    group?: ClientExchange['group'],
    security?: ClientSecurity,
  ): Promise<CoapResponse> {
    return new Promise<CoapResponse>((resolve, reject) => {
      if (this.state.closed) {
        reject(new CoapRequestError('closed', 'endpoint is closed'));
        return;
      }
      if (signal?.aborted) {
        reject(new CoapRequestError('aborted', 'request aborted', { cause: signal.reason }));
        return;
      }
      const x = new ClientExchange(
        tokenKey(message.token!),
        peer,
        confirmable,
        timeout,
        resolve,
        reject,
        signal,
        observe,
        group,
        security,
        this,
      );
      via.sendRequest(x, message);
    });
  }

  /** Takes up an exchange without sending anything (a resumed observation, RFC 7641 §3.3.1). */
  adopt(x: ClientExchange): void {
    if (x.signal !== undefined) this.watchAbort(x, x.signal);
    this.pending.set(x.key, x);
  }

  /** Registers a pending request and sends its message (the last Outer block of it, if split). */
  override sendRequest(x: ClientExchange, outgoing: OutgoingMessage): void {
    const { key, group, signal, resolve, timeout } = x;
    this.pending.set(key, x);
    // Sent first, timers after: the peer can start on the request meanwhile (lock-step Block-wise), and
    // no response can arrive before this returns (transports deliver asynchronously).
    const tx = this.messaging.send(outgoing, x.peer, x.confirmable, x);
    x.tx = tx;
    if (
      x.confirmable &&
      group === undefined &&
      x.observe === undefined &&
      tx.messageId >= 0 &&
      timeout >= this.lateArmingFrom
    ) {
      // A Confirmable request on its way (not queued behind NSTART) whose timeout is at least
      // MAX_TRANSMIT_WAIT: until it is acknowledged, the message layer gives up first (RFC 7252 §4.2,
      // at most MAX_TRANSMIT_WAIT after sending), and a piggybacked response ends it. So the response
      // timer is armed only on an empty ACK, for the same deadline: one timer less per request.
      x.deadline = this.clock.now() + timeout;
    } else {
      x.timer = this.clock.setTimeout(
        () =>
          group !== undefined
            ? this.settle(x) && resolve(undefined as unknown as CoapResponse)
            : this.fail(x, new CoapRequestError('timeout', `no response within ${timeout} ms`)),
        timeout,
      );
    }
    if (signal !== undefined) this.watchAbort(x, signal);
  }

  private watchAbort(x: ClientExchange, signal: AbortSignal): void {
    x.abort = () =>
      this.fail(x, new CoapRequestError('aborted', 'request aborted', { cause: signal.reason }));
    signal.addEventListener('abort', x.abort, { once: true });
  }

  /** Takes `x` out of the pending requests and stops its timers and transmission; false if it was not in. */
  settle(x: ClientExchange): boolean {
    if (this.pending.get(x.key) !== x) return false;
    this.pending.delete(x.key);
    if (x.timer !== undefined) this.clock.clearTimeout(x.timer);
    if (x.abort !== undefined) x.signal?.removeEventListener('abort', x.abort);
    x.tx?.cancel();
    return true;
  }

  /** Fails `x` with `error`, if it is still pending (or detached by a layer that finishes it later). */
  fail(x: ClientExchange, error: Error): void {
    if (this.settle(x) || x.detached) {
      x.detached = false;
      x.reject(error);
    }
  }

  /** Arms the response timer of a request acknowledged with an empty ACK (see `sendRequest`). */
  armLate(x: ClientExchange): void {
    if (this.pending.get(x.key) !== x) return;
    x.timer = this.clock.setTimeout(
      () => this.fail(x, new CoapRequestError('timeout', `no response within ${x.timeout} ms`)),
      Math.max(0, x.deadline! - this.clock.now()),
    );
  }

  /** A transport failure towards `peer` fails the requests waiting for it. */
  failPeer(error: Error, peer: Peer | undefined): void {
    if (peer === undefined) return;
    for (const x of [...this.pending.values()]) {
      if (samePeer(x.peer, peer)) {
        this.fail(x, new CoapRequestError('transport', error.message, { cause: error }));
      }
    }
  }

  /** Fails every pending request (the endpoint closes). */
  failAll(error: () => Error): void {
    for (const x of [...this.pending.values()]) this.fail(x, error());
  }

  /** @internal message layer → stack */
  onRequest(exchange: InboundExchange): void {
    this.upper.receiveRequest(exchange);
  }

  /** @internal message layer → stack */
  onResponse(message: CoapMessage, peer: Peer): boolean {
    const x = this.pending.get(messageTokenKey(message));
    if (x === undefined) return false;
    if (x.group !== undefined) {
      x.group(message, peer);
      return true;
    }
    if (!samePeer(x.peer, peer)) return false;
    this.upper.receiveResponse(x, message, peer);
    return true;
  }

  /** The top of the stack: a response that passed every layer reaches its requester. */
  complete(x: ClientExchange, message: CoapMessage, peer: Peer): void {
    x.received++;
    if (x.observe !== undefined) {
      x.tx?.cancel();
      x.observe(message, peer);
      return;
    }
    this.settle(x);
    x.resolve(new CoapResponse(message, peer));
  }
}
