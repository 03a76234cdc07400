/** Node-only entry point: DDF files from disk. */
export { addObjectDefinitionFiles, loadObjectDefinitionDirectory, loadObjectDefinitionFile } from './ddf.js';
export { type HttpFetcherOptions, httpPackageFetcher } from './firmware-http.js';
