/**
 * Bootstrap configurations (what the bootstrap server writes to a device, LwM2M TS Core 1.1 §6.1.7)
 * and the store contract shared by the bootstrap server, its JSON-file store and the REST API
 * (`/api/bootstrap`). Plain JSON-compatible data: keys are binary values in hex.
 */

/** Security Mode, resource /0/x/2 (TS Core 1.1 Appendix E.1). */
export type SecurityModeName = 'psk' | 'rpk' | 'x509' | 'nosec' | 'est';

/** One Security object (0) instance to write. */
export interface BootstrapSecurityConfig {
  /** LwM2M Server URI (/0/x/0), e.g. `coaps://127.0.0.1:5684`. */
  readonly uri: string;
  /** Bootstrap-Server (/0/x/1). */
  readonly bootstrapServer: boolean;
  readonly securityMode: SecurityModeName;
  /** PSK identity (/0/x/3) as UTF-8 text, for `psk`. */
  readonly pskIdentity?: string;
  /** PSK key (/0/x/5) in hex, for `psk`. */
  readonly pskKey?: string;
  /** Short Server ID (/0/x/10); absent for the bootstrap server's own instance. */
  readonly shortServerId?: number;
  /** Client Hold Off Time (/0/x/11), seconds. */
  readonly clientHoldOffTime?: number;
  /** Object link to the OSCORE (21) instance id used with this server (/0/x/17, LwM2M 1.1). */
  readonly oscoreInstance?: number;
}

/** One Server object (1) instance to write. */
export interface BootstrapServerConfig {
  readonly shortServerId: number;
  /** Lifetime (/1/x/1), seconds. */
  readonly lifetime: number;
  readonly defaultMinPeriod?: number;
  readonly defaultMaxPeriod?: number;
  /** Notification Storing When Disabled or Offline (/1/x/6); default true. */
  readonly notificationStoring?: boolean;
  /** Binding (/1/x/7); default `U`. */
  readonly binding?: string;
}

/**
 * One OSCORE object (21) instance to write (TS Core 1.1 Appendix E.11), from the device's side: `senderId`
 * goes to resource 1 (OSCORE Sender ID, the id the device sends with), `recipientId` to resource 2.
 */
export interface BootstrapOscoreConfig {
  readonly masterSecret: string;
  readonly senderId: string;
  readonly recipientId: string;
  readonly masterSalt?: string;
  readonly idContext?: string;
  /** AEAD algorithm (COSE number, default 10 = AES-CCM-16-64-128). */
  readonly aeadAlgorithm?: number;
  /** HKDF algorithm (COSE number, default -10 = HKDF SHA-256). */
  readonly hkdfAlgorithm?: number;
}

export interface BootstrapConfig {
  /** Paths to Bootstrap-Delete before writing (default `['/0', '/1']`; the client keeps its bootstrap account). */
  readonly toDelete?: readonly string[];
  /** Security instances by instance id. */
  readonly security: Readonly<Record<string, BootstrapSecurityConfig>>;
  /** Server instances by instance id. */
  readonly servers: Readonly<Record<string, BootstrapServerConfig>>;
  /** OSCORE instances by instance id. */
  readonly oscore?: Readonly<Record<string, BootstrapOscoreConfig>>;
  /** Send Bootstrap-Discover on `/` before writing (LwM2M 1.1). */
  readonly discover?: boolean;
  /** Paths to Bootstrap-Read before writing (LwM2M 1.1: `/1`, `/1/x`, `/2`, `/2/x` only). */
  readonly read?: readonly string[];
  /**
   * Content format of the Bootstrap-Writes (TLV 11542, SenML JSON 110 / CBOR 112, LwM2M JSON 11543 / CBOR
   * 11544). Default: the `pct` of the Bootstrap-Request, else SenML CBOR when a Bootstrap-Discover showed
   * LwM2M 1.1 or later, else TLV (every 1.0 client reads it).
   */
  readonly contentFormat?: number;
}

/** Where bootstrap configurations live: a memory store and a JSON-file store implement it. */
export interface BootstrapConfigStore {
  get(endpoint: string): BootstrapConfig | undefined;
  /** Adds or replaces; throws an `Error` with a message when the configuration is inconsistent. */
  set(endpoint: string, config: BootstrapConfig): void;
  delete(endpoint: string): boolean;
  list(): { readonly endpoint: string; readonly config: BootstrapConfig }[];
}
