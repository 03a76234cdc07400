/**
 * Node-only adapters of @thimble/oscore (import from `@thimble/oscore/node`): the node:crypto provider,
 * the file sequence-number store and the context directory loader.
 */
export { nodeCrypto } from './node/crypto.js';
