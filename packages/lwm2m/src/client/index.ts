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
  type ResourceStream,
  type RetryOptions,
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
  FIRMWARE_DIGEST_OBJECT,
  FIRMWARE_DIGEST_OBJECT_ID,
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
} from './firmware.js';
export { Sha256, sha256 } from './sha256.js';
export type { ResourceHandler, ResourceInit, ResourceValue } from './store.js';
