export {
  DEFAULT_QBLOCK_PARAMETERS,
  decodeMissingBlocks,
  encodeMissingBlocks,
  MISSING_BLOCKS_CONTENT_FORMAT,
  QBlockError,
  type QBlockErrorReason,
  type QBlockMessage,
  type QBlockParameters,
} from './blockwise/qblock.js';
export {
  type QBlock1Outcome,
  type QBlock1Stats,
  QBlock1Upload,
  type QBlock1UploadOptions,
} from './blockwise/qblock-client.js';
export {
  QBlock1Receiver,
  type QBlock1ReceiverOptions,
  type QBlockFinalResponse,
} from './blockwise/qblock-server.js';
export {
  QBlock2Download,
  type QBlock2DownloadOptions,
  type QBlock2Outcome,
} from './blockwise/qblock2-client.js';
export {
  type QBlock2Representation,
  QBlock2Sender,
  type QBlock2SenderOptions,
} from './blockwise/qblock2-server.js';
export { type BlockwiseLimits, DEFAULT_BLOCKWISE_LIMITS, etagOf } from './blockwise/store.js';
export { type Clock, FakeClock, systemClock, type TimerHandle } from './clock.js';
export {
  type BlockProgress,
  type BlockSink,
  CoapEndpoint,
  type CoapEndpointOptions,
  CoapRequest,
  CoapResponse,
  CoapStatusError,
  type EndObservationsOptions,
  type Handler,
  type NotifyOptions,
  type ObserveServerOptions,
  type RequestOptions,
  type ResourceState,
  type ResponseInit,
  type RouteOptions,
} from './endpoint/endpoint.js';
export {
  CoapError,
  CoapRequestError,
  type CoapRequestErrorReason,
  CoapTransportError,
  type CoapTransportErrorReason,
} from './errors.js';
export {
  filterLinks,
  formatLinkFormat,
  type Link,
  type LinkAttribute,
  LinkFormatError,
  type LinkFormatErrorReason,
  linkAttribute,
  linkAttributeValues,
  type ParseLinkFormatOptions,
  parseLinkFormat,
} from './link-format/index.js';
export {
  type BlockValue,
  type DecodedBlock,
  decodeBlock,
  encodeBlock,
  MAX_BLOCK_NUM,
  sizeToSzx,
  szxToSize,
} from './message/block.js';
export {
  Code,
  codeClass,
  codeDetail,
  codeName,
  describeCode,
  formatCode,
  isRequestCode,
  isReservedCodeClass,
  isResponseCode,
  isSuccessCode,
  MessageType,
  makeCode,
  messageTypeName,
  parseCode,
} from './message/constants.js';
export {
  ContentFormat,
  contentFormatForExtension,
  contentFormatMediaType,
  parseContentFormat,
} from './message/content-formats.js';
export { CoapMessage, decodeMessage, type OptionVisitor } from './message/decode.js';
export { describeMessage } from './message/describe.js';
export { encodedLength, encodeMessage, encodeMessageInto } from './message/encode.js';
export {
  CoapDecodeError,
  type CoapDecodeErrorReason,
  CoapEncodeError,
  type CoapEncodeErrorReason,
} from './message/errors.js';
export {
  isCritical,
  isNoCacheKey,
  isRepeatable,
  isUnsafe,
  type OptionDefinition,
  type OptionFormat,
  OptionNumber,
  optionByName,
  optionDefinition,
  optionFormat,
  optionName,
  registeredOptions,
} from './message/options.js';
export type { CoapMessageInit, CoapOption, CoapOptionInit, OptionValue } from './message/types.js';
export {
  type CoapUri,
  DEFAULT_PORTS,
  formatUri,
  optionsToUri,
  parseUri,
  percentDecode,
  UriError,
  type UriErrorReason,
  type UriOptionSource,
  type UriParts,
  uriToOptions,
} from './message/uri.js';
export {
  DEFAULT_LIMITS,
  type InboundExchange,
  MessageLayer,
  type MessageLayerLimits,
  type MessageLayerOptions,
  type OutgoingMessage,
  type TraceDirection,
  type TraceHook,
  Transmission,
  type TransmissionCallbacks,
  type UpperLayer,
} from './messaging/message-layer.js';
export {
  DEFAULT_TRANSMISSION_PARAMETERS,
  exchangeLifetime,
  maxTransmitSpan,
  maxTransmitWait,
  nonLifetime,
  type TransmissionParameters,
} from './messaging/parameters.js';
export { Observation, type ObservationEvent } from './observe/observation.js';
export { isFresher, OBSERVE_FRESHNESS_MS, OBSERVE_MODULUS } from './observe/sequence.js';
export { cryptoRandom, type Random, randomFloat, randomInt, seededRandom } from './random.js';
export type { AmplificationOptions } from './security/amplification.js';
export { DEFAULT_MAX_UNFRAGMENTED_SIZE, type OuterBlockwiseOptions } from './security/outer-blockwise.js';
export type {
  ClientSecurity,
  SecuredRequest,
  SecurityIdentity,
  ServerSecurity,
  UnprotectResult,
} from './security/types.js';
export { METHOD_CODES, type Method } from './server/router.js';
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  MemoryTransport,
  type NetworkConditions,
  type NetworkStats,
} from './transport/memory.js';
export {
  ALL_COAP_NODES,
  type DatagramHandler,
  type DatagramInfo,
  formatPeer,
  isMulticastAddress,
  type Peer,
  peerKey,
  type Transport,
  type TransportErrorHandler,
} from './transport/types.js';
export {
  bytesEqual,
  encodeUint,
  fromHex,
  readUint,
  readUtf8,
  toHex,
  uintLength,
  utf8Decode,
  utf8Encode,
  utf8Length,
  writeUint,
  writeUtf8,
} from './util/bytes.js';
