export {
  type AccessOperation,
  AccessRight,
  accessRights,
  CREATE_ACL_INSTANCE,
  checkAccess,
  findAcl,
} from './access-control.js';
export { AttributeStore, applyAttributeQuery, type NotificationAttributes } from './attributes.js';
export {
  Lwm2mClient,
  type Lwm2mClientEvents,
  type Lwm2mClientOptions,
  type Lwm2mVersion,
  type OperationEvent,
  type RegistrationState,
  type RetryOptions,
  type ServerStatus,
} from './client.js';
export { Lwm2mClientError, type Lwm2mClientErrorCode, type Lwm2mClientErrorReason } from './errors.js';
export {
  type OscoreAccount,
  resolveServerAccounts,
  SecurityMode,
  type ServerAccount,
  type ServerTransportFactory,
  type ServerTransportRequest,
} from './servers.js';
export {
  type ClientState,
  type ClientStateStore,
  MemoryClientStateStore,
  type StoredInstance,
  type StoredRegistration,
  type StoredResource,
  type StoredValue,
} from './state.js';
export type { ResourceHandler, ResourceInit, ResourceValue } from './store.js';
