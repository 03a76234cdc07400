/** @thimble/dtls/node: the Node adapters (node:crypto, node:dgram). */

export { connect, DtlsClient, type DtlsConnectOptions } from './node/client.js';
export { nodeCrypto } from './node/crypto.js';
export { type DtlsDataHandler, type DtlsPeer, DtlsServer, type DtlsServerOptions } from './node/server.js';
