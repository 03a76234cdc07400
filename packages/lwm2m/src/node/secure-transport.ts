/**
 * The LwM2M server's transports (Node adapter): plain CoAP on UDP and coaps:// on DTLS behind one
 * `Transport`, so one server (one registration store, one REST API) serves devices with NoSec, PSK and RPK
 * (LwM2M TS Core 1.1 §7.1). DTLS credentials come from the `SecurityStore`: a device's PSK is looked up by
 * the identity in its handshake, a raw public key is trusted when it is bound to an endpoint. Which endpoint
 * a session may act for is the registration authorizer's decision (by `Peer.identity`).
 */
import { generateKeyPairSync } from 'node:crypto';
import type { DatagramHandler, Peer, Transport, TransportErrorHandler } from '@thimble/coap-core';
import { peerKey } from '@thimble/coap-core';
import {
  DtlsServerTransport,
  type DtlsServerTransportOptions,
  type EcdsaCredentials,
  type PeerIdentity,
} from '@thimble/coap-core/node';
import type { SecurityStore } from '../server/security/types.js';

/** Hex to bytes (the store keeps keys in hex, validated). */
function bytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A fresh P-256 key for the server's raw public key when none is configured. */
export function generateServerKey(): EcdsaCredentials {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
  };
}

export interface SecureTransportOptions
  extends Omit<DtlsServerTransportOptions, 'pskLookup' | 'verifyPeer' | 'trustedPublicKeys' | 'ecdsa'> {
  readonly security: SecurityStore;
  /** The server's own key for RPK (and its certificate chain for X.509); default a fresh key. */
  readonly ecdsa?: EcdsaCredentials;
}

/** Opens the DTLS server transport whose credentials come from the security store. */
export function listenDtls(options: SecureTransportOptions): Promise<DtlsServerTransport> {
  const { security, ecdsa, ...rest } = options;
  return DtlsServerTransport.listen({
    ...rest,
    ecdsa: ecdsa ?? generateServerKey(),
    pskLookup: (identity) => {
      const key = security.getByPskIdentity(identity)?.psk?.key;
      return key === undefined ? undefined : bytes(key);
    },
    // a raw public key is trusted only when it is bound to an endpoint (RFC 7250 §3)
    verifyPeer: (identity: PeerIdentity) =>
      identity.kind === 'rpk' && security.getByRpk(identity.publicKeyHex) !== undefined,
    requireClientCertificate: true,
  });
}

/**
 * Two transports as one: datagrams from both go up; a datagram goes down on the DTLS transport when the
 * peer carries a session identity (it came over DTLS) or was last heard on it, else on UDP.
 */
export class DualTransport implements Transport {
  readonly scheme = 'coap';
  readonly maxDatagramSize: number;
  private readonly secured = new Map<string, number>();
  private handler: DatagramHandler = () => {};
  private static readonly MAX_PEERS = 100_000;

  constructor(
    readonly plain: Transport,
    readonly secure: Transport,
  ) {
    this.maxDatagramSize = Math.min(plain.maxDatagramSize, secure.maxDatagramSize);
    plain.onDatagram((d, p, info) => {
      if (this.secured.size > 0) this.secured.delete(peerKey(p));
      this.handler(d, p, info);
    });
    secure.onDatagram((d, p, info) => {
      const key = peerKey(p);
      if (!this.secured.has(key)) {
        // bounded: forget the oldest entry
        if (this.secured.size >= DualTransport.MAX_PEERS) {
          const oldest = this.secured.keys().next().value;
          if (oldest !== undefined) this.secured.delete(oldest);
        }
        this.secured.set(key, 1);
      }
      this.handler(d, p, info);
    });
  }

  get local(): Peer {
    return this.plain.local;
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  onError(handler: TransportErrorHandler): void {
    this.plain.onError(handler);
    this.secure.onError(handler);
  }

  send(data: Uint8Array, peer: Peer): void {
    // no string key per datagram while no DTLS peer is known (the common NoSec case)
    if (peer.identity !== undefined || (this.secured.size > 0 && this.secured.has(peerKey(peer))))
      this.secure.send(data, peer);
    else this.plain.send(data, peer);
  }

  resolve(host: string, port: number): Promise<Peer> {
    return this.plain.resolve?.(host, port) ?? Promise.resolve({ address: host, port });
  }

  async close(): Promise<void> {
    await Promise.all([this.plain.close(), this.secure.close()]);
  }
}
