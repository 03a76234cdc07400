/** @thimble/dtls: DTLS 1.2 (RFC 6347), portable core. Node adapters are in `@thimble/dtls/node`. */

export { concat, equalBytes, fromHex, toHex } from './bytes.js';
export type { BulkCipher, DirectionKeys } from './cipher.js';
export { RecordProtection } from './cipher.js';
export type { Clock, TimerHandle } from './clock.js';
export { systemClock } from './clock.js';
export type {
  ClientConnectionSettings,
  ConnectionEvents,
  ConnectionSettings,
  ServerConnectionSettings,
  SessionState,
} from './connection.js';
export { Connection } from './connection.js';
export type { AeadAlgorithm, Certificate, CryptoProvider, EcdhKeyPair } from './crypto.js';
export type { DtlsErrorReason } from './errors.js';
export { AlertDescription, alertName, DtlsError, reasonForAlert } from './errors.js';
export * from './handshake.js';
export { masterSecret, prf, pskPreMasterSecret } from './prf.js';
export type { DtlsRecord } from './record.js';
export { ContentType, DTLS_1_0, DTLS_1_2, parseRecords, peekCid, writeRecord } from './record.js';
export { ReplayWindow } from './replay.js';
export type { ServerEngineEvents, ServerEngineOptions, ServerEngineStats, ServerSession } from './server.js';
export { ServerEngine } from './server.js';
export type { CipherSuite, KeyExchange } from './suites.js';
export { CipherSuites, DEFAULT_SUITE_ORDER, suiteById } from './suites.js';
export type {
  EcdsaCredentials,
  PeerIdentity,
  PeerVerifier,
  PskCredentials,
  PskLookup,
  RetransmissionOptions,
} from './types.js';
