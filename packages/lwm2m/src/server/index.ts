export {
  BootstrapConfigError,
  SECURITY_MODE_CODES,
  serverUriProblem,
  validateBootstrapConfig,
} from '../bootstrap/config.js';
export type * from '../bootstrap/types.js';
export {
  type BootstrapOperationEvent,
  type BootstrapResult,
  type BootstrapSessionInfo,
  Lwm2mBootstrapServer,
  type Lwm2mBootstrapServerEvents,
  type Lwm2mBootstrapServerLimits,
  type Lwm2mBootstrapServerOptions,
} from './bootstrap/server.js';
export { MemoryBootstrapConfigStore } from './bootstrap/store.js';
export { Lwm2mServerError, type Lwm2mServerErrorReason } from './errors.js';
export { FirmwareCampaigns, type FirmwareCampaignsOptions } from './firmware/campaign.js';
export type * from './firmware/types.js';
export {
  MemoryObservationStore,
  type ObservationStore,
  type StoredObservation,
} from './observation/store.js';
export {
  DEFAULT_LIFETIME,
  parseLinksPayload,
  parseRegisterQuery,
  parseUpdateQuery,
  type RegisterParams,
  RegistrationError,
  type RegistrationLimits,
  type UpdateParams,
} from './registration/parse.js';
export type { RegisterRateLimit, RegistrationPolicyOptions } from './registration/policy.js';
export {
  type Lwm2mServerVersion,
  MemoryRegistrationStore,
  type Registration,
  type RegistrationStore,
} from './registration/store.js';
export type { ServerOscoreOptions } from './security/oscore.js';
export { MemorySecurityStore, validateCredentials } from './security/store.js';
export type * from './security/types.js';
export {
  type CompositeNotificationEvent,
  Lwm2mServer,
  type Lwm2mServerEndpointOptions,
  type Lwm2mServerEvents,
  type Lwm2mServerLimits,
  type Lwm2mServerOptions,
  type NotificationEvent,
  type ReadOptions,
  type RequestOptionsBase,
  type SendEvent,
  ServerCompositeObservation,
  ServerObservation,
  type WriteAttributesInput,
  type WriteOptions,
} from './server.js';
export { type EventStreamOptions, eventStream } from './streams.js';
