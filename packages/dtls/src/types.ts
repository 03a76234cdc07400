/** Public shapes shared by the client and the server. */

/** The authenticated identity of the peer (exposed to the layers above as `Peer.identity`). */
export type PeerIdentity =
  | { readonly kind: 'psk'; readonly identity: string }
  | { readonly kind: 'rpk'; readonly publicKey: Uint8Array; readonly publicKeyHex: string }
  | {
      readonly kind: 'x509';
      readonly subject: string;
      readonly issuer: string;
      /** The end-entity certificate, DER. */
      readonly certificate: Uint8Array;
    };

/** A PSK identity and key (RFC 4279). */
export interface PskCredentials {
  readonly identity: string;
  readonly key: Uint8Array;
}

/** The server's PSK lookup: the key for an identity, or undefined when the identity is unknown. */
export type PskLookup = (identity: string) => Uint8Array | undefined;

/** Our own key and how we present it: an ECDSA P-256 key with a raw public key (RFC 7250) or a chain. */
export interface EcdsaCredentials {
  /** PKCS#8 DER private key (P-256). */
  readonly privateKey: Uint8Array;
  /** SubjectPublicKeyInfo DER of the key, sent as the raw public key. */
  readonly publicKey: Uint8Array;
  /** The certificate chain (DER, end-entity first); omit to use a raw public key. */
  readonly certificateChain?: readonly Uint8Array[];
}

/**
 * Decides whether a peer's raw public key or certificate chain is trusted. Return true to accept. The default
 * for certificates is `trustAnchors` validation; raw public keys need this callback or `trustedPublicKeys`.
 */
export type PeerVerifier = (identity: PeerIdentity, chain: readonly Uint8Array[]) => boolean;

export interface RetransmissionOptions {
  /** Initial retransmission timeout (RFC 6347 §4.2.4.1: 1 s). */
  readonly initialMs?: number;
  /** Upper bound of the doubling timeout (RFC 6347 §4.2.4.1: 60 s). */
  readonly maxMs?: number;
}
