/** Node-only entry point: DDF files from disk, the SQLite stores, the REST API, the example device, fleet mode on UDP. */

export { JsonFileBootstrapConfigStore } from './bootstrap-store.js';
export { FileClientStateStore, type NodeServerTransportOptions, nodeServerTransports } from './client.js';
export { addObjectDefinitionFiles, loadObjectDefinitionDirectory, loadObjectDefinitionFile } from './ddf.js';
export {
  EXAMPLE_OBJECT_VERSIONS,
  type ExampleDevice,
  type ExampleDeviceOptions,
  exampleFirmwareVersion,
  installExampleDevice,
} from './example-device.js';
export { type HttpFetcherOptions, httpPackageFetcher } from './firmware-http.js';
export {
  createUdpFleet,
  DEVICE_ENDPOINT_LIMITS,
  fileDescriptorLimit,
  type UdpFleetOptions,
} from './fleet.js';
export { loadRegistryModels, registryModelsDirectory } from './registry-models.js';
export * from './rest/index.js';
export {
  openSqliteStores,
  SQLITE_SCHEMA_VERSION,
  type SqliteStoreOptions,
  type SqliteStores,
} from './sqlite-store.js';
