/** Node-only entry point: DDF files from disk, the REST API. */
export { addObjectDefinitionFiles, loadObjectDefinitionDirectory, loadObjectDefinitionFile } from './ddf.js';
export * from './rest/index.js';
