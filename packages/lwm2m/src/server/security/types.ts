/**
 * Per-endpoint credentials (LwM2M TS Core 1.1 §7.1): which PSK identity or OSCORE context a device must
 * use. A device authenticated with one credential may only register under the endpoint name it is
 * bound to; an endpoint that has credentials may not register without security. Shared by the
 * server, the persistent stores and the REST API (`/api/security`). Keys in hex.
 */
export interface PskCredential {
  /** PSK identity as UTF-8 text. */
  readonly identity: string;
  /** Key in hex. */
  readonly key: string;
}

/** A device's raw public key for DTLS with RFC 7250 (Security mode 1, RPK). */
export interface RpkCredential {
  /** The device's SubjectPublicKeyInfo (DER) in hex. */
  readonly publicKey: string;
}

export interface OscoreCredential {
  readonly masterSecret: string;
  /** Server's sender id (hex), the device's recipient id. */
  readonly senderId: string;
  /** Server's recipient id (hex), the kid the device sends. */
  readonly recipientId: string;
  readonly masterSalt?: string;
  readonly idContext?: string;
}

export interface EndpointCredentials {
  readonly endpoint: string;
  readonly psk?: PskCredential;
  readonly rpk?: RpkCredential;
  readonly oscore?: OscoreCredential;
}

/**
 * The reservation of the server's OSCORE Sender Sequence Numbers for one endpoint (RFC 8613 §7.2.1,
 * Appendix B.1.1), the shape of `SequenceNumberStore` from @thimble/oscore: `load` gives the first number
 * certainly unused, `reserve(limit)` records durably that numbers below `limit` may be used.
 */
export interface OscoreSequenceRecord {
  load(): number;
  reserve(limit: number): void;
}

export interface SecurityStore {
  get(endpoint: string): EndpointCredentials | undefined;
  getByPskIdentity(identity: string): EndpointCredentials | undefined;
  /** By the device's raw public key (SubjectPublicKeyInfo DER, hex). */
  getByRpk(publicKeyHex: string): EndpointCredentials | undefined;
  /** By the server's recipient id (the kid in the device's requests), hex. */
  getByOscoreKid(kidHex: string): EndpointCredentials | undefined;
  /** Adds or replaces; throws an `Error` when the PSK identity or kid is already bound to another endpoint. */
  put(credentials: EndpointCredentials): void;
  remove(endpoint: string): boolean;
  list(): EndpointCredentials[];
  /**
   * Where the server's sender sequence numbers for this endpoint's OSCORE context are reserved. A
   * persistent store keeps them across restarts, so a restarted server never reuses a nonce; it keeps
   * them after `remove` too (the same secret may come back). Optional: without it the server keeps them
   * in memory, which is safe only while the process lives.
   */
  oscoreSequence?(endpoint: string): OscoreSequenceRecord;
}
