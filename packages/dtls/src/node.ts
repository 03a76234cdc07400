/** @thimble/dtls/node: the Node adapters (node:crypto, node:dgram). */

export { nodeCrypto } from './node/crypto.js';
