export {
  Lwm2mClient,
  Lwm2mClientError,
  type Lwm2mClientErrorCode,
  type Lwm2mClientErrorReason,
  type Lwm2mClientEvents,
  type Lwm2mClientOptions,
  type Lwm2mVersion,
  type NotificationAttributes,
  type OperationEvent,
  type RegistrationState,
  type ResourceHandler,
  type ResourceInit,
  type ResourceValue,
  type RetryOptions,
} from './client/index.js';
export { decodeCborValue, encodeCborValue } from './content/cbor-value.js';
export {
  COMPOSITE_FORMATS,
  type CompositeCodec,
  decodeComposite,
  decodeCompositePaths,
  decodeNode,
  encodeComposite,
  encodeCompositePaths,
  encodeNode,
  NODE_FORMATS,
  type NodeCodec,
  nodeCodec,
} from './content/codecs.js';
export {
  Lwm2mContentError,
  type Lwm2mContentErrorReason,
  type Lwm2mResponseCode,
} from './content/errors.js';
export {
  formatDiscover,
  formatRegistrationLinks,
  type Lwm2mAttributes,
  type Lwm2mLink,
  parseDiscover,
  parseRegistrationLinks,
  type RegistrationLinks,
} from './content/link-format.js';
export {
  decodeLwm2mCbor,
  decodeLwm2mCborComposite,
  encodeLwm2mCbor,
  encodeLwm2mCborComposite,
} from './content/lwm2m-cbor.js';
export { decodeLwm2mJson, decodeLwm2mJsonComposite, encodeLwm2mJson } from './content/lwm2m-json.js';
export {
  decodeSenml,
  decodeSenmlComposite,
  decodeSenmlPaths,
  encodeSenml,
  encodeSenmlComposite,
  encodeSenmlPaths,
  type Lwm2mCompositeEntry,
  readSenmlRecords,
  type SenmlRecord,
  type SenmlValueField,
} from './content/senml.js';
export { decodeOpaque, decodeText, encodeOpaque, encodeText } from './content/text.js';
export {
  decodeTlv,
  encodeTlv,
  encodeTlvInto,
  readTlvRecords,
  type TlvRecord,
  TlvType,
  tlvValueBytes,
} from './content/tlv.js';
export {
  Fleet,
  type FleetDevice,
  type FleetEvents,
  type FleetOptions,
  type FleetStats,
  installFleetObjects,
} from './fleet/index.js';
export { BUILTIN_OBJECTS, CORE_OBJECT_IDS } from './model/builtin.js';
export { DdfError, type DdfErrorReason, parseObjectDefinitionXml } from './model/ddf.js';
export {
  findResource,
  isExecutable,
  isReadable,
  isWritable,
  type ObjectDefinition,
  RESOURCE_TYPES,
  type ResourceDefinition,
  type ResourceOperations,
  type ResourceType,
} from './model/definitions.js';
export {
  type Lwm2mNode,
  type MultipleResourceNode,
  multipleResource,
  nodeDepth,
  type ObjectInstanceNode,
  type ObjectNode,
  objectInstance,
  objectNode,
  type ResourceInstanceNode,
  type ResourceNode,
  resourceInstance,
  type SingleResourceNode,
  singleResource,
} from './model/nodes.js';
export {
  formatLwm2mPath,
  isPathPrefix,
  isValidId,
  type Lwm2mPath,
  Lwm2mPathError,
  type Lwm2mPathErrorReason,
  MAX_ID,
  type PathLevel,
  parseLwm2mPath,
  pathLevel,
  pathsEqual,
  validateLwm2mPath,
} from './model/path.js';
export {
  type Lwm2mModel,
  ObjectRegistry,
  ObjectRegistryError,
  type ObjectRegistryErrorReason,
  validateObjectDefinition,
} from './model/registry.js';
export {
  base64Decode,
  base64Encode,
  canonicalInteger,
  INT64_MAX,
  INT64_MIN,
  type Lwm2mValue,
  Lwm2mValueError,
  type Lwm2mValueErrorReason,
  normalizeValue,
  type ObjectLink,
  UINT64_MAX,
  valueFromText,
  valueToText,
} from './model/values.js';
export type * from './server/bootstrap/types.js';
export type * from './server/firmware/types.js';
export {
  DEFAULT_LIFETIME,
  Lwm2mServer,
  Lwm2mServerError,
  type Lwm2mServerErrorReason,
  type Lwm2mServerEvents,
  type Lwm2mServerLimits,
  type Lwm2mServerOptions,
  type Lwm2mServerVersion,
  MemoryRegistrationStore,
  type NotificationEvent,
  parseLinksPayload,
  parseRegisterQuery,
  parseUpdateQuery,
  type ReadOptions,
  type RegisterParams,
  type Registration,
  RegistrationError,
  type RegistrationLimits,
  type RegistrationStore,
  type RequestOptionsBase,
  type SendEvent,
  ServerObservation,
  type UpdateParams,
  type WriteAttributesInput,
  type WriteOptions,
} from './server/index.js';
export type * from './server/security-types.js';
