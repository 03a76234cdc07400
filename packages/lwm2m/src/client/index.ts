export { FIRMWARE_DIGEST_OBJECT, FIRMWARE_DIGEST_OBJECT_ID } from '../model/firmware-digest.js';
export { Sha256, sha256 } from '../util/sha256.js';
export {
  type BootstrapOptions,
  type BootstrapRetryOptions,
  type BootstrapState,
  checkBootstrapConsistency,
  type FactoryBootstrap,
} from './bootstrap/bootstrap.js';
export {
  Lwm2mClient,
  type Lwm2mClientEvents,
  type Lwm2mClientOptions,
  type Lwm2mVersion,
  type OperationEvent,
  type RegistrationState,
  type ResourceStream,
  type RetryOptions,
  type ServerStatus,
  type StreamedWriteInfo,
} from './client.js';
export { Lwm2mClientError, type Lwm2mClientErrorCode, type Lwm2mClientErrorReason } from './errors.js';
export {
  type CoapFetcherOptions,
  coapPackageFetcher,
  type DownloadedPackage,
  FetchError,
  type FetchErrorReason,
  type FetchRequest,
  type FetchResume,
  type FirmwareDownloadInfo,
  FirmwareError,
  FirmwareOutOfMemoryError,
  FirmwareOutOfSpaceError,
  type FirmwareSink,
  FirmwareState,
  FirmwareUpdate,
  type FirmwareUpdateOptions,
  type InstalledFirmware,
  installFirmwareUpdate,
  type PackageFetcher,
  PROTOCOL_OF_SCHEME,
  UpdateResult,
} from './firmware/firmware.js';
export {
  type AccessOperation,
  AccessRight,
  accessRights,
  CREATE_ACL_INSTANCE,
  checkAccess,
  findAcl,
} from './objects/access-control.js';
export { AttributeStore, applyAttributeQuery, type NotificationAttributes } from './objects/attributes.js';
export type { ResourceHandler, ResourceInit, ResourceValue } from './objects/store.js';
export {
  type OscoreAccount,
  resolveServerAccounts,
  SecurityMode,
  type ServerAccount,
  type ServerTransportFactory,
  type ServerTransportRequest,
} from './registration/servers.js';
export {
  type ClientState,
  type ClientStateStore,
  MemoryClientStateStore,
  type StoredInstance,
  type StoredRegistration,
  type StoredResource,
  type StoredValue,
} from './state/state.js';
