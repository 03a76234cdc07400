export { AttributeStore, applyAttributeQuery, type NotificationAttributes } from './attributes.js';
export {
  type BootstrapOptions,
  type BootstrapRetryOptions,
  type BootstrapState,
  checkBootstrapConsistency,
  type FactoryBootstrap,
} from './bootstrap.js';
export {
  Lwm2mClient,
  type Lwm2mClientEvents,
  type Lwm2mClientOptions,
  type Lwm2mVersion,
  type OperationEvent,
  type RegistrationState,
  type RetryOptions,
} from './client.js';
export { Lwm2mClientError, type Lwm2mClientErrorCode, type Lwm2mClientErrorReason } from './errors.js';
export type { ResourceHandler, ResourceInit, ResourceValue } from './store.js';
