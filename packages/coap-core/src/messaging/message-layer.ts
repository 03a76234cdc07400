/**
 * The RFC 7252 §4 message layer: Confirmable retransmission with exponential back-off, deduplication,
 * message IDs, Empty messages (ACK, RST, ping), NSTART, piggybacked and separate responses.
 *
 * It sits between a transport and the exchange stack above it (whose bottom, the matcher, it is given at
 * construction; docs/ARCHITECTURE.md, coap-core): it hands requests and responses up and
 * takes responses and requests down, and knows nothing of tokens, URIs or resources.
 */
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { isRequestCode, isReservedCodeClass, isResponseCode, MessageType } from '../message/constants.js';
import { type CoapMessage, decodeMessage } from '../message/decode.js';
import { encodeMessage } from '../message/encode.js';
import { CoapDecodeError } from '../message/errors.js';
import type { CoapOptionInit } from '../message/types.js';
import { cryptoRandom, type Random, randomFloat } from '../random.js';
import { type Peer, peerKey, type Transport } from '../transport/types.js';
import { DedupCache, DedupRing } from './dedup.js';
import {
  DEFAULT_TRANSMISSION_PARAMETERS,
  exchangeLifetime,
  nonLifetime,
  type TransmissionParameters,
} from './parameters.js';

export interface MessageLayerLimits {
  /** Deduplication entries kept in total (oldest evicted first). */
  readonly maxDedupEntries: number;
  /** Deduplication entries kept per peer. */
  readonly maxDedupPerPeer: number;
  /** Peers whose state (message IDs, deduplication) is kept. */
  readonly maxPeers: number;
  /** Requests queued per peer behind NSTART before new ones are refused. */
  readonly maxQueuedPerPeer: number;
}

export const DEFAULT_LIMITS: MessageLayerLimits = {
  maxDedupEntries: 50_000,
  maxDedupPerPeer: 2_000,
  maxPeers: 20_000,
  maxQueuedPerPeer: 1_000,
};

/** What a message carries above the message layer: no type, no message ID. */
export interface OutgoingMessage {
  readonly code: number;
  readonly token?: Uint8Array;
  readonly options?: readonly CoapOptionInit[];
  readonly payload?: Uint8Array;
}

export interface TransmissionCallbacks {
  /** A Confirmable message was acknowledged; `piggybacked` when the ACK carries a response. */
  onAck?(piggybacked: boolean): void;
  /** The peer answered with a Reset. */
  onReset?(): void;
  /** A Confirmable message was never acknowledged (MAX_RETRANSMIT reached), or a queued one was dropped. */
  onTimeout?(): void;
}

/** An inbound request as the message layer hands it up; `respond` sends the response the right way. */
export interface InboundExchange {
  readonly message: CoapMessage;
  readonly peer: Peer;
  /** Sends the response: piggybacked on the ACK if it is not sent yet, else as a separate response. */
  respond(response: OutgoingMessage): void;
  /** Acknowledges a Confirmable request now (the response will be separate). */
  acknowledge(): void;
  /** True once a response was sent. */
  readonly responded: boolean;
  /** The request came to a multicast group (RFC 7252 §8.2). */
  readonly multicast: boolean;
}

export interface UpperLayer {
  onRequest(exchange: InboundExchange): void;
  /** Returns false if nobody waits for this response, so a Confirmable one is rejected with a Reset. */
  onResponse(message: CoapMessage, peer: Peer): boolean;
}

export type TraceDirection = 'in' | 'out';
export type TraceHook = (direction: TraceDirection, bytes: Uint8Array, peer: Peer) => void;

export interface MessageLayerOptions {
  readonly parameters?: Partial<TransmissionParameters>;
  readonly limits?: Partial<MessageLayerLimits>;
  readonly clock?: Clock;
  readonly random?: Random;
  /** How long a Confirmable request may wait for its response before an empty ACK is sent (ms). */
  readonly piggybackDelay?: number;
  readonly trace?: TraceHook;
}

/**
 * Stand-ins for a peer's empty maps and queue, shared by every peer that has none yet (a server has state
 * for each device that spoke, and most never get a request from it): only read, never written; the
 * write sites (`transmit`, `send`) give the peer its own first.
 */
const NO_INFLIGHT: ReadonlyMap<number, Transmission> = new Map();
const NO_WATCHED: ReadonlyMap<number, { expires: number; tx: Transmission }> = new Map();
const NO_QUEUE: readonly Transmission[] = [];

class PeerState {
  nextMessageId: number;
  readonly dedup = new DedupRing();
  inflight = NO_INFLIGHT as Map<number, Transmission>;
  /** NON messages whose Reset we want to hear about (e.g. notifications), with their expiry. */
  watched = NO_WATCHED as Map<number, { expires: number; tx: Transmission }>;
  queue = NO_QUEUE as Transmission[];
  outstanding = 0;
  lastActive: number;
  constructor(
    readonly key: string,
    /** The peer as last seen on the wire (a secure transport may re-authenticate it, see `received`). */
    public peer: Peer,
    firstMessageId: number,
    now: number,
  ) {
    this.nextMessageId = firstMessageId;
    this.lastActive = now;
  }
}

/** A message on its way out. */
export class Transmission {
  messageId = -1;
  retransmissions = 0;
  timeout = 0;
  timer: TimerHandle | undefined = undefined;
  done = false;
  /** Counts against NSTART (a Confirmable request). */
  counted = false;
  /** Times it was sent anew under a fresh message ID after a stale piggybacked reply. */
  renumbered = 0;
  constructor(
    readonly layer: MessageLayer,
    readonly state: PeerState,
    readonly bytes: Uint8Array,
    readonly confirmable: boolean,
    readonly callbacks: TransmissionCallbacks,
  ) {}

  /** Stops retransmitting and forgets the message; no callback fires afterwards. */
  cancel(): void {
    this.layer.finish(this);
  }
}

class Exchange implements InboundExchange {
  responded = false;
  acknowledged = false;
  constructor(
    private readonly layer: MessageLayer,
    readonly state: PeerState,
    readonly message: CoapMessage,
    /** Sequence number of the request's deduplication entry, -1 for none. */
    readonly entry: number,
    readonly ackDeadline: number,
    readonly multicast = false,
  ) {}

  get peer(): Peer {
    return this.state.peer;
  }

  respond(response: OutgoingMessage): void {
    if (this.responded) throw new Error('response already sent for this request');
    this.responded = true;
    this.layer.sendResponse(this, response);
  }

  acknowledge(): void {
    this.layer.acknowledge(this);
  }
}

/** Times a message is sent anew under a fresh ID after stale piggybacked replies (see `dispatch`). */
const MAX_RENUMBER = 3;

/**
 * True when the encoded message `bytes` and the received `message` carry the same token (the token follows
 * the 4-byte header; its length is the low nibble of byte 0). Read from both buffers: no token view made.
 */
function sameToken(bytes: Uint8Array, message: CoapMessage): boolean {
  const length = bytes[0]! & 0x0f;
  if (length !== message.tokenLength) return false;
  const other = message.bytes;
  for (let i = 4; i < 4 + length; i++) if (bytes[i] !== other[i]) return false;
  return true;
}

function emptyMessage(type: number, messageId: number): Uint8Array {
  return Uint8Array.of(0x40 | (type << 4), 0, messageId >>> 8, messageId & 0xff);
}

export class MessageLayer {
  readonly parameters: TransmissionParameters;
  readonly limits: MessageLayerLimits;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly piggybackDelay: number;
  private readonly exchangeLifetime: number;
  private readonly nonLifetime: number;
  /** Peer state by `peerKey`, in the order peers were first seen (the oldest are evicted first). */
  private readonly peers = new Map<string, PeerState>();
  /**
   * The same states by address, then port: the lookup for every datagram, without building a key
   * string per datagram.
   */
  private readonly byAddress = new Map<string, Map<number, PeerState>>();
  private readonly dedup: DedupCache;
  private readonly trace: TraceHook | undefined;
  private ackQueue: Exchange[] = [];
  private ackQueueHead = 0;
  private ackTimer: TimerHandle | undefined;
  private sweepTimer: TimerHandle | undefined;
  private closed = false;

  constructor(
    readonly transport: Transport,
    options: MessageLayerOptions,
    /** Where requests and responses go up: the bottom of the exchange stack (given once, here). */
    private readonly upper: UpperLayer,
  ) {
    this.parameters = { ...DEFAULT_TRANSMISSION_PARAMETERS, ...options.parameters };
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.dedup = new DedupCache(this.limits.maxDedupEntries, this.limits.maxDedupPerPeer);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
    this.piggybackDelay = options.piggybackDelay ?? Math.min(500, this.parameters.ackTimeout / 2);
    this.exchangeLifetime = exchangeLifetime(this.parameters);
    this.nonLifetime = nonLifetime(this.parameters);
    this.trace = options.trace;
    transport.onDatagram((data, peer, info) => this.receive(data, peer, info?.multicast === true));
  }

  /** Number of peers with state, deduplication entries, and messages in flight (for tests and metrics). */
  stats(): { peers: number; dedupEntries: number; inflight: number; queued: number } {
    let inflight = 0;
    let queued = 0;
    for (const s of this.peers.values()) {
      inflight += s.inflight.size;
      queued += s.queue.length;
    }
    return { peers: this.peers.size, dedupEntries: this.dedup.count, inflight, queued };
  }

  // ---------------------------------------------------------------- peers

  private findState(peer: Peer): PeerState | undefined {
    return this.byAddress.get(peer.address)?.get(peer.port);
  }

  private forgetState(s: PeerState): void {
    this.peers.delete(s.key);
    const ports = this.byAddress.get(s.peer.address);
    if (ports !== undefined && ports.get(s.peer.port) === s) {
      ports.delete(s.peer.port);
      if (ports.size === 0) this.byAddress.delete(s.peer.address);
    }
  }

  private state(peer: Peer, now: number): PeerState {
    let s = this.findState(peer);
    if (s === undefined) {
      if (this.peers.size >= this.limits.maxPeers) this.evictPeers();
      // RFC 7252 §4.4: start at a random message ID
      s = new PeerState(peerKey(peer), peer, this.random.nextUint32() & 0xffff, now);
      this.peers.set(s.key, s);
      let ports = this.byAddress.get(peer.address);
      if (ports === undefined) {
        ports = new Map();
        this.byAddress.set(peer.address, ports);
      }
      ports.set(peer.port, s);
      this.armSweep();
    }
    s.lastActive = now;
    return s;
  }

  /**
   * The state of the peer a datagram came from. A secure transport (DTLS) names the authenticated identity
   * on the peer it hands up (`Peer.identity`); when it changes (a new handshake from the same address) the
   * state takes the new peer, so requests are always seen with the identity that sent them.
   */
  private received(peer: Peer, now: number): PeerState {
    const s = this.state(peer, now);
    if (s.peer.identity !== peer.identity) s.peer = peer;
    return s;
  }

  private evictPeers(): void {
    // Drop the oldest peers that have nothing in flight, until there is room for one more.
    for (const s of this.peers.values()) {
      if (this.peers.size < this.limits.maxPeers) return;
      if (s.inflight.size === 0 && s.queue.length === 0) {
        this.dedup.forget(s.dedup);
        this.forgetState(s);
      }
    }
  }

  private armSweep(): void {
    if (this.sweepTimer !== undefined || this.closed) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep();
    }, 5_000);
  }

  /** Expires deduplication entries and watched messages, and forgets idle peers. */
  sweep(): void {
    const now = this.clock.now();
    for (const s of this.peers.values()) {
      this.dedup.expire(s.dedup, now, Math.max(0, this.exchangeLifetime - this.nonLifetime));
      for (const [mid, w] of s.watched) if (w.expires <= now) s.watched.delete(mid);
      if (
        s.dedup.size === 0 &&
        s.inflight.size === 0 &&
        s.watched.size === 0 &&
        s.queue.length === 0 &&
        now - s.lastActive > this.exchangeLifetime
      ) {
        this.forgetState(s);
      }
    }
    this.dedup.compact();
    if (this.peers.size > 0) this.armSweep();
  }

  private nextMessageId(s: PeerState): number {
    // Sequential from a random start: an ID comes back only after 65,536 messages to the same peer.
    // Skip IDs still in flight.
    let id = s.nextMessageId;
    for (let tries = 0; tries < 0x10000 && (s.inflight.has(id) || s.watched.has(id)); tries++) {
      id = (id + 1) & 0xffff;
    }
    s.nextMessageId = (id + 1) & 0xffff;
    return id;
  }

  // ---------------------------------------------------------------- sending

  private emit(bytes: Uint8Array, peer: Peer): void {
    if (this.trace !== undefined) this.trace('out', bytes, peer);
    this.transport.send(bytes, peer);
  }

  /**
   * Sends a request or a separate response as CON or NON. Confirmable requests wait behind NSTART
   * (RFC 7252 §4.7). Callbacks report ACK, RST and give-up.
   */
  send(
    message: OutgoingMessage,
    peer: Peer,
    confirmable: boolean,
    callbacks: TransmissionCallbacks = {},
    watchReset = false,
  ): Transmission {
    if (this.closed) throw new Error('endpoint is closed');
    const s = this.state(peer, this.clock.now());
    const bytes = encodeMessage({
      type: confirmable ? MessageType.CON : MessageType.NON,
      code: message.code,
      messageId: 0, // patched when it leaves the queue
      token: message.token,
      options: message.options,
      payload: message.payload,
    });
    const tx = new Transmission(this, s, bytes, confirmable, callbacks);
    const limited = confirmable && isRequestCode(message.code);
    if (limited && s.outstanding >= this.parameters.nstart) {
      if (s.queue.length >= this.limits.maxQueuedPerPeer) {
        tx.done = true;
        queueMicrotask(() => callbacks.onTimeout?.());
        return tx;
      }
      if (s.queue === NO_QUEUE) s.queue = [];
      s.queue.push(tx);
      return tx;
    }
    if (limited) {
      tx.counted = true;
      s.outstanding++;
    }
    this.transmit(tx, watchReset);
    return tx;
  }

  private transmit(tx: Transmission, watchReset: boolean): void {
    const s = tx.state;
    const id = this.nextMessageId(s);
    tx.messageId = id;
    tx.bytes[2] = id >>> 8;
    tx.bytes[3] = id & 0xff;
    // The datagram leaves first, the bookkeeping follows: in a lock-step exchange (Block-wise) the peer
    // starts on it while this side arms its timer. Nothing can arrive in between (one thread), so the
    // order is not observable.
    this.emit(tx.bytes, s.peer);
    if (tx.confirmable) {
      if (s.inflight === NO_INFLIGHT) s.inflight = new Map();
      s.inflight.set(id, tx);
      const p = this.parameters;
      // RFC 7252 §4.2: initial timeout random in [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR]
      tx.timeout = p.ackTimeout * (1 + randomFloat(this.random) * (p.ackRandomFactor - 1));
      tx.timer = this.clock.setTimeout(() => this.retransmit(tx), tx.timeout);
    } else if (watchReset) {
      if (s.watched === NO_WATCHED) s.watched = new Map();
      s.watched.set(id, { expires: this.clock.now() + this.nonLifetime, tx });
    }
  }

  private retransmit(tx: Transmission): void {
    if (tx.done) return;
    if (tx.retransmissions >= this.parameters.maxRetransmit) {
      this.finish(tx);
      tx.callbacks.onTimeout?.();
      return;
    }
    tx.retransmissions++;
    tx.timeout *= 2;
    tx.timer = this.clock.setTimeout(() => this.retransmit(tx), tx.timeout);
    this.emit(tx.bytes, tx.state.peer);
  }

  /** @internal Ends a transmission: stops its timer, frees its message ID and its NSTART slot. */
  finish(tx: Transmission): void {
    if (tx.done) return;
    tx.done = true;
    if (tx.timer !== undefined) this.clock.clearTimeout(tx.timer);
    const s = tx.state;
    if (tx.messageId >= 0) {
      if (s.inflight.get(tx.messageId) === tx) s.inflight.delete(tx.messageId);
      const w = s.watched.get(tx.messageId);
      if (w !== undefined && w.tx === tx) s.watched.delete(tx.messageId);
    } else {
      const i = s.queue.indexOf(tx);
      if (i >= 0) s.queue.splice(i, 1);
    }
    if (tx.counted) {
      tx.counted = false;
      s.outstanding--;
      while (s.outstanding < this.parameters.nstart && s.queue.length > 0) {
        const next = s.queue.shift()!;
        next.counted = true;
        s.outstanding++;
        this.transmit(next, false);
      }
    }
  }

  /** @internal */
  sendResponse(ex: Exchange, response: OutgoingMessage): void {
    const request = ex.message;
    const token = request.token;
    if (request.type === MessageType.CON && !ex.acknowledged) {
      // Piggybacked response (RFC 7252 §5.2.1)
      ex.acknowledged = true;
      const bytes = encodeMessage({
        type: MessageType.ACK,
        code: response.code,
        messageId: request.messageId,
        token,
        options: response.options,
        payload: response.payload,
      });
      // sent before it is kept for duplicates (a copy for a long reply): off the round trip's path
      this.emit(bytes, ex.state.peer);
      if (ex.entry >= 0) ex.state.dedup.setReply(ex.entry, bytes);
      return;
    }
    // Separate response (§5.2.2): CON after an empty ACK; a NON request gets a NON response (§5.2.3).
    this.send({ ...response, token }, ex.state.peer, request.type === MessageType.CON);
  }

  /** @internal */
  acknowledge(ex: Exchange): void {
    if (ex.acknowledged || ex.message.type !== MessageType.CON) return;
    ex.acknowledged = true;
    const bytes = emptyMessage(MessageType.ACK, ex.message.messageId);
    if (ex.entry >= 0) ex.state.dedup.setReply(ex.entry, bytes);
    this.emit(bytes, ex.state.peer);
  }

  private scheduleAck(ex: Exchange): void {
    this.ackQueue.push(ex);
    if (this.ackTimer === undefined) {
      this.ackTimer = this.clock.setTimeout(() => this.flushAcks(), this.piggybackDelay);
    }
  }

  private flushAcks(): void {
    this.ackTimer = undefined;
    const now = this.clock.now();
    const q = this.ackQueue;
    let i = this.ackQueueHead;
    while (i < q.length) {
      const ex = q[i]!;
      if (ex.ackDeadline > now) break;
      if (!ex.responded) ex.acknowledge();
      i++;
    }
    if (i === q.length) {
      this.ackQueue = [];
      this.ackQueueHead = 0;
    } else {
      this.ackQueueHead = i;
      if (i > 1024 && i * 2 > q.length) {
        this.ackQueue = q.slice(i);
        this.ackQueueHead = 0;
      }
      const wait = Math.max(1, this.ackQueue[this.ackQueueHead]!.ackDeadline - now);
      this.ackTimer = this.clock.setTimeout(() => this.flushAcks(), wait);
    }
  }

  // ---------------------------------------------------------------- receiving

  /** Handles one datagram from the transport. Never throws. */
  receive(data: Uint8Array, peer: Peer, multicast = false): void {
    if (this.closed) return;
    if (this.trace !== undefined) this.trace('in', data, peer);
    let message: CoapMessage;
    try {
      message = decodeMessage(data);
    } catch (e) {
      // RFC 7252 §4.2: a malformed Confirmable message is rejected with a Reset; §4.3: others dropped.
      // §8.1: never a Reset to a multicast message.
      if (
        !multicast &&
        e instanceof CoapDecodeError &&
        e.type === MessageType.CON &&
        e.messageId !== undefined
      ) {
        this.emit(emptyMessage(MessageType.RST, e.messageId), peer);
      }
      return;
    }
    try {
      if (multicast) this.dispatchGroup(message, peer);
      else this.dispatch(message, peer);
    } catch {
      // An upper layer failed on this message; the endpoint keeps running.
    }
  }

  private dispatch(message: CoapMessage, peer: Peer): void {
    const code = message.code;
    switch (message.type) {
      case MessageType.CON: {
        if (code === 0 || isReservedCodeClass(code)) {
          // Ping (§4.3) or a code we cannot process: Reset.
          this.emit(emptyMessage(MessageType.RST, message.messageId), peer);
          return;
        }
        const now = this.clock.now();
        const s = this.received(peer, now);
        const seen = s.dedup.find(message.messageId);
        if (seen >= 0) {
          // Duplicate (§4.5): repeat our answer, never hand it up twice.
          const reply = s.dedup.reply(seen);
          if (reply !== undefined) this.emit(reply, s.peer);
          return;
        }
        const entry = this.dedup.add(s.dedup, message.messageId, now + this.exchangeLifetime);
        if (isRequestCode(code)) {
          const ex = new Exchange(this, s, message, entry, now + this.piggybackDelay);
          this.upper.onRequest(ex);
          if (!ex.responded) this.scheduleAck(ex);
        } else if (isResponseCode(code)) {
          const accepted = this.upper.onResponse(message, s.peer);
          const reply = emptyMessage(accepted ? MessageType.ACK : MessageType.RST, message.messageId);
          s.dedup.setReply(entry, reply);
          this.emit(reply, s.peer);
        }
        return;
      }
      case MessageType.NON: {
        if (code === 0 || isReservedCodeClass(code)) return;
        const now = this.clock.now();
        const s = this.received(peer, now);
        if (s.dedup.find(message.messageId) >= 0) return;
        this.dedup.add(s.dedup, message.messageId, now + this.nonLifetime);
        if (isRequestCode(code)) {
          this.upper.onRequest(new Exchange(this, s, message, -1, 0));
        } else if (isResponseCode(code)) {
          const accepted = this.upper.onResponse(message, s.peer);
          // §5.3.2: a response nobody waits for is rejected
          if (!accepted) this.emit(emptyMessage(MessageType.RST, message.messageId), s.peer);
        }
        return;
      }
      case MessageType.ACK: {
        const s = this.findState(peer);
        const tx = s?.inflight.get(message.messageId);
        if (s === undefined || tx === undefined) return; // late or stray ACK
        s.lastActive = this.clock.now();
        const piggybacked = code !== 0;
        if (piggybacked && !sameToken(tx.bytes, message)) {
          // A piggybacked response for another token: the peer answered this message ID from its
          // deduplication cache with the reply to an older message (an earlier endpoint on this
          // address:port used the ID within EXCHANGE_LIFETIME, RFC 7252 §4.5). It is not our answer
          // (§5.3.2) and the same ID would get the same reply again: send the message anew under a
          // fresh ID, a few times at most; after that, take it as an empty ACK (the request then
          // waits for a separate response until its timeout).
          if (tx.renumbered < MAX_RENUMBER) {
            tx.renumbered++;
            s.inflight.delete(tx.messageId);
            if (tx.timer !== undefined) this.clock.clearTimeout(tx.timer);
            tx.timer = undefined;
            tx.retransmissions = 0;
            this.transmit(tx, false);
            return;
          }
          this.finish(tx);
          tx.callbacks.onAck?.(false);
          return;
        }
        this.finish(tx);
        tx.callbacks.onAck?.(piggybacked);
        if (piggybacked && isResponseCode(code)) this.upper.onResponse(message, s.peer);
        return;
      }
      case MessageType.RST: {
        const s = this.findState(peer);
        if (s === undefined) return;
        const tx = s.inflight.get(message.messageId) ?? s.watched.get(message.messageId)?.tx;
        if (tx === undefined) return;
        this.finish(tx);
        tx.callbacks.onReset?.();
        return;
      }
    }
  }

  /** RFC 7252 §8.1: only Non-confirmable requests are valid in a group; nothing is answered with RST. */
  private dispatchGroup(message: CoapMessage, peer: Peer): void {
    if (message.type !== MessageType.NON || !isRequestCode(message.code)) return;
    const now = this.clock.now();
    const s = this.received(peer, now);
    if (s.dedup.find(message.messageId) >= 0) return;
    this.dedup.add(s.dedup, message.messageId, now + this.nonLifetime);
    this.upper.onRequest(new Exchange(this, s, message, -1, 0, true));
  }

  /** Sends an Empty Reset for a message ID (e.g. to reject a notification nobody wants). */
  reset(peer: Peer, messageId: number): void {
    this.emit(emptyMessage(MessageType.RST, messageId), peer);
  }

  /** Stops every timer; pending transmissions get no further callbacks. */
  close(): void {
    this.closed = true;
    if (this.ackTimer !== undefined) this.clock.clearTimeout(this.ackTimer);
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    for (const s of this.peers.values()) {
      for (const tx of [...s.inflight.values(), ...s.queue]) this.finish(tx);
    }
    this.peers.clear();
    this.byAddress.clear();
    this.dedup.clear();
  }
}
