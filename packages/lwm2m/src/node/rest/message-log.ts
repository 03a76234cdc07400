/**
 * A per-device CoAP message log for the console: the CoAP endpoint's `trace` hook (every datagram in and
 * out) feeds it, and `GET /api/clients/:endpoint/log` streams it as server-sent events.
 *
 * Bounded and cheap when nobody looks: only devices someone asked for are logged (a map lookup per
 * datagram otherwise), each in a ring of `capacity` entries, at most `maxDevices` rings (the least
 * recently watched ring goes first). A message is described from its bytes (RFC 7252 §3): type, code,
 * Message ID, token, options and a payload preview.
 */
import {
  type CoapMessage,
  decodeMessage,
  describeCode,
  messageTypeName,
  optionFormat,
  optionName,
  type Peer,
  readUint,
  readUtf8,
  type TraceDirection,
  toHex,
} from '@thimble/coap-core';
import type { Registration } from '../../server/registration/store.js';
import type { Lwm2mServer } from '../../server/server.js';

export interface CoapLogEntry {
  /** Epoch ms. */
  readonly time: number;
  /** `in`: from the device to the server; `out`: from the server to the device. */
  readonly direction: TraceDirection;
  readonly type: string;
  readonly code: string;
  readonly messageId: number;
  readonly token: string;
  readonly options: readonly string[];
  /** The payload's first bytes: as text when printable, else hex. */
  readonly payload: string;
  /** Payload bytes. */
  readonly size: number;
}

export interface CoapMessageLogOptions {
  /** Entries kept per device (default 200). */
  readonly capacity?: number;
  /** Devices logged at once (default 64). */
  readonly maxDevices?: number;
  /** Payload bytes shown (default 48). */
  readonly payloadPreview?: number;
  /** Epoch ms (default Date.now). */
  readonly now?: () => number;
}

type Listener = (entry: CoapLogEntry) => void;

interface Ring {
  readonly endpoint: string;
  readonly entries: CoapLogEntry[];
  next: number;
  peer: string | undefined;
  readonly listeners: Set<Listener>;
}

const peerKey = (p: Peer): string => `${p.address}|${p.port}`;

function printable(bytes: Uint8Array): boolean {
  for (const c of bytes) if (c < 0x20 || c > 0x7e) return false;
  return true;
}

/** A CoAP message's bytes as a log entry (a malformed one says so in `code`). */
export function describeEntry(
  direction: TraceDirection,
  bytes: Uint8Array,
  time: number,
  preview = 48,
): CoapLogEntry {
  let m: CoapMessage;
  try {
    m = decodeMessage(bytes);
  } catch (e) {
    return {
      time,
      direction,
      type: '?',
      code: `malformed (${(e as { reason?: string }).reason ?? 'error'})`,
      messageId: -1,
      token: '',
      options: [],
      payload: toHex(bytes.subarray(0, preview)),
      size: bytes.length,
    };
  }
  const options: string[] = [];
  m.forEachOption((n, b, s, e) => {
    const format = optionFormat(n);
    const value =
      format === 'uint'
        ? String(readUint(b, s, e))
        : format === 'string'
          ? readUtf8(b, s, e)
          : format === 'empty'
            ? ''
            : toHex(b.subarray(s, e));
    options.push(value === '' ? optionName(n) : `${optionName(n)}: ${value}`);
  });
  const payload = m.payload;
  const shown = payload.subarray(0, preview);
  const text = printable(shown) ? readUtf8(shown, 0, shown.length) : toHex(shown);
  return {
    time,
    direction,
    type: messageTypeName(m.type),
    code: m.code === 0 ? 'Empty' : describeCode(m.code),
    messageId: m.messageId,
    token: toHex(m.token),
    options,
    payload: shown.length < payload.length ? `${text}…` : text,
    size: payload.length,
  };
}

export class CoapMessageLog {
  private readonly capacity: number;
  private readonly maxDevices: number;
  private readonly preview: number;
  private readonly now: () => number;
  /** Rings by endpoint, least recently watched first. */
  private readonly rings = new Map<string, Ring>();
  private readonly byPeer = new Map<string, Ring>();
  private server: Lwm2mServer | undefined;
  private readonly moved = (r: Registration) => {
    const ring = this.rings.get(r.endpoint);
    if (ring !== undefined) this.bind(ring, r);
  };

  constructor(options: CoapMessageLogOptions = {}) {
    this.capacity = options.capacity ?? 200;
    this.maxDevices = options.maxDevices ?? 64;
    this.preview = options.payloadPreview ?? 48;
    this.now = options.now ?? Date.now;
  }

  /** The server whose registrations say which peer is which endpoint. */
  attach(server: Lwm2mServer): () => void {
    this.server = server;
    server.on('registered', this.moved);
    server.on('updated', this.moved);
    return () => {
      server.off('registered', this.moved);
      server.off('updated', this.moved);
      if (this.server === server) this.server = undefined;
    };
  }

  /** The endpoint's `trace` hook. */
  readonly trace = (direction: TraceDirection, bytes: Uint8Array, peer: Peer): void => {
    if (this.byPeer.size === 0) return;
    const ring = this.byPeer.get(peerKey(peer));
    if (ring === undefined) return;
    const entry = describeEntry(direction, bytes, this.now(), this.preview);
    if (ring.entries.length < this.capacity) ring.entries.push(entry);
    else {
      ring.entries[ring.next] = entry;
      ring.next = (ring.next + 1) % this.capacity;
    }
    for (const l of [...ring.listeners]) l(entry);
  };

  /** The entries logged for an endpoint, oldest first. */
  entries(endpoint: string): CoapLogEntry[] {
    const ring = this.rings.get(endpoint);
    if (ring === undefined) return [];
    return [...ring.entries.slice(ring.next), ...ring.entries.slice(0, ring.next)];
  }

  /**
   * Starts logging an endpoint (if not yet) and calls `listener` with each new entry; returns the function
   * that stops listening (the ring stays, until other devices push it out).
   */
  watch(endpoint: string, listener: Listener): () => void {
    let ring = this.rings.get(endpoint);
    if (ring === undefined) {
      ring = { endpoint, entries: [], next: 0, peer: undefined, listeners: new Set() };
      this.evict();
    } else this.rings.delete(endpoint);
    // most recently watched last
    this.rings.set(endpoint, ring);
    const r = this.server?.registration(endpoint);
    if (r !== undefined) this.bind(ring, r);
    ring.listeners.add(listener);
    const watched = ring;
    return () => {
      watched.listeners.delete(listener);
    };
  }

  get devices(): number {
    return this.rings.size;
  }

  private bind(ring: Ring, r: Registration): void {
    const key = peerKey(r.peer);
    if (ring.peer === key) return;
    if (ring.peer !== undefined && this.byPeer.get(ring.peer) === ring) this.byPeer.delete(ring.peer);
    ring.peer = key;
    this.byPeer.set(key, ring);
  }

  private evict(): void {
    while (this.rings.size >= this.maxDevices) {
      // the least recently watched ring nobody listens to; else the least recently watched
      let victim: Ring | undefined;
      for (const ring of this.rings.values())
        if (ring.listeners.size === 0) {
          victim = ring;
          break;
        }
      victim ??= this.rings.values().next().value;
      if (victim === undefined) return;
      this.rings.delete(victim.endpoint);
      if (victim.peer !== undefined && this.byPeer.get(victim.peer) === victim)
        this.byPeer.delete(victim.peer);
    }
  }
}
