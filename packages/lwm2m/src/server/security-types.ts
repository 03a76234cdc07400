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
  readonly oscore?: OscoreCredential;
}

export interface SecurityStore {
  get(endpoint: string): EndpointCredentials | undefined;
  getByPskIdentity(identity: string): EndpointCredentials | undefined;
  /** By the server's recipient id (the kid in the device's requests), hex. */
  getByOscoreKid(kidHex: string): EndpointCredentials | undefined;
  /** Adds or replaces; throws an `Error` when the PSK identity or kid is already bound to another endpoint. */
  put(credentials: EndpointCredentials): void;
  remove(endpoint: string): boolean;
  list(): EndpointCredentials[];
}
