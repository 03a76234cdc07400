/** Node-only entry point: DDF files from disk, the SQLite stores. */
export { addObjectDefinitionFiles, loadObjectDefinitionDirectory, loadObjectDefinitionFile } from './ddf.js';
export {
  openSqliteStores,
  SQLITE_SCHEMA_VERSION,
  type SqliteStoreOptions,
  type SqliteStores,
} from './sqlite-store.js';
