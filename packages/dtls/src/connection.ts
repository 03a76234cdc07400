/**
 * One DTLS 1.2 connection, client or server side (RFC 6347): the record layer with epochs and the replay
 * window, the handshake state machine with flights, retransmission and fragmentation, and application data.
 * Portable: time comes from the injected `Clock`, crypto from the `CryptoProvider`, datagrams leave through
 * `send`. The server's stateless cookie exchange happens before a `Connection` exists (see `server.ts`).
 */

import { concat, equalBytes, fromUtf8, toHex, utf8, Writer } from './bytes.js';
import { expansion, RecordProtection } from './cipher.js';
import type { Clock, TimerHandle } from './clock.js';
import type { CryptoProvider, EcdhKeyPair } from './crypto.js';
import {
  AlertDescription,
  alertForReason,
  alertName,
  DtlsError,
  type DtlsErrorReason,
  reasonForAlert,
} from './errors.js';
import {
  CertificateType,
  type ClientHello,
  ECDSA_SHA256,
  type Extension,
  ExtensionType,
  encodeCertificateMessage,
  encodeCertificateRequest,
  encodeClientHello,
  encodeClientKeyExchange,
  encodeDigitallySigned,
  encodeEcdhParams,
  encodeHandshake,
  encodeServerHello,
  findExtension,
  fragmentHandshake,
  HANDSHAKE_HEADER_LENGTH,
  HandshakeType,
  parseCertificateMessage,
  parseCertificateRequest,
  parseClientKeyExchange,
  parseDigitallySigned,
  parseFinished,
  parseHandshakeFragments,
  parseHelloVerifyRequest,
  parseServerHello,
  parseServerKeyExchange,
  RENEGOTIATION_SCSV,
  SECP256R1,
} from './handshake.js';
import { masterSecret, prf, pskPreMasterSecret } from './prf.js';
import { Reassembler } from './reassembly.js';
import {
  ContentType,
  DTLS_1_2,
  type DtlsRecord,
  parseRecords,
  RECORD_HEADER_LENGTH,
  writeRecord,
} from './record.js';
import { ReplayWindow } from './replay.js';
import { type CipherSuite, DEFAULT_SUITE_ORDER, suiteById } from './suites.js';
import type {
  EcdsaCredentials,
  PeerIdentity,
  PeerVerifier,
  PskCredentials,
  PskLookup,
  RetransmissionOptions,
} from './types.js';

/** Settings common to both roles. */
export interface ConnectionSettings {
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** Cipher suites to offer / accept, in preference order (default `DEFAULT_SUITE_ORDER`). */
  readonly cipherSuites?: readonly CipherSuite[];
  /** Largest datagram we send (default 1232, IPv6 minimum MTU minus IP/UDP headers). */
  readonly mtu?: number;
  readonly retransmission?: RetransmissionOptions;
  /** The whole handshake must finish within this many ms (default 30,000). */
  readonly handshakeTimeoutMs?: number;
  /** Refuse peers without the extended master secret extension (RFC 7627 §5.2; default false). */
  readonly requireExtendedMasterSecret?: boolean;
  /** Our ECDSA key for ECDHE_ECDSA suites (server: required for them; client: for client authentication). */
  readonly ecdsa?: EcdsaCredentials;
  /** Trusted root certificates (DER) for the peer's X.509 chain. */
  readonly trustAnchors?: readonly Uint8Array[];
  /** Trusted raw public keys (SubjectPublicKeyInfo DER). */
  readonly trustedPublicKeys?: readonly Uint8Array[];
  /** Custom trust decision for raw public keys and certificates (runs after the built-in checks pass or none apply). */
  readonly verifyPeer?: PeerVerifier;
  /** Wall-clock time for certificate validity (default Date.now). */
  readonly wallClock?: () => number;
  /** Largest handshake message accepted (default 16,384 bytes). */
  readonly maxHandshakeMessageSize?: number;
}

export interface ClientConnectionSettings extends ConnectionSettings {
  /** PSK credentials, or a function of the server's identity hint (RFC 4279 §5.2). */
  readonly psk?: PskCredentials | ((hint: string | undefined) => PskCredentials | undefined);
  /**
   * Offer the Connection ID extension (RFC 9146, default true). `true` offers an empty CID of our own (we put
   * the server's CID in our records, the server's records to us carry none); a number n > 0 asks the server
   * to put an n-byte CID of ours in its records too; `false` does not offer the extension.
   */
  readonly connectionId?: boolean | number;
  /** A session to resume (abbreviated handshake, RFC 5246 §7.3). */
  readonly resume?: SessionState;
}

export interface ServerConnectionSettings extends ConnectionSettings {
  readonly pskLookup?: PskLookup;
  /** PSK identity hint sent in ServerKeyExchange (RFC 4279 §2); omitted by default. */
  readonly pskIdentityHint?: string;
  /** Ask ECDHE_ECDSA clients for a certificate / raw public key (default true when trust is configured). */
  readonly requireClientCertificate?: boolean;
  /** Looks up a session for resumption by session id. */
  readonly sessionLookup?: (sessionId: Uint8Array) => SessionState | undefined;
  /** Stores a session after a full handshake. */
  readonly sessionStore?: (session: SessionState) => void;
}

/** What resumption keeps of a session (RFC 5246 §7.3). */
export interface SessionState {
  readonly sessionId: Uint8Array;
  readonly suite: number;
  readonly masterSecret: Uint8Array;
  readonly extendedMasterSecret: boolean;
  readonly identity: PeerIdentity | undefined;
}

export interface ConnectionEvents {
  /** A datagram to send to the peer. */
  send(datagram: Uint8Array): void;
  /** The handshake finished. */
  onConnected?(identity: PeerIdentity | undefined): void;
  /** Application data arrived. */
  onData?(data: Uint8Array): void;
  /** A record authenticated (called before its content is handled): the server moves a CID session here. */
  onAuthenticated?(): void;
  /** The connection closed; `error.reason` says why (`closed` for an orderly close). Called once. */
  onClose?(error: DtlsError): void;
}

type State =
  | 'client-wait-hello'
  | 'client-wait-hello-done'
  | 'client-wait-finished'
  | 'server-wait-client-flight'
  | 'server-wait-finished'
  | 'connected'
  | 'closed';

type FlightEntry =
  | { readonly kind: 'handshake'; readonly epoch: number; readonly message: Uint8Array }
  | { readonly kind: 'ccs' };

/** Extra time after the last retransmission: none; the handshake timeout bounds the whole exchange. */
const DEFAULT_MTU = 1232;

export class Connection {
  readonly role: 'client' | 'server';
  private state: State;
  private readonly crypto: CryptoProvider;
  private readonly clock: Clock;
  private readonly mtu: number;
  private readonly suites: readonly CipherSuite[];
  private readonly initialTimeout: number;
  private readonly maxTimeout: number;

  // record layer
  private readEpoch = 0;
  private writeEpoch = 0;
  private readonly writeSeq = [0, 0];
  private replay = new ReplayWindow();
  private readProtection: RecordProtection | undefined;
  private writeProtection: RecordProtection | undefined;
  private pendingRead: RecordProtection | undefined;
  private pendingWrite: RecordProtection | undefined;
  /** The CID we put in records we send (the peer's), and the one we expect (ours), RFC 9146 §3. */
  private writeCid: Uint8Array | undefined;
  private readCid: Uint8Array | undefined;

  // handshake
  private suite: CipherSuite | undefined;
  private clientRandom: Uint8Array = new Uint8Array(0);
  private serverRandom: Uint8Array = new Uint8Array(0);
  private sessionId: Uint8Array = new Uint8Array(0);
  private master: Uint8Array | undefined;
  private ems = false;
  private resumed = false;
  private transcript: Uint8Array[] = [];
  private nextSendSeq = 0;
  private nextReceiveSeq = 0;
  private reassembler: Reassembler;
  private lastClientHello: Uint8Array | undefined;
  private flight: FlightEntry[] = [];
  /** message_seq of the first message of the peer's last flight: seeing it again means our answer got lost. */
  private peerFlightStart = -1;
  /** We sent a flight and wait for the peer's next one. */
  private awaitingFlight = false;
  private retransmitTimer: TimerHandle | undefined;
  private handshakeTimer: TimerHandle | undefined;
  private timeout: number;
  private peerCcs = false;
  private ecdh: EcdhKeyPair | undefined;
  private peerEcdhPublic: Uint8Array | undefined;
  private peerChain: Uint8Array[] = [];
  private peerRpk = false;
  private ownRpk = false;
  private certificateRequested = false;
  private identity: PeerIdentity | undefined;
  private psk: PskCredentials | undefined;
  private lastActivity: number;
  private authenticated = 0;
  /** Handshake messages received or sent, for diagnostics. */
  private failure: DtlsError | undefined;

  private constructor(
    role: 'client' | 'server',
    private readonly settings: ClientConnectionSettings & ServerConnectionSettings,
    private readonly events: ConnectionEvents,
    readCid: Uint8Array | undefined,
  ) {
    this.role = role;
    this.crypto = settings.crypto;
    this.clock = settings.clock;
    this.mtu = settings.mtu ?? DEFAULT_MTU;
    this.suites = settings.cipherSuites ?? DEFAULT_SUITE_ORDER;
    this.initialTimeout = settings.retransmission?.initialMs ?? 1000;
    this.maxTimeout = settings.retransmission?.maxMs ?? 60_000;
    this.timeout = this.initialTimeout;
    this.readCid = readCid;
    this.reassembler = new Reassembler(settings.maxHandshakeMessageSize ?? 16384);
    this.state = role === 'client' ? 'client-wait-hello' : 'server-wait-client-flight';
    this.lastActivity = this.clock.now();
    const limit = settings.handshakeTimeoutMs ?? 30_000;
    this.handshakeTimer = this.clock.setTimeout(() => {
      this.handshakeTimer = undefined;
      if (this.state !== 'connected' && this.state !== 'closed') {
        const waiting =
          this.state === 'client-wait-finished' ? ' (no answer to our Finished: wrong PSK?)' : '';
        this.fail(
          new DtlsError('handshake-timeout', `DTLS handshake did not finish within ${limit} ms${waiting}`),
          false,
        );
      }
    }, limit);
  }

  /** Starts a client handshake: sends the first ClientHello (flight 1). */
  static client(settings: ClientConnectionSettings, events: ConnectionEvents): Connection {
    const n = typeof settings.connectionId === 'number' ? settings.connectionId : 0;
    if (n < 0 || n > 255) throw new RangeError('connectionId length must be 0..255');
    const c = new Connection('client', settings, events, n > 0 ? settings.crypto.randomBytes(n) : undefined);
    try {
      c.sendClientHello(new Uint8Array(0));
    } catch (e) {
      const error = asDtlsError(e);
      c.finish(error); // clears the handshake timer and reports through onClose
      throw error;
    }
    return c;
  }

  /**
   * A server connection for a ClientHello whose cookie verified (RFC 6347 §4.2.1). `record` is the record that
   * carried it (its sequence number enters the replay window), `message` the whole handshake message.
   */
  static server(
    settings: ServerConnectionSettings,
    events: ConnectionEvents,
    hello: ClientHello,
    helloMessageSeq: number,
    helloBody: Uint8Array,
    recordSeq: number,
    cid: Uint8Array | undefined,
  ): Connection {
    const c = new Connection('server', settings, events, cid);
    c.replay.accept(recordSeq);
    // RFC 6347 §4.2.1: the stateless server mirrors the client's record sequence numbers; continue from there.
    c.writeSeq[0] = recordSeq;
    c.nextReceiveSeq = helloMessageSeq + 1;
    // RFC 6347 §4.2.2: after a HelloVerifyRequest the server's message_seq continues from the ClientHello's.
    c.nextSendSeq = helloMessageSeq;
    c.peerFlightStart = helloMessageSeq;
    c.transcript.push(encodeHandshake(HandshakeType.clientHello, helloMessageSeq, helloBody));
    try {
      c.onClientHello(hello);
    } catch (e) {
      c.fail(asDtlsError(e), true);
    }
    return c;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** The peer's authenticated identity, once connected. */
  get peerIdentity(): PeerIdentity | undefined {
    return this.identity;
  }

  /** The negotiated cipher suite. */
  get cipherSuite(): CipherSuite | undefined {
    return this.suite;
  }

  /** The CID we expect in records from the peer (server side), RFC 9146. */
  get connectionId(): Uint8Array | undefined {
    return this.readCid;
  }

  /** Whether records we send carry a CID (the peer gave us one). */
  get sendsConnectionId(): boolean {
    return this.writeCid !== undefined && this.writeCid.length > 0;
  }

  get extendedMasterSecret(): boolean {
    return this.ems;
  }

  /** True when this session was resumed with an abbreviated handshake. */
  get wasResumed(): boolean {
    return this.resumed;
  }

  /** Records accepted so far (authenticated and not replayed). */
  get authenticatedRecords(): number {
    return this.authenticated;
  }

  /** When a datagram of this connection was last accepted (clock ms). */
  get lastActivityAt(): number {
    return this.lastActivity;
  }

  /** The client random of the handshake (the server uses it to recognise ClientHello retransmissions). */
  get clientHelloRandom(): Uint8Array {
    return this.clientRandom;
  }

  /** The session for resumption (after a full handshake). */
  get session(): SessionState | undefined {
    if (this.master === undefined || this.suite === undefined || this.sessionId.length === 0)
      return undefined;
    return {
      sessionId: this.sessionId,
      suite: this.suite.id,
      masterSecret: this.master,
      extendedMasterSecret: this.ems,
      identity: this.identity,
    };
  }

  /** Bytes of application data that fit one record within the MTU. */
  get maxDataSize(): number {
    const cid = this.writeCid?.length ?? 0;
    const cipher = this.suite?.cipher ?? { kind: 'aead', alg: 'aes-128-ccm-8', tagLength: 8 };
    return this.mtu - RECORD_HEADER_LENGTH - cid - expansion(cipher, cid);
  }

  /** Sends application data in one record (RFC 6347 §4.1.1: a record never spans datagrams). */
  send(data: Uint8Array): void {
    if (this.state !== 'connected') {
      throw new DtlsError(
        this.state === 'closed' ? 'closed' : 'unexpected-message',
        'DTLS session not established',
      );
    }
    if (data.length > this.maxDataSize) {
      throw new DtlsError('limit', `datagram of ${data.length} bytes exceeds ${this.maxDataSize}`);
    }
    const w = new Writer(data.length + 64);
    this.writeProtected(w, ContentType.applicationData, data);
    this.events.send(w.finish());
  }

  /** Sends close_notify (RFC 5246 §7.2.1) and closes. */
  close(): void {
    if (this.state === 'closed') return;
    this.sendAlert(1, AlertDescription.closeNotify);
    this.finish(new DtlsError('closed', 'DTLS session closed'));
  }

  /** Closes without sending anything (idle timeout, transport gone). */
  abort(error: DtlsError): void {
    if (this.state === 'closed') return;
    this.finish(error);
  }

  /** Feeds one received datagram (already demultiplexed to this connection). */
  receive(datagram: Uint8Array): void {
    if (this.state === 'closed') return;
    let records: DtlsRecord[];
    try {
      records = parseRecords(datagram, this.readCid?.length ?? 0);
    } catch {
      return; // RFC 6347 §4.1.2.7: invalid records are silently discarded
    }
    for (const record of records) {
      if (this.closed) return;
      try {
        this.handleRecord(record);
      } catch (e) {
        this.fail(asDtlsError(e), true);
        return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------- records

  private handleRecord(record: DtlsRecord): void {
    if (record.epoch !== this.readEpoch) return; // other epochs: dropped, a retransmission will follow
    if (!this.replay.check(record.seq)) return; // RFC 6347 §4.1.2.6
    let type = record.type;
    let content = record.fragment;
    if (record.epoch > 0) {
      if (
        record.type === ContentType.tls12Cid &&
        (this.readCid === undefined || !equalBytes(record.cid!, this.readCid))
      )
        return;
      if (record.type !== ContentType.tls12Cid && this.readCid !== undefined && this.readCid.length > 0)
        return; // RFC 9146 §6
      const opened = this.readProtection!.open(
        record.type,
        record.epoch,
        record.seq,
        record.fragment,
        record.cid,
      );
      if (opened === undefined) {
        if (this.state === 'server-wait-finished' || this.state === 'client-wait-finished') {
          // The peer's first protected record does not authenticate: its keys differ from ours. With PSK
          // that is a wrong key (RFC 4279 §2: the Finished fails); tell the peer so it does not time out.
          throw new DtlsError(
            this.suite?.keyExchange === 'ecdhe-ecdsa' ? 'handshake-failure' : 'bad-psk',
            "the peer's Finished record does not authenticate (wrong pre-shared key?)",
            AlertDescription.decryptError,
          );
        }
        return;
      }
      type = opened.type;
      content = opened.content;
    } else if (record.type === ContentType.tls12Cid) {
      return;
    }
    this.replay.accept(record.seq);
    this.authenticated++;
    this.events.onAuthenticated?.();
    this.lastActivity = this.clock.now();
    switch (type) {
      case ContentType.handshake:
        this.handleHandshakeRecord(content, record.epoch);
        break;
      case ContentType.changeCipherSpec:
        this.handleChangeCipherSpec(content);
        break;
      case ContentType.alert:
        this.handleAlert(content);
        break;
      case ContentType.applicationData:
        if (this.state === 'connected' && record.epoch > 0) this.events.onData?.(content);
        break;
      default:
        break;
    }
  }

  private handleChangeCipherSpec(content: Uint8Array): void {
    if (content.length !== 1 || content[0] !== 1)
      throw new DtlsError('decode-error', 'ChangeCipherSpec: bad body');
    if (this.pendingRead === undefined) return; // too early (reordered); the peer retransmits
    this.readProtection = this.pendingRead;
    this.pendingRead = undefined;
    this.readEpoch++;
    this.replay = new ReplayWindow();
    this.peerCcs = true;
  }

  private handleAlert(content: Uint8Array): void {
    if (content.length !== 2) return;
    const level = content[0]!;
    const description = content[1]!;
    if (description === AlertDescription.closeNotify) {
      this.finish(new DtlsError('closed', 'the peer closed the DTLS session (close_notify)', description));
      return;
    }
    if (level === 2) {
      const reason = reasonForAlert(description);
      this.finish(
        new DtlsError(reason, `the peer sent a fatal alert: ${alertName(description)}`, description),
      );
    }
    // warning alerts (e.g. no_renegotiation) are ignored
  }

  private handleHandshakeRecord(content: Uint8Array, epoch: number): void {
    for (const fragment of parseHandshakeFragments(content)) {
      if (this.state === 'connected') {
        this.handleHandshakeWhenConnected(fragment.msgType, fragment.messageSeq, epoch);
        continue;
      }
      if (fragment.messageSeq < this.nextReceiveSeq) {
        // The peer repeats its last flight: ours was lost (RFC 6347 §4.2.4).
        if (fragment.messageSeq === this.peerFlightStart && fragment.fragmentOffset === 0) this.sendFlight();
        continue;
      }
      // HelloVerifyRequest is never fragmented (RFC 6347 §4.2.1) and is not part of the transcript.
      if (this.state === 'client-wait-hello' && fragment.msgType === HandshakeType.helloVerifyRequest) {
        this.onHelloVerifyRequest(fragment.body, fragment.messageSeq);
        continue;
      }
      this.reassembler.add(fragment, this.nextReceiveSeq);
      for (;;) {
        const m = this.reassembler.take(this.nextReceiveSeq);
        if (m === undefined) break;
        this.nextReceiveSeq++;
        if (this.awaitingFlight) {
          // The peer's next flight began: ours arrived, stop retransmitting it (RFC 6347 §4.2.4).
          this.awaitingFlight = false;
          this.peerFlightStart = m.messageSeq;
          this.cancelRetransmit();
        }
        this.handleMessage(m.msgType, m.messageSeq, m.body, epoch);
        if (this.state === 'closed') return;
      }
    }
  }

  private handleHandshakeWhenConnected(msgType: number, messageSeq: number, epoch: number): void {
    if (epoch === 0) return;
    if (
      (this.role === 'server' && msgType === HandshakeType.clientHello) ||
      (this.role === 'client' && msgType === HandshakeType.helloRequest)
    ) {
      // Renegotiation is refused (RFC 5746 §4.2 / §4.4: a no_renegotiation warning). A new handshake starts at
      // message_seq 0 (RFC 6347 §4.2.2), so this is checked before the retransmission test below.
      this.sendAlert(1, AlertDescription.noRenegotiation);
      return;
    }
    // The peer repeats its Finished flight: our last flight was lost (RFC 6347 §4.2.4, figure 2).
    if (messageSeq < this.nextReceiveSeq && this.flight.length > 0) this.sendFlight();
  }

  // ------------------------------------------------------------------------------------------ handshake

  private handleMessage(msgType: number, seq: number, body: Uint8Array, epoch: number): void {
    const whole = encodeHandshake(msgType, seq, body);
    switch (this.state) {
      case 'client-wait-hello':
        if (msgType !== HandshakeType.serverHello) throw unexpected(msgType, this.state);
        this.transcript.push(this.lastClientHello!, whole);
        this.onServerHello(body);
        return;
      case 'client-wait-hello-done':
        this.transcript.push(whole);
        this.onServerFlightMessage(msgType, body);
        return;
      case 'client-wait-finished':
        if (msgType !== HandshakeType.finished || epoch === 0 || !this.peerCcs)
          throw unexpected(msgType, this.state);
        this.verifyFinished(body, 'server finished');
        this.transcript.push(whole);
        if (this.resumed) {
          this.sendFinishedFlight('client finished', false);
          this.cancelRetransmit();
        }
        this.connected_();
        return;
      case 'server-wait-client-flight':
        this.onClientFlightMessage(msgType, body, whole, seq, epoch);
        return;
      case 'server-wait-finished':
        if (msgType !== HandshakeType.finished || epoch === 0 || !this.peerCcs)
          throw unexpected(msgType, this.state);
        this.verifyFinished(body, 'client finished');
        this.transcript.push(whole);
        if (this.resumed) {
          this.cancelRetransmit();
          this.flight = [];
        } else {
          this.sendFinishedFlight('server finished', false);
        }
        this.connected_();
        return;
      default:
        throw unexpected(msgType, this.state);
    }
  }

  private connected_(): void {
    this.state = 'connected';
    this.cancelRetransmit();
    this.reassembler.clear();
    this.transcript = [];
    this.ecdh = undefined;
    if (this.handshakeTimer !== undefined) this.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    if (this.role === 'server' && !this.resumed) {
      const s = this.session;
      if (s !== undefined) this.settings.sessionStore?.(s);
    }
    this.events.onConnected?.(this.identity);
  }

  // client ---------------------------------------------------------------------------------------------

  private sendClientHello(cookie: Uint8Array): void {
    if (this.clientRandom.length === 0) this.clientRandom = this.randomWithTime();
    const s = this.settings;
    // Certificate suites only when we can judge the server's key; PSK suites only with a PSK.
    const canVerify =
      s.trustAnchors !== undefined || s.trustedPublicKeys !== undefined || s.verifyPeer !== undefined;
    const offered = this.suites.filter((suite) =>
      suite.keyExchange === 'ecdhe-ecdsa' ? canVerify : s.psk !== undefined,
    );
    if (offered.length === 0) {
      throw new DtlsError(
        'handshake-failure',
        'no cipher suite to offer: give a PSK or a way to verify the server (trustAnchors, trustedPublicKeys, verifyPeer)',
      );
    }
    const extensions: Extension[] = [
      { type: ExtensionType.supportedGroups, data: Uint8Array.of(0, 2, 0, SECP256R1) },
      { type: ExtensionType.ecPointFormats, data: Uint8Array.of(1, 0) },
      {
        type: ExtensionType.signatureAlgorithms,
        data: Uint8Array.of(0, 2, ECDSA_SHA256 >> 8, ECDSA_SHA256 & 0xff),
      },
      { type: ExtensionType.extendedMasterSecret, data: new Uint8Array(0) },
    ];
    if (offered.some((x) => x.keyExchange === 'ecdhe-ecdsa')) {
      // RFC 7250 §3: we accept a raw public key or a certificate from the server, and offer what we have.
      extensions.push({
        type: ExtensionType.serverCertificateType,
        data: Uint8Array.of(2, CertificateType.rawPublicKey, CertificateType.x509),
      });
      if (s.ecdsa !== undefined) {
        const mine =
          s.ecdsa.certificateChain === undefined ? CertificateType.rawPublicKey : CertificateType.x509;
        extensions.push({ type: ExtensionType.clientCertificateType, data: Uint8Array.of(1, mine) });
      }
    }
    if (s.connectionId !== false) {
      const own = this.readCid ?? new Uint8Array(0);
      extensions.push({ type: ExtensionType.connectionId, data: concat(Uint8Array.of(own.length), own) });
    }
    this.offeredExtensions = extensions.map((e) => e.type);
    const resume = s.resume;
    const hello: ClientHello = {
      version: DTLS_1_2,
      random: this.clientRandom,
      sessionId: resume?.sessionId ?? new Uint8Array(0),
      cookie,
      cipherSuites: [...offered.map((x) => x.id), RENEGOTIATION_SCSV],
      compressionMethods: Uint8Array.of(0),
      extensions,
    };
    const message = encodeHandshake(HandshakeType.clientHello, this.nextSendSeq++, encodeClientHello(hello));
    this.lastClientHello = message;
    this.flight = [{ kind: 'handshake', epoch: 0, message }];
    this.startFlight();
  }

  private onHelloVerifyRequest(body: Uint8Array, seq: number): void {
    const hvr = parseHelloVerifyRequest(body);
    if (this.nextSendSeq > 1) return; // one cookie exchange per handshake
    this.nextReceiveSeq = seq + 1;
    // The HelloVerifyRequest's record number mirrors ours (RFC 6347 §4.2.1): start a fresh epoch-0 window.
    this.replay = new ReplayWindow();
    this.cancelRetransmit();
    this.timeout = this.initialTimeout;
    this.sendClientHello(hvr.cookie.slice());
  }

  private onServerHello(body: Uint8Array): void {
    const sh = parseServerHello(body);
    // RFC 5246 §7.4.1.4: a server may only answer extensions we offered (renegotiation_info answers the SCSV).
    for (const e of sh.extensions) {
      if (e.type !== ExtensionType.renegotiationInfo && !this.offeredExtensions.includes(e.type)) {
        throw new DtlsError(
          'handshake-failure',
          `the server answered extension ${e.type}, which we did not offer`,
          AlertDescription.unsupportedExtension,
        );
      }
    }
    if (sh.version !== DTLS_1_2)
      throw new DtlsError(
        'handshake-failure',
        'the server does not speak DTLS 1.2',
        AlertDescription.protocolVersion,
      );
    const suite = suiteById(sh.cipherSuite);
    if (suite === undefined || !this.suites.includes(suite) || sh.compressionMethod !== 0) {
      throw new DtlsError(
        'handshake-failure',
        `the server chose cipher suite 0x${sh.cipherSuite.toString(16)}, which we did not offer`,
        AlertDescription.illegalParameter,
      );
    }
    this.cancelRetransmit();
    this.suite = suite;
    this.serverRandom = sh.random.slice();
    this.sessionId = sh.sessionId.slice();
    this.ems = findExtension(sh.extensions, ExtensionType.extendedMasterSecret) !== undefined;
    const cid = findExtension(sh.extensions, ExtensionType.connectionId);
    if (cid !== undefined) {
      const v = cid.data;
      if (v.length < 1 || v[0] !== v.length - 1)
        throw new DtlsError('decode-error', 'ServerHello: bad connection_id extension');
      if (v.length > 1) this.writeCid = v.slice(1);
    } else {
      this.readCid = undefined; // the server does not do CIDs: its records carry none (RFC 9146 §3)
    }
    const sct = findExtension(sh.extensions, ExtensionType.serverCertificateType);
    this.peerRpk = sct !== undefined && sct.data.length === 1 && sct.data[0] === CertificateType.rawPublicKey;
    const cct = findExtension(sh.extensions, ExtensionType.clientCertificateType);
    this.ownRpk = cct !== undefined && cct.data.length === 1 && cct.data[0] === CertificateType.rawPublicKey;
    const resume = this.settings.resume;
    if (resume !== undefined && resume.sessionId.length > 0 && equalBytes(resume.sessionId, sh.sessionId)) {
      // Abbreviated handshake (RFC 5246 §7.3 figure 2): the server continues with CCS + Finished.
      if (resume.suite !== suite.id || resume.extendedMasterSecret !== this.ems) {
        throw new DtlsError(
          'handshake-failure',
          'resumed session parameters differ',
          AlertDescription.illegalParameter,
        );
      }
      this.resumed = true;
      this.master = resume.masterSecret;
      this.identity = resume.identity;
      this.deriveKeys();
      this.state = 'client-wait-finished';
      return;
    }
    if (this.settings.requireExtendedMasterSecret && !this.ems) {
      throw new DtlsError(
        'handshake-failure',
        'the server does not support the extended master secret (RFC 7627)',
        AlertDescription.handshakeFailure,
      );
    }
    this.state = 'client-wait-hello-done';
  }

  private serverHint: string | undefined;
  private offeredExtensions: number[] = [];

  private onServerFlightMessage(msgType: number, body: Uint8Array): void {
    const suite = this.suite!;
    switch (msgType) {
      case HandshakeType.certificate:
        if (suite.keyExchange !== 'ecdhe-ecdsa' || this.peerChain.length > 0)
          throw unexpected(msgType, this.state);
        this.peerChain = parseCertificateMessage(body, this.peerRpk).map((c) => c.slice());
        this.identity = this.verifyPeerChain();
        return;
      case HandshakeType.serverKeyExchange: {
        const ske = parseServerKeyExchange(body, suite.keyExchange);
        if (ske.identityHint !== undefined && ske.identityHint.length > 0) {
          this.serverHint = fromUtf8(ske.identityHint, 'PSK identity hint');
        }
        if (ske.ecdh !== undefined) {
          if (ske.ecdh.curve !== SECP256R1)
            throw new DtlsError(
              'handshake-failure',
              'the server chose a curve other than P-256',
              AlertDescription.illegalParameter,
            );
          this.peerEcdhPublic = ske.ecdh.publicKey.slice();
          if (suite.keyExchange === 'ecdhe-ecdsa') {
            const key = this.peerPublicKey();
            const signed = concat(this.clientRandom, this.serverRandom, ske.ecdh.raw);
            if (
              ske.signatureAlgorithm !== ECDSA_SHA256 ||
              !this.crypto.ecdsaVerify(key, signed, ske.signature!)
            ) {
              throw new DtlsError(
                'bad-certificate',
                'the ServerKeyExchange signature does not verify',
                AlertDescription.decryptError,
              );
            }
          }
        }
        return;
      }
      case HandshakeType.certificateRequest:
        if (suite.keyExchange !== 'ecdhe-ecdsa') throw unexpected(msgType, this.state);
        parseCertificateRequest(body);
        this.certificateRequested = true;
        return;
      case HandshakeType.serverHelloDone:
        if (body.length !== 0) throw new DtlsError('decode-error', 'ServerHelloDone: not empty');
        this.onServerHelloDone();
        return;
      default:
        throw unexpected(msgType, this.state);
    }
  }

  private onServerHelloDone(): void {
    const suite = this.suite!;
    if (suite.keyExchange !== 'psk' && this.peerEcdhPublic === undefined) {
      throw new DtlsError(
        'unexpected-message',
        'ServerKeyExchange missing',
        AlertDescription.unexpectedMessage,
      );
    }
    if (suite.keyExchange === 'ecdhe-ecdsa' && this.peerChain.length === 0) {
      throw new DtlsError(
        'unexpected-message',
        'server Certificate missing',
        AlertDescription.unexpectedMessage,
      );
    }
    this.flight = [];
    const pushMessage = (type: number, body: Uint8Array) => {
      const message = encodeHandshake(type, this.nextSendSeq++, body);
      this.transcript.push(message);
      this.flight.push({ kind: 'handshake', epoch: 0, message });
    };
    if (this.certificateRequested) {
      const own = this.settings.ecdsa;
      const chain =
        own === undefined ? [] : this.ownRpk ? [own.publicKey] : (own.certificateChain ?? [own.publicKey]);
      pushMessage(HandshakeType.certificate, encodeCertificateMessage(chain, this.ownRpk));
    }
    let pms: Uint8Array;
    let otherSecret: Uint8Array | undefined;
    let publicKey: Uint8Array | undefined;
    if (suite.keyExchange !== 'psk') {
      this.ecdh = this.crypto.generateEcdhP256();
      publicKey = this.ecdh.publicKey;
      try {
        otherSecret = this.ecdh.computeSecret(this.peerEcdhPublic!);
      } catch {
        throw new DtlsError(
          'handshake-failure',
          "the server's ECDH public key is invalid",
          AlertDescription.illegalParameter,
        );
      }
    }
    if (suite.keyExchange === 'ecdhe-ecdsa') {
      pms = otherSecret!;
      pushMessage(HandshakeType.clientKeyExchange, encodeClientKeyExchange({ publicKey: publicKey! }));
    } else {
      const p = this.settings.psk;
      const creds = typeof p === 'function' ? p(this.serverHint) : p;
      if (creds === undefined) {
        throw new DtlsError(
          'unknown-identity',
          `no PSK for the server's identity hint ${JSON.stringify(this.serverHint)}`,
          AlertDescription.unknownPskIdentity,
        );
      }
      this.psk = creds;
      pms = pskPreMasterSecret(creds.key, otherSecret);
      pushMessage(
        HandshakeType.clientKeyExchange,
        encodeClientKeyExchange({ identity: utf8(creds.identity), ...(publicKey ? { publicKey } : {}) }),
      );
    }
    this.computeMaster(pms);
    if (this.certificateRequested && this.settings.ecdsa !== undefined) {
      const signature = this.crypto.ecdsaSign(this.settings.ecdsa.privateKey, concat(...this.transcript));
      pushMessage(HandshakeType.certificateVerify, encodeDigitallySigned(ECDSA_SHA256, signature));
    }
    this.deriveKeys();
    if (suite.keyExchange === 'psk' || suite.keyExchange === 'ecdhe-psk') {
      // The server's identity is "whoever knows the PSK"; we report the identity we used.
      this.identity = { kind: 'psk', identity: this.psk!.identity };
    }
    this.appendFinished('client finished');
    this.state = 'client-wait-finished';
    this.startFlight();
  }

  // server ---------------------------------------------------------------------------------------------

  private onClientHello(hello: ClientHello): void {
    const s = this.settings;
    this.clientRandom = hello.random.slice();
    const offeredEms = findExtension(hello.extensions, ExtensionType.extendedMasterSecret) !== undefined;
    if (s.requireExtendedMasterSecret && !offeredEms) {
      throw new DtlsError(
        'handshake-failure',
        'the client does not offer the extended master secret (RFC 7627)',
        AlertDescription.handshakeFailure,
      );
    }
    if (!hello.compressionMethods.includes(0))
      throw new DtlsError('handshake-failure', 'no null compression', AlertDescription.illegalParameter);
    // DTLS versions count down (RFC 6347 §4.1): a numerically greater client_version is older than 1.2.
    if (hello.version > DTLS_1_2)
      throw new DtlsError(
        'handshake-failure',
        'the client offers DTLS 1.0 only',
        AlertDescription.protocolVersion,
      );
    const groups = findExtension(hello.extensions, ExtensionType.supportedGroups);
    const p256 = groups === undefined || includesU16(groups.data.subarray(2), SECP256R1);
    const sct = findExtension(hello.extensions, ExtensionType.serverCertificateType);
    const ownChain = s.ecdsa?.certificateChain;
    const serverTypes = sct === undefined ? [CertificateType.x509] : [...sct.data.subarray(1)];
    const canCertificate =
      s.ecdsa !== undefined &&
      ((ownChain !== undefined && serverTypes.includes(CertificateType.x509)) ||
        serverTypes.includes(CertificateType.rawPublicKey));
    const suite = this.suites.find((x) => {
      if (!hello.cipherSuites.includes(x.id)) return false;
      if (x.keyExchange === 'ecdhe-ecdsa') return canCertificate && p256;
      if (x.keyExchange === 'ecdhe-psk') return s.pskLookup !== undefined && p256;
      return s.pskLookup !== undefined;
    });
    if (suite === undefined) {
      throw new DtlsError(
        'handshake-failure',
        'no cipher suite in common with the client',
        AlertDescription.handshakeFailure,
      );
    }
    this.suite = suite;
    this.ems = offeredEms;
    this.serverRandom = this.randomWithTime();
    const extensions: Extension[] = [];
    if (offeredEms) extensions.push({ type: ExtensionType.extendedMasterSecret, data: new Uint8Array(0) });
    if (
      hello.cipherSuites.includes(RENEGOTIATION_SCSV) ||
      findExtension(hello.extensions, ExtensionType.renegotiationInfo)
    ) {
      extensions.push({ type: ExtensionType.renegotiationInfo, data: Uint8Array.of(0) }); // RFC 5746 §3.6
    }
    const cidExt = findExtension(hello.extensions, ExtensionType.connectionId);
    if (cidExt !== undefined && this.readCid !== undefined) {
      const v = cidExt.data;
      if (v.length < 1 || v[0] !== v.length - 1)
        throw new DtlsError('decode-error', 'ClientHello: bad connection_id extension');
      if (v.length > 1) this.writeCid = v.slice(1);
      extensions.push({
        type: ExtensionType.connectionId,
        data: concat(Uint8Array.of(this.readCid.length), this.readCid),
      });
    } else if (this.readCid !== undefined) {
      this.readCid = undefined;
    }
    if (suite.keyExchange === 'ecdhe-ecdsa') {
      this.ownRpk = !(ownChain !== undefined && serverTypes.includes(CertificateType.x509));
      if (sct !== undefined)
        extensions.push({
          type: ExtensionType.serverCertificateType,
          data: Uint8Array.of(this.ownRpk ? CertificateType.rawPublicKey : CertificateType.x509),
        });
      const cct = findExtension(hello.extensions, ExtensionType.clientCertificateType);
      this.certificateRequested =
        s.requireClientCertificate ??
        (s.trustAnchors !== undefined || s.trustedPublicKeys !== undefined || s.verifyPeer !== undefined);
      if (this.certificateRequested) {
        const clientTypes = cct === undefined ? [CertificateType.x509] : [...cct.data.subarray(1)];
        this.peerRpk =
          clientTypes.includes(CertificateType.rawPublicKey) &&
          (s.trustedPublicKeys !== undefined ||
            s.verifyPeer !== undefined ||
            !clientTypes.includes(CertificateType.x509));
        if (cct !== undefined)
          extensions.push({
            type: ExtensionType.clientCertificateType,
            data: Uint8Array.of(this.peerRpk ? CertificateType.rawPublicKey : CertificateType.x509),
          });
      }
    }
    // Resumption (RFC 5246 §7.3): a known session id with the same suite and EMS state.
    const cached = hello.sessionId.length > 0 ? s.sessionLookup?.(hello.sessionId) : undefined;
    if (
      cached !== undefined &&
      cached.suite === suite.id &&
      cached.extendedMasterSecret === offeredEms &&
      hello.cipherSuites.includes(cached.suite)
    ) {
      this.resumed = true;
      this.sessionId = cached.sessionId;
      this.master = cached.masterSecret;
      this.identity = cached.identity;
      this.pushServerMessage(HandshakeType.serverHello, this.serverHelloBody(extensions, true));
      this.deriveKeys();
      this.appendFinished('server finished', true);
      this.state = 'server-wait-finished';
      this.startFlight();
      return;
    }
    this.sessionId = s.sessionStore !== undefined ? this.crypto.randomBytes(32) : new Uint8Array(0);
    this.flight = [];
    this.pushServerMessage(HandshakeType.serverHello, this.serverHelloBody(extensions, false));
    if (suite.keyExchange === 'ecdhe-ecdsa') {
      const own = s.ecdsa!;
      const chain = this.ownRpk ? [own.publicKey] : ownChain!;
      this.pushServerMessage(HandshakeType.certificate, encodeCertificateMessage(chain, this.ownRpk));
    }
    if (suite.keyExchange !== 'psk' || s.pskIdentityHint !== undefined) {
      const w = new Writer(128);
      if (suite.keyExchange !== 'ecdhe-ecdsa') w.vector(2, utf8(s.pskIdentityHint ?? ''));
      if (suite.keyExchange !== 'psk') {
        this.ecdh = this.crypto.generateEcdhP256();
        const params = encodeEcdhParams(this.ecdh.publicKey);
        w.bytes(params);
        if (suite.keyExchange === 'ecdhe-ecdsa') {
          const signature = this.crypto.ecdsaSign(
            s.ecdsa!.privateKey,
            concat(this.clientRandom, this.serverRandom, params),
          );
          w.bytes(encodeDigitallySigned(ECDSA_SHA256, signature));
        }
      }
      this.pushServerMessage(HandshakeType.serverKeyExchange, w.finish());
    }
    if (this.certificateRequested)
      this.pushServerMessage(HandshakeType.certificateRequest, encodeCertificateRequest());
    this.pushServerMessage(HandshakeType.serverHelloDone, new Uint8Array(0));
    this.state = 'server-wait-client-flight';
    this.startFlight();
  }

  private serverHelloBody(extensions: Extension[], resumed: boolean): Uint8Array {
    void resumed;
    return encodeServerHello({
      version: DTLS_1_2,
      random: this.serverRandom,
      sessionId: this.sessionId,
      cipherSuite: this.suite!.id,
      compressionMethod: 0,
      extensions,
    });
  }

  private pushServerMessage(type: number, body: Uint8Array): void {
    const message = encodeHandshake(type, this.nextSendSeq++, body);
    this.transcript.push(message);
    this.flight.push({ kind: 'handshake', epoch: 0, message });
  }

  private clientCertificateSeen = false;

  private onClientFlightMessage(
    msgType: number,
    body: Uint8Array,
    whole: Uint8Array,
    _seq: number,
    epoch: number,
  ): void {
    const suite = this.suite!;
    if (epoch !== 0) throw unexpected(msgType, this.state);
    switch (msgType) {
      case HandshakeType.certificate: {
        if (!this.certificateRequested || this.clientCertificateSeen) throw unexpected(msgType, this.state);
        this.clientCertificateSeen = true;
        this.transcript.push(whole);
        this.peerChain = parseCertificateMessage(body, this.peerRpk).map((c) => c.slice());
        if (this.peerChain.length === 0 || this.peerChain[0]!.length === 0) {
          throw new DtlsError(
            'bad-certificate',
            'the client sent no certificate',
            AlertDescription.handshakeFailure,
          );
        }
        this.identity = this.verifyPeerChain();
        return;
      }
      case HandshakeType.clientKeyExchange: {
        if (this.certificateRequested && !this.clientCertificateSeen) {
          throw new DtlsError(
            'bad-certificate',
            'the client sent no certificate',
            AlertDescription.handshakeFailure,
          );
        }
        this.transcript.push(whole);
        const cke = parseClientKeyExchange(body, suite.keyExchange);
        let otherSecret: Uint8Array | undefined;
        if (cke.publicKey !== undefined) {
          try {
            otherSecret = this.ecdh!.computeSecret(cke.publicKey);
          } catch {
            throw new DtlsError(
              'handshake-failure',
              "the client's ECDH public key is invalid",
              AlertDescription.illegalParameter,
            );
          }
        }
        let pms: Uint8Array;
        if (suite.keyExchange === 'ecdhe-ecdsa') {
          pms = otherSecret!;
        } else {
          const identity = fromUtf8(cke.identity!, 'PSK identity');
          const key = this.settings.pskLookup!(identity);
          if (key === undefined) {
            throw new DtlsError(
              'unknown-identity',
              `unknown PSK identity ${JSON.stringify(identity)}`,
              AlertDescription.unknownPskIdentity,
            );
          }
          this.identity = { kind: 'psk', identity };
          pms = pskPreMasterSecret(key, otherSecret);
        }
        this.computeMaster(pms);
        this.deriveKeys();
        if (!this.certificateRequested) this.state = 'server-wait-finished';
        return;
      }
      case HandshakeType.certificateVerify: {
        if (!this.certificateRequested || this.master === undefined) throw unexpected(msgType, this.state);
        const { algorithm, signature } = parseDigitallySigned(body, 'CertificateVerify');
        const key = this.peerPublicKey();
        if (
          algorithm !== ECDSA_SHA256 ||
          !this.crypto.ecdsaVerify(key, concat(...this.transcript), signature)
        ) {
          throw new DtlsError(
            'bad-certificate',
            "the client's CertificateVerify signature does not verify",
            AlertDescription.decryptError,
          );
        }
        this.transcript.push(whole);
        this.state = 'server-wait-finished';
        return;
      }
      default:
        throw unexpected(msgType, this.state);
    }
  }

  // keys --------------------------------------------------------------------------------------------------

  private computeMaster(pms: Uint8Array): void {
    const sessionHash = this.ems ? this.crypto.sha256(concat(...this.transcript)) : undefined;
    this.master = masterSecret(this.crypto, pms, this.clientRandom, this.serverRandom, sessionHash);
  }

  /** The key block (RFC 5246 §6.3) into pending read/write protections. */
  private deriveKeys(): void {
    const suite = this.suite!;
    const m = suite.macKeyLength;
    const k = suite.keyLength;
    const iv = suite.ivLength;
    const block = prf(
      this.crypto,
      this.master!,
      'key expansion',
      concat(this.serverRandom, this.clientRandom),
      2 * (m + k + iv),
    );
    let at = 0;
    const take = (n: number) => {
      const part = block.subarray(at, at + n);
      at += n;
      return part;
    };
    const clientMac = take(m);
    const serverMac = take(m);
    const clientKey = take(k);
    const serverKey = take(k);
    const clientIv = take(iv);
    const serverIv = take(iv);
    const client = new RecordProtection(this.crypto, suite.cipher, {
      macKey: clientMac,
      key: clientKey,
      iv: clientIv,
    });
    const server = new RecordProtection(this.crypto, suite.cipher, {
      macKey: serverMac,
      key: serverKey,
      iv: serverIv,
    });
    this.pendingWrite = this.role === 'client' ? client : server;
    this.pendingRead = this.role === 'client' ? server : client;
  }

  private verifyData(label: string): Uint8Array {
    return prf(this.crypto, this.master!, label, this.crypto.sha256(concat(...this.transcript)), 12);
  }

  private verifyFinished(body: Uint8Array, label: string): void {
    const got = parseFinished(body);
    if (!equalBytes(got, this.verifyData(label))) {
      throw new DtlsError(
        this.suite?.keyExchange === 'ecdhe-ecdsa' ? 'handshake-failure' : 'bad-psk',
        "the peer's Finished does not verify (RFC 5246 §7.4.9)",
        AlertDescription.decryptError,
      );
    }
  }

  /** Adds CCS + Finished to the flight (a fresh flight when `fresh`). */
  private appendFinished(label: string, fresh = false): void {
    if (fresh) this.flight = this.flight.filter((e) => e.kind === 'handshake' && e.epoch === 0);
    const message = encodeHandshake(HandshakeType.finished, this.nextSendSeq++, this.verifyData(label));
    this.transcript.push(message);
    this.flight.push({ kind: 'ccs' }, { kind: 'handshake', epoch: 1, message });
  }

  /** The last flight of a full handshake (server) or of an abbreviated one (client): CCS + Finished, sent once. */
  private sendFinishedFlight(label: string, startTimer: boolean): void {
    this.flight = [];
    this.appendFinished(label);
    if (startTimer) this.startFlight();
    else this.sendFlight();
  }

  private peerPublicKey(): Uint8Array {
    const first = this.peerChain[0];
    if (first === undefined)
      throw new DtlsError('bad-certificate', 'no peer certificate', AlertDescription.handshakeFailure);
    if (this.peerRpk) return first;
    try {
      return this.crypto.parseCertificate(first).publicKey;
    } catch {
      throw new DtlsError(
        'bad-certificate',
        'the peer certificate does not parse',
        AlertDescription.badCertificate,
      );
    }
  }

  /** Validates the peer's raw public key or certificate chain; returns its identity (RFC 7250, RFC 5280 basics). */
  private verifyPeerChain(): PeerIdentity {
    const s = this.settings;
    const chain = this.peerChain;
    if (this.peerRpk) {
      const publicKey = chain[0]!;
      const identity: PeerIdentity = { kind: 'rpk', publicKey, publicKeyHex: toHex(publicKey) };
      const listed = s.trustedPublicKeys?.some((k) => equalBytes(k, publicKey)) ?? false;
      const custom = s.verifyPeer?.(identity, chain);
      if (!(listed || custom === true) || custom === false) {
        throw new DtlsError(
          'bad-certificate',
          "the peer's raw public key is not trusted",
          AlertDescription.certificateUnknown,
        );
      }
      return identity;
    }
    let certs: ReturnType<CryptoProvider['parseCertificate']>[];
    try {
      certs = chain.map((c) => this.crypto.parseCertificate(c));
    } catch {
      throw new DtlsError(
        'bad-certificate',
        'the peer certificate does not parse',
        AlertDescription.badCertificate,
      );
    }
    const leaf = certs[0]!;
    const identity: PeerIdentity = {
      kind: 'x509',
      subject: leaf.subject,
      issuer: leaf.issuer,
      certificate: chain[0]!,
    };
    const now = (s.wallClock ?? Date.now)();
    for (const c of certs) {
      if (now < c.validFrom || now > c.validTo) {
        throw new DtlsError(
          'bad-certificate',
          `certificate "${c.subject}" is not valid now`,
          AlertDescription.certificateExpired,
        );
      }
    }
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!this.crypto.verifyCertificate(chain[i]!, chain[i + 1]!)) {
        throw new DtlsError(
          'bad-certificate',
          `certificate "${certs[i]!.subject}" is not signed by the next in the chain`,
          AlertDescription.badCertificate,
        );
      }
    }
    const anchors = s.trustAnchors ?? [];
    const last = chain[chain.length - 1]!;
    const anchored = anchors.some((a) => equalBytes(a, last) || this.crypto.verifyCertificate(last, a));
    const custom = s.verifyPeer?.(identity, chain);
    if (custom === false || (!anchored && custom !== true)) {
      throw new DtlsError(
        'bad-certificate',
        `certificate "${leaf.subject}" does not chain to a trust anchor`,
        AlertDescription.unknownCa,
      );
    }
    return identity;
  }

  // flights and records ---------------------------------------------------------------------------------

  private startFlight(): void {
    this.cancelRetransmit();
    this.awaitingFlight = true;
    this.sendFlight();
    this.retransmitTimer = this.clock.setTimeout(() => this.onRetransmit(), this.timeout);
  }

  private onRetransmit(): void {
    this.retransmitTimer = undefined;
    if (this.state === 'closed' || this.state === 'connected') return;
    this.timeout = Math.min(this.timeout * 2, this.maxTimeout); // RFC 6347 §4.2.4.1: double, up to 60 s
    this.sendFlight();
    this.retransmitTimer = this.clock.setTimeout(() => this.onRetransmit(), this.timeout);
  }

  private cancelRetransmit(): void {
    if (this.retransmitTimer !== undefined) this.clock.clearTimeout(this.retransmitTimer);
    this.retransmitTimer = undefined;
    this.timeout = this.initialTimeout;
  }

  /** Sends the current flight, fragmenting handshake messages and packing records into MTU-sized datagrams. */
  private sendFlight(): void {
    const datagrams: Uint8Array[] = [];
    let w = new Writer(this.mtu);
    const flush = () => {
      if (w.length > 0) datagrams.push(w.finish());
      w = new Writer(this.mtu);
    };
    for (const entry of this.flight) {
      if (entry.kind === 'ccs') {
        if (w.length + RECORD_HEADER_LENGTH + 1 > this.mtu) flush();
        writeRecord(w, ContentType.changeCipherSpec, 0, this.writeSeq[0]!++, Uint8Array.of(1));
        continue;
      }
      const protectedEpoch = entry.epoch > 0;
      const cidLength = protectedEpoch ? (this.writeCid?.length ?? 0) : 0;
      const overhead =
        RECORD_HEADER_LENGTH +
        cidLength +
        (protectedEpoch ? expansion(this.suite!.cipher, cidLength) : 0) +
        HANDSHAKE_HEADER_LENGTH;
      const maxBody = Math.max(16, this.mtu - overhead);
      for (const fragment of fragmentHandshake(entry.message, maxBody)) {
        const size = overhead - HANDSHAKE_HEADER_LENGTH + fragment.length;
        if (w.length + size > this.mtu) flush();
        if (protectedEpoch) this.writeProtectedEpoch(w, ContentType.handshake, fragment, 1);
        else writeRecord(w, ContentType.handshake, 0, this.writeSeq[0]!++, fragment);
      }
    }
    flush();
    if (this.flight.some((e) => e.kind === 'ccs') && this.pendingWrite !== undefined) {
      this.writeProtection = this.pendingWrite;
      this.pendingWrite = undefined;
      this.writeEpoch = 1;
    }
    for (const d of datagrams) this.events.send(d);
  }

  private writeProtectedEpoch(w: Writer, type: number, content: Uint8Array, epoch: number): void {
    const protection = this.writeProtection ?? this.pendingWrite!;
    const seq = this.writeSeq[epoch]!++;
    const cid = this.writeCid !== undefined && this.writeCid.length > 0 ? this.writeCid : undefined;
    writeRecord(w, type, epoch, seq, protection.seal(type, epoch, seq, content, cid), cid);
  }

  private writeProtected(w: Writer, type: number, content: Uint8Array): void {
    if (this.writeEpoch === 0) writeRecord(w, type, 0, this.writeSeq[0]!++, content);
    else this.writeProtectedEpoch(w, type, content, this.writeEpoch);
  }

  private sendAlert(level: number, description: number): void {
    const w = new Writer(64);
    this.writeProtected(w, ContentType.alert, Uint8Array.of(level, description));
    this.events.send(w.finish());
  }

  /** Fails the handshake or session: sends a fatal alert when `alert` and closes. */
  private fail(error: DtlsError, alert: boolean): void {
    if (this.state === 'closed') return;
    if (alert && error.reason !== 'closed') {
      try {
        this.sendAlert(2, error.alert ?? alertForReason(error.reason));
      } catch {
        // sending is best effort
      }
    }
    this.finish(error);
  }

  private finish(error: DtlsError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.failure = error;
    this.cancelRetransmit();
    if (this.handshakeTimer !== undefined) this.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.flight = [];
    this.transcript = [];
    this.reassembler.clear();
    this.events.onClose?.(error);
  }

  /** Why the connection closed, once closed. */
  get closeReason(): DtlsError | undefined {
    return this.failure;
  }

  private randomWithTime(): Uint8Array {
    // RFC 5246 §7.4.1.2 puts gmt_unix_time in the first 4 bytes; RFC 8446 §D.1 notes all-random is fine.
    return this.crypto.randomBytes(32);
  }
}

function includesU16(list: Uint8Array, value: number): boolean {
  for (let i = 0; i + 1 < list.length; i += 2) if (((list[i]! << 8) | list[i + 1]!) === value) return true;
  return false;
}

function unexpected(msgType: number, state: string): DtlsError {
  return new DtlsError(
    'unexpected-message',
    `unexpected handshake message ${msgType} in state ${state}`,
    AlertDescription.unexpectedMessage,
  );
}

export function asDtlsError(e: unknown): DtlsError {
  if (e instanceof DtlsError) return e;
  return new DtlsError(
    'internal',
    e instanceof Error ? e.message : String(e),
    AlertDescription.internalError,
  );
}

export type { DtlsErrorReason };
