/** Node-only entry point: DDF files from disk. */

export { FileClientStateStore, type NodeServerTransportOptions, nodeServerTransports } from './client.js';
export { addObjectDefinitionFiles, loadObjectDefinitionDirectory, loadObjectDefinitionFile } from './ddf.js';
