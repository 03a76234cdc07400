export { buildAad, buildAadArray } from './aad.js';
export {
  A128GCM,
  AEAD_ALGORITHMS,
  AES_CCM_16_64_128,
  AES_CCM_16_128_128,
  type AeadAlgorithm,
  aeadAlgorithm,
  CHACHA20_POLY1305,
  maxIdLength,
} from './algorithms.js';
export { type OptionClass, optionClass } from './classes.js';
export {
  type ContextParams,
  DEFAULT_SEQUENCE_BLOCK,
  decodePartialIv,
  deriveContext,
  ECHO_LENGTH,
  encodePartialIv,
  hkdfInfo,
  type Kdf,
  type ReplayState,
  type RequestBinding,
  SecurityContext,
} from './context.js';
export type { AeadKey, CryptoProvider, HkdfHash, RandomSource } from './crypto.js';
export { OscoreEchoRequiredError, type OscoreErrorDetail } from './echo-error.js';
export { oscoreErrorAnswer, oscoreErrorResponse, type RequestHeader } from './error-response.js';
export { OscoreError, type OscoreErrorExtra, type OscoreErrorReason } from './errors.js';
export { OSCORE_KIND, oscoreClient, oscoreContextOf, oscoreServer } from './layer.js';
export { decodeOscoreOption, encodeOscoreOption, type OscoreOptionValue } from './option.js';
export { decodePlaintext, encodePlaintext, type Plaintext } from './plaintext.js';
export {
  type ContextLookup,
  contextLookup,
  type ProtectedRequest,
  type ProtectRequestOptions,
  type ProtectResponseOptions,
  protectRequest,
  protectResponse,
  type UnprotectedRequest,
  unprotectRequest,
  unprotectResponse,
} from './protect.js';
export {
  DEFAULT_REPLAY_WINDOW,
  MAX_REPLAY_WINDOW,
  MAX_SEQUENCE_NUMBER,
  ReplayWindow,
} from './replay.js';
export { MemorySequenceStore, type SequenceNumberStore } from './sequence.js';
export { type ContextSettings, parseContextSettings } from './settings.js';
