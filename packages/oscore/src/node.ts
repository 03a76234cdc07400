/**
 * Node-only adapters of @thimble/oscore (import from `@thimble/oscore/node`): the node:crypto provider,
 * the file sequence-number store and the credentials directory loader.
 */
export {
  type ContextDirectoryOptions,
  type LoadedContext,
  loadContextDirectory,
  SECRET_FILE,
  SEQUENCE_FILE,
  SETTINGS_FILE,
} from './node/context-dir.js';
export { nodeCrypto } from './node/crypto.js';
export { FileSequenceStore, type FileSequenceStoreOptions } from './node/sequence-store.js';
