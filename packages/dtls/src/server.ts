/**
 * The server side without sockets: stateless cookie exchange (RFC 6347 §4.2.1), demultiplexing datagrams to
 * connections by transport address or by Connection ID (RFC 9146 §6), and the limits that keep a flood of
 * handshakes from exhausting memory. `node/server.ts` puts a UDP socket under it.
 */

import { toHex, utf8, Writer } from './bytes.js';
import type { Clock, TimerHandle } from './clock.js';
import { asDtlsError, Connection, type ServerConnectionSettings, type SessionState } from './connection.js';
import { DtlsError } from './errors.js';
import {
  type ClientHello,
  encodeHandshake,
  encodeHelloVerifyRequest,
  HandshakeType,
  parseClientHello,
  parseHandshakeFragments,
} from './handshake.js';
import { ContentType, DTLS_1_0, parseRecords, peekCid, writeRecord } from './record.js';
import type { PeerIdentity } from './types.js';

export interface ServerEngineOptions extends ServerConnectionSettings {
  /** Length of the Connection IDs we hand out (RFC 9146); 0 turns CIDs off. Default 6. */
  readonly connectionIdLength?: number;
  /** Established sessions at most (default 10,000); further handshakes are refused. */
  readonly maxSessions?: number;
  /** Handshakes in progress at most, in total (default 1,000). */
  readonly maxHandshakes?: number;
  /** Handshakes in progress at most per IP address (default 8). */
  readonly maxHandshakesPerAddress?: number;
  /** Sessions without traffic for this long are dropped (default 600,000 ms). */
  readonly idleTimeoutMs?: number;
  /** The cookie secret is replaced this often; a cookie from the previous secret is still accepted (default 60,000 ms). */
  readonly cookieSecretLifetimeMs?: number;
  /** Sessions kept for resumption at most (default 1,000; 0 turns resumption off). */
  readonly maxResumableSessions?: number;
}

/** An established or handshaking session as the server sees it. */
export interface ServerSession {
  /** The peer's current transport address (it follows the peer when a CID record arrives from a new one). */
  readonly address: string;
  readonly port: number;
  /** The authenticated identity once connected. */
  readonly identity: PeerIdentity | undefined;
  readonly connection: Connection;
  /** Sends application data to the peer. Throws `DtlsError` when not connected or too large. */
  send(data: Uint8Array): void;
  /** Sends close_notify and forgets the session. */
  close(): void;
}

export interface ServerEngineEvents {
  send(datagram: Uint8Array, address: string, port: number): void;
  onSession?(session: ServerSession): void;
  onData?(data: Uint8Array, session: ServerSession): void;
  /** A session ended or a handshake failed; `error.reason` says why. */
  onClose?(session: ServerSession, error: DtlsError): void;
  /** A line worth logging: refused handshakes, failed handshakes with their reason. */
  onLog?(message: string, address: string, port: number): void;
}

export interface ServerEngineStats {
  readonly sessions: number;
  readonly handshakes: number;
  readonly helloVerifyRequests: number;
  readonly droppedDatagrams: number;
  readonly refusedHandshakes: number;
  readonly migrations: number;
}

class Session implements ServerSession {
  address: string;
  port: number;
  connection!: Connection;
  established = false;
  cidKey: string | undefined;
  /** Where the CID datagram being processed came from. */
  candidate: { address: string; port: number } | undefined;

  constructor(
    address: string,
    port: number,
    private readonly engine: ServerEngine,
  ) {
    this.address = address;
    this.port = port;
  }

  get identity(): PeerIdentity | undefined {
    return this.connection.peerIdentity;
  }

  send(data: Uint8Array): void {
    this.connection.send(data);
  }

  close(): void {
    this.connection.close();
  }

  get key(): string {
    return addressKey(this.address, this.port);
  }

  /** @internal */
  get owner(): ServerEngine {
    return this.engine;
  }
}

function addressKey(address: string, port: number): string {
  return `${address}|${port}`;
}

export class ServerEngine {
  private readonly clock: Clock;
  private readonly byAddress = new Map<string, Session>();
  private readonly byCid = new Map<string, Session>();
  private readonly handshakesPerIp = new Map<string, number>();
  private readonly resumable = new Map<string, SessionState>();
  private handshakes = 0;
  private established = 0;
  private secret: Uint8Array;
  private previousSecret: Uint8Array;
  private secretSince: number;
  private sweepTimer: TimerHandle | undefined;
  private closedEngine = false;
  private readonly cidLength: number;
  private counters = { helloVerifyRequests: 0, droppedDatagrams: 0, refusedHandshakes: 0, migrations: 0 };

  constructor(
    private readonly options: ServerEngineOptions,
    private readonly events: ServerEngineEvents,
  ) {
    this.clock = options.clock;
    this.secret = options.crypto.randomBytes(32);
    this.previousSecret = this.secret;
    this.secretSince = this.clock.now();
    this.cidLength = options.connectionIdLength ?? 6;
    if (this.cidLength < 0 || this.cidLength > 255) throw new RangeError('connectionIdLength must be 0..255');
    this.scheduleSweep();
  }

  get stats(): ServerEngineStats {
    return { sessions: this.established, handshakes: this.handshakes, ...this.counters };
  }

  /** The sessions by current address (handshaking ones included). */
  sessions(): IterableIterator<ServerSession> {
    return this.byAddress.values();
  }

  /** The session at this transport address (handshaking or established), if any. */
  sessionAt(address: string, port: number): ServerSession | undefined {
    return this.byAddress.get(addressKey(address, port));
  }

  /** Feeds one datagram received from `address`:`port`. */
  receive(datagram: Uint8Array, address: string, port: number): void {
    if (this.closedEngine) return;
    // RFC 9146 §6: a CID record belongs to its CID's session wherever it comes from.
    const cid = peekCid(datagram, this.cidLength);
    if (cid !== undefined) {
      const session = this.byCid.get(toHex(cid));
      if (session === undefined) {
        this.counters.droppedDatagrams++;
        return;
      }
      // Only an authenticated record moves the session to a new address (RFC 9146 §6): see onAuthenticated.
      session.candidate = { address, port };
      session.connection.receive(datagram);
      session.candidate = undefined;
      return;
    }
    const key = addressKey(address, port);
    const existing = this.byAddress.get(key);
    if (
      datagram.length > 13 &&
      datagram[0] === ContentType.handshake &&
      datagram[3] === 0 &&
      datagram[4] === 0
    ) {
      if (this.handleEpoch0Handshake(datagram, address, port, existing)) return;
    }
    if (existing === undefined) {
      this.counters.droppedDatagrams++;
      return;
    }
    existing.connection.receive(datagram);
  }

  /** Returns true when the datagram was handled here (a ClientHello), false to route it to the session. */
  private handleEpoch0Handshake(
    datagram: Uint8Array,
    address: string,
    port: number,
    existing: Session | undefined,
  ): boolean {
    let hello: ClientHello;
    let recordSeq: number;
    let messageSeq: number;
    let body: Uint8Array;
    try {
      // Only the first record matters here (later ones may be CID records of an ongoing handshake).
      const firstLength = 13 + ((datagram[11]! << 8) | datagram[12]!);
      const record = parseRecords(datagram.subarray(0, firstLength))[0]!;
      const fragment = parseHandshakeFragments(record.fragment)[0];
      if (fragment === undefined || fragment.msgType !== HandshakeType.clientHello) return false;
      if (fragment.fragmentOffset !== 0 || fragment.body.length !== fragment.length) {
        this.counters.droppedDatagrams++; // a fragmented ClientHello cannot be answered statelessly
        return true;
      }
      body = fragment.body;
      hello = parseClientHello(body);
      recordSeq = record.seq;
      messageSeq = fragment.messageSeq;
    } catch (e) {
      this.counters.droppedDatagrams++;
      this.log(`malformed ClientHello dropped: ${asDtlsError(e).message}`, address, port);
      return true;
    }
    this.rotateSecret();
    const expected = this.cookie(this.secret, hello, address, port);
    const valid =
      hello.cookie.length > 0 &&
      (equal(hello.cookie, expected) ||
        equal(hello.cookie, this.cookie(this.previousSecret, hello, address, port)));
    if (!valid) {
      this.sendHelloVerifyRequest(expected, recordSeq, messageSeq, address, port);
      return true;
    }
    if (existing !== undefined && equal(existing.connection.clientHelloRandom, hello.random)) {
      existing.connection.receive(datagram); // a retransmitted ClientHello: the connection answers it
      return true;
    }
    this.startHandshake(hello, messageSeq, body, recordSeq, address, port, existing);
    return true;
  }

  private startHandshake(
    hello: ClientHello,
    messageSeq: number,
    body: Uint8Array,
    recordSeq: number,
    address: string,
    port: number,
    existing: Session | undefined,
  ): void {
    const perIp = this.handshakesPerIp.get(address) ?? 0;
    const o = this.options;
    const refuse =
      this.handshakes >= (o.maxHandshakes ?? 1000)
        ? 'too many handshakes in progress'
        : perIp >= (o.maxHandshakesPerAddress ?? 8)
          ? 'too many handshakes in progress from this address'
          : this.established >= (o.maxSessions ?? 10_000)
            ? 'session limit reached'
            : undefined;
    if (refuse !== undefined) {
      this.counters.refusedHandshakes++;
      this.log(`handshake refused (limit): ${refuse}`, address, port);
      return;
    }
    // RFC 6347 §4.2.8: a new handshake from the address of an established session replaces it.
    if (existing !== undefined)
      existing.connection.abort(new DtlsError('closed', 'the client started a new handshake'));
    const session = new Session(address, port, this);
    let cid: Uint8Array | undefined;
    if (this.cidLength > 0) {
      do cid = o.crypto.randomBytes(this.cidLength);
      while (this.byCid.has(toHex(cid)));
    }
    this.handshakes++;
    this.handshakesPerIp.set(address, perIp + 1);
    let handshaking = true;
    const endHandshake = () => {
      if (!handshaking) return;
      handshaking = false;
      this.handshakes--;
      const n = (this.handshakesPerIp.get(address) ?? 1) - 1;
      if (n <= 0) this.handshakesPerIp.delete(address);
      else this.handshakesPerIp.set(address, n);
    };
    this.byAddress.set(session.key, session);
    const maxResumable = o.maxResumableSessions ?? 1000;
    const settings: ServerConnectionSettings = {
      ...o,
      ...(maxResumable > 0
        ? {
            sessionStore: (s: SessionState) => {
              if (this.resumable.size >= maxResumable) {
                const oldest = this.resumable.keys().next().value;
                if (oldest !== undefined) this.resumable.delete(oldest);
              }
              this.resumable.set(toHex(s.sessionId), s);
            },
            sessionLookup: (id: Uint8Array) => this.resumable.get(toHex(id)),
          }
        : {}),
    };
    session.connection = Connection.server(
      settings,
      {
        send: (d) => this.events.send(d, session.address, session.port),
        onConnected: () => {
          endHandshake();
          session.established = true;
          this.established++;
          if (session.connection.connectionId !== undefined) {
            session.cidKey = toHex(session.connection.connectionId);
            this.byCid.set(session.cidKey, session);
          }
          this.events.onSession?.(session);
        },
        onAuthenticated: () => {
          const c = session.candidate;
          if (c !== undefined && (c.address !== session.address || c.port !== session.port))
            this.migrate(session, c.address, c.port);
        },
        onData: (d) => this.events.onData?.(d, session),
        onClose: (error) => {
          endHandshake();
          if (session.established) this.established--;
          session.established = false;
          if (this.byAddress.get(session.key) === session) this.byAddress.delete(session.key);
          if (session.cidKey !== undefined && this.byCid.get(session.cidKey) === session)
            this.byCid.delete(session.cidKey);
          if (error.reason !== 'closed')
            this.log(`DTLS session failed: ${error.reason}: ${error.message}`, session.address, session.port);
          this.events.onClose?.(session, error);
        },
      },
      hello,
      messageSeq,
      body,
      recordSeq,
      cid,
    );
  }

  private migrate(session: Session, address: string, port: number): void {
    if (this.byAddress.get(session.key) === session) this.byAddress.delete(session.key);
    session.address = address;
    session.port = port;
    const other = this.byAddress.get(session.key);
    if (other !== undefined && other !== session)
      other.connection.abort(new DtlsError('closed', 'address taken over by a CID session'));
    this.byAddress.set(session.key, session);
    this.counters.migrations++;
  }

  /** The stateless cookie: HMAC over the client's address and hello parameters (RFC 6347 §4.2.1). */
  private cookie(secret: Uint8Array, hello: ClientHello, address: string, port: number): Uint8Array {
    const w = new Writer(256)
      .vector(1, utf8(address))
      .u16(port)
      .u16(hello.version)
      .bytes(hello.random)
      .vector(1, hello.sessionId);
    for (const s of hello.cipherSuites) w.u16(s);
    w.vector(1, hello.compressionMethods);
    for (const e of hello.extensions) w.u16(e.type).vector(2, e.data);
    return this.options.crypto.hmacSha256(secret, w.finish()).subarray(0, 32);
  }

  private sendHelloVerifyRequest(
    cookie: Uint8Array,
    recordSeq: number,
    messageSeq: number,
    address: string,
    port: number,
  ): void {
    this.counters.helloVerifyRequests++;
    const body = encodeHelloVerifyRequest({ version: DTLS_1_0, cookie });
    const w = new Writer(64);
    // RFC 6347 §4.2.1: the HelloVerifyRequest reuses the ClientHello's record sequence number.
    writeRecord(
      w,
      ContentType.handshake,
      0,
      recordSeq,
      encodeHandshake(HandshakeType.helloVerifyRequest, messageSeq, body),
    );
    this.events.send(w.finish(), address, port);
  }

  private rotateSecret(): void {
    const now = this.clock.now();
    if (now - this.secretSince < (this.options.cookieSecretLifetimeMs ?? 60_000)) return;
    this.previousSecret = this.secret;
    this.secret = this.options.crypto.randomBytes(32);
    this.secretSince = now;
  }

  private scheduleSweep(): void {
    const idle = this.options.idleTimeoutMs ?? 600_000;
    this.sweepTimer = this.clock.setTimeout(
      () => {
        const cutoff = this.clock.now() - idle;
        for (const s of [...this.byAddress.values()]) {
          if (s.connection.lastActivityAt < cutoff && s.established) {
            s.connection.abort(new DtlsError('closed', `idle for more than ${idle} ms`));
          }
        }
        if (!this.closedEngine) this.scheduleSweep();
      },
      Math.max(1000, Math.min(idle / 2, 30_000)),
    );
  }

  private log(message: string, address: string, port: number): void {
    this.events.onLog?.(message, address, port);
  }

  /** Sends close_notify to every session and stops. */
  close(): void {
    if (this.closedEngine) return;
    for (const s of [...this.byAddress.values()]) s.connection.close();
    this.closedEngine = true;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
