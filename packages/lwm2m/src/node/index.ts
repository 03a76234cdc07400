/** Node-only entry point: DDF files from disk. */

export { JsonFileBootstrapConfigStore } from './bootstrap-store.js';
export { addObjectDefinitionFiles, loadObjectDefinitionDirectory, loadObjectDefinitionFile } from './ddf.js';
