/**
 * DTLS 1.2 transports for `coaps://` (RFC 7252 §9) on @thimble/dtls (Node adapter, like udp.ts).
 *
 * `DtlsClientTransport` opens one DTLS session per server on the first datagram to it; datagrams wait
 * until the handshake finishes. `DtlsServerTransport` serves many clients on one port. Both hand the
 * datagrams up with `Peer.identity` set from the session (see `identityOf`), so the layers above can
 * authorize by the authenticated identity. Session failures are `CoapTransportError`s of reason 'dtls'
 * whose `cause` is the `DtlsError` (its `reason` says why), reported through `onError` with the peer.
 * See docs/ARCHITECTURE.md, "The layers, top to bottom".
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type {
  CipherSuite,
  Clock,
  CryptoProvider,
  EcdsaCredentials,
  PeerIdentity,
  PeerVerifier,
  PskCredentials,
  PskLookup,
  RetransmissionOptions,
} from '@thimble/dtls';
import { DtlsError } from '@thimble/dtls';
import { connect, type DtlsClient, DtlsServer, type DtlsServerOptions } from '@thimble/dtls/node';
import { CoapTransportError } from '../errors.js';
import type { DatagramHandler, Peer, Transport, TransportErrorHandler } from './types.js';
import { peerKey } from './types.js';

export type { DtlsError, EcdsaCredentials, PeerIdentity, PeerVerifier, PskLookup };

/** A PSK identity and key (RFC 4279). */
export type DtlsPsk = PskCredentials;

/**
 * `Peer.identity` for a DTLS identity: the PSK identity as is (as the transport always reported it),
 * `rpk:<hex of the SubjectPublicKeyInfo>` for a raw public key (RFC 7250), `x509:<subject>` for a
 * certificate.
 */
export function identityOf(identity: PeerIdentity | undefined): string | undefined {
  if (identity === undefined) return undefined;
  switch (identity.kind) {
    case 'psk':
      return identity.identity;
    case 'rpk':
      return `rpk:${identity.publicKeyHex}`;
    case 'x509':
      return `x509:${identity.subject}`;
  }
}

/** Trust and tuning shared by the client and the server transports. */
export interface DtlsCommonOptions {
  /** Our ECDSA P-256 key for the ECDHE_ECDSA suites: a raw public key, or with `certificateChain` a certificate. */
  readonly ecdsa?: EcdsaCredentials;
  /** Trusted root certificates (DER) for the peer's chain. */
  readonly trustAnchors?: readonly Uint8Array[];
  /** Trusted raw public keys of peers (SubjectPublicKeyInfo DER). */
  readonly trustedPublicKeys?: readonly Uint8Array[];
  /** Custom trust decision for raw public keys and certificates. */
  readonly verifyPeer?: PeerVerifier;
  /** Cipher suites in preference order (default: the dtls package's order). */
  readonly cipherSuites?: readonly CipherSuite[];
  /** Largest datagram sent (default 1232). */
  readonly mtu?: number;
  readonly retransmission?: RetransmissionOptions;
  /** For tests: time and crypto. */
  readonly clock?: Clock;
  readonly crypto?: CryptoProvider;
}

export interface DtlsClientTransportOptions extends DtlsCommonOptions {
  /** PSK credentials (the PSK suites are offered when present). */
  readonly psk?: DtlsPsk;
  /** Handshake timeout in ms (default 5,000). */
  readonly handshakeTimeout?: number;
  /** Offer the Connection ID extension (RFC 9146; default true). */
  readonly connectionId?: boolean;
}

/** Largest CoAP message in one DTLS record of the default MTU (1232 - 13 header - 8 CID - 8 nonce - 8 tag - margin). */
const MAX_DATAGRAM = 1152;

interface Session {
  client: DtlsClient | undefined;
  readonly backlog: Uint8Array[];
  readonly abort: AbortController;
}

function transportError(e: unknown, peer: Peer, what: string): CoapTransportError {
  const reason = e instanceof DtlsError ? ` (${e.reason})` : '';
  return new CoapTransportError(
    'dtls',
    `${what} with ${peer.address}:${peer.port} failed${reason}: ${(e as Error).message}`,
    { cause: e, peer },
  );
}

export class DtlsClientTransport implements Transport {
  readonly scheme = 'coaps';
  readonly maxDatagramSize = MAX_DATAGRAM;
  readonly local: Peer = { address: '0.0.0.0', port: 0 };
  private readonly sessions = new Map<string, Session>();
  private datagramHandler: DatagramHandler = () => {};
  private errorHandler: TransportErrorHandler = () => {};
  private closed = false;

  constructor(private readonly options: DtlsClientTransportOptions) {
    if (options.psk === undefined && options.ecdsa === undefined && options.trustAnchors === undefined) {
      throw new TypeError('DtlsClientTransport needs psk, ecdsa or trustAnchors');
    }
  }

  onDatagram(handler: DatagramHandler): void {
    this.datagramHandler = handler;
  }

  onError(handler: TransportErrorHandler): void {
    this.errorHandler = handler;
  }

  async resolve(host: string, port: number): Promise<Peer> {
    if (isIP(host) !== 0) return { address: host, port };
    const r = await lookup(host);
    return { address: r.address, port };
  }

  /** The established session with a server, if any (for its identity, CID and `rebind`). */
  session(peer: Peer): DtlsClient | undefined {
    return this.sessions.get(peerKey(peer))?.client;
  }

  send(data: Uint8Array, peer: Peer): void {
    if (this.closed) return;
    const key = peerKey(peer);
    const session = this.sessions.get(key) ?? this.open(peer, key);
    if (session.client !== undefined) {
      try {
        session.client.send(data);
      } catch (e) {
        this.errorHandler(transportError(e, peer, 'sending on the DTLS session'), peer);
      }
    } else session.backlog.push(data.slice());
  }

  private open(peer: Peer, key: string): Session {
    const o = this.options;
    const session: Session = { client: undefined, backlog: [], abort: new AbortController() };
    this.sessions.set(key, session);
    const fail = (e: unknown) => {
      if (this.sessions.get(key) !== session) return;
      this.sessions.delete(key);
      this.errorHandler(transportError(e, peer, 'DTLS session'), peer);
    };
    connect({
      host: peer.address,
      port: peer.port,
      psk: o.psk,
      ecdsa: o.ecdsa,
      trustAnchors: o.trustAnchors,
      trustedPublicKeys: o.trustedPublicKeys,
      verifyPeer: o.verifyPeer,
      cipherSuites: o.cipherSuites,
      mtu: o.mtu,
      retransmission: o.retransmission,
      connectionId: o.connectionId,
      timeoutMs: o.handshakeTimeout ?? 5_000,
      signal: session.abort.signal,
      clock: o.clock,
      crypto: o.crypto,
    }).then(
      (client) => {
        if (this.sessions.get(key) !== session || this.closed) {
          void client.close();
          return;
        }
        session.client = client;
        const from: Peer = { address: peer.address, port: peer.port, identity: identityOf(client.identity) };
        client.onData((d) => this.datagramHandler(d, from));
        client.onClose((e) => {
          if (this.sessions.get(key) !== session) return;
          this.sessions.delete(key);
          // an orderly close_notify ends the session quietly; the next datagram opens a new one
          if (e.reason !== 'closed') this.errorHandler(transportError(e, peer, 'DTLS session'), peer);
        });
        for (const d of session.backlog.splice(0)) {
          try {
            client.send(d);
          } catch (e) {
            this.errorHandler(transportError(e, peer, 'sending on the DTLS session'), peer);
          }
        }
      },
      (e: unknown) => fail(e),
    );
    return session;
  }

  async close(): Promise<void> {
    this.closed = true;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) {
      if (s.client === undefined) s.abort.abort();
      else await s.client.close();
    }
  }
}

export interface DtlsServerTransportOptions
  extends DtlsCommonOptions,
    Omit<DtlsServerOptions, keyof DtlsCommonOptions | 'port' | 'address' | 'type'> {
  /** UDP port (default 0: any free port; 5684 is coaps). */
  readonly port?: number;
  /** Local address (default `0.0.0.0`; `::` binds IPv6). */
  readonly address?: string;
  /** PSK keys by identity. */
  readonly pskLookup?: PskLookup;
  /** Called with every failed or refused handshake (for logs). */
  readonly onLog?: (message: string, peer: Peer) => void;
}

/** A `coaps://` server transport: one DTLS server socket, sessions demultiplexed by address and CID. */
export class DtlsServerTransport implements Transport {
  readonly scheme = 'coaps';
  readonly maxDatagramSize = MAX_DATAGRAM;
  private datagramHandler: DatagramHandler = () => {};
  private errorHandler: TransportErrorHandler = () => {};

  private constructor(readonly server: DtlsServer) {
    server.onData((data, p) => {
      this.datagramHandler(data, { address: p.address, port: p.port, identity: identityOf(p.identity) });
    });
  }

  static async listen(options: DtlsServerTransportOptions = {}): Promise<DtlsServerTransport> {
    const { onLog, address, ...rest } = options;
    const server = await DtlsServer.listen({
      ...rest,
      address,
      type: address?.includes(':') ? 'udp6' : 'udp4',
    });
    if (onLog !== undefined) server.onLog((m, p) => onLog(m, p));
    return new DtlsServerTransport(server);
  }

  get local(): Peer {
    return this.server.local;
  }

  onDatagram(handler: DatagramHandler): void {
    this.datagramHandler = handler;
  }

  onError(handler: TransportErrorHandler): void {
    this.errorHandler = handler;
  }

  /** Sends on the peer's session; without one (it closed or expired) the error goes to `onError`. */
  send(data: Uint8Array, peer: Peer): void {
    try {
      this.server.send(peer, data);
    } catch (e) {
      this.errorHandler(transportError(e, peer, 'sending on the DTLS session'), peer);
    }
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
