/**
 * The server's stores in one embedded SQLite database (better-sqlite3, synchronous like the store
 * interfaces): registrations, endpoint credentials with their OSCORE sequence number reservations, and
 * observations, so a restarted server still knows every device, its credentials and its observations.
 *
 * Reads never touch the database: each store keeps the in-memory store as a write-through cache (loaded
 * at open, bounded like it), and writes go to the database first, then to the cache, so a failed write
 * changes nothing. WAL with synchronous=NORMAL: a write survives a crash of the process (the last ones may
 * be lost on power loss, and devices then register or update again); OSCORE sequence number reservations
 * are written with synchronous=FULL, since a reservation lost to a power cut could reuse a nonce (RFC 8613
 * Appendix B.1.1).
 *
 * `lwm2m server --store sqlite:PATH` opens `openSqliteStores(PATH)`.
 */
import type Database from 'better-sqlite3';
import { Lwm2mServerError } from '../server/errors.js';
import type { ObservationStore, StoredObservation } from '../server/observation/store.js';
import {
  MemoryRegistrationStore,
  type Registration,
  type RegistrationStore,
} from '../server/registration/store.js';
import { MemorySecurityStore, validateCredentials } from '../server/security/store.js';
import type { EndpointCredentials, OscoreSequenceRecord, SecurityStore } from '../server/security/types.js';
import { requireOptional } from './optional.js';

/** The schema this code writes; a database of a newer schema is refused rather than misread. */
export const SQLITE_SCHEMA_VERSION = 1;

/** Each step takes the schema from version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE registrations (
     id TEXT PRIMARY KEY,
     endpoint TEXT NOT NULL UNIQUE,
     data TEXT NOT NULL
   );
   CREATE TABLE credentials (
     endpoint TEXT PRIMARY KEY,
     psk_identity TEXT UNIQUE,
     oscore_kid TEXT UNIQUE,
     data TEXT NOT NULL
   );
   CREATE TABLE oscore_sequence (
     endpoint TEXT PRIMARY KEY,
     next INTEGER NOT NULL
   );
   CREATE TABLE observations (
     token TEXT PRIMARY KEY,
     registration_id TEXT NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX observations_by_registration ON observations (registration_id);`,
];

export interface SqliteStoreOptions {
  /** Largest number of registrations (default 100 000, as the memory store). */
  readonly maxRegistrations?: number;
  /** Largest number of endpoint credentials (default 100 000). */
  readonly maxCredentials?: number;
  /** Largest number of stored observations (default 100 000). */
  readonly maxObservations?: number;
}

export interface SqliteStores {
  readonly registrations: RegistrationStore;
  readonly security: SecurityStore;
  readonly observations: ObservationStore;
  /** The database file. */
  readonly path: string;
  close(): void;
}

type Db = Database.Database;

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  const current = row?.version ?? 0;
  if (current > SQLITE_SCHEMA_VERSION)
    throw new Error(`store schema version ${current} is newer than this server's (${SQLITE_SCHEMA_VERSION})`);
  if (current === SQLITE_SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = current; v < SQLITE_SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    if (row === undefined)
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SQLITE_SCHEMA_VERSION);
    else db.prepare('UPDATE schema_version SET version = ?').run(SQLITE_SCHEMA_VERSION);
  })();
}

/** Rows of JSON: a row that does not parse (hand-edited, truncated) is skipped, not fatal. */
function parseRows<T>(rows: readonly { data: string }[], valid: (v: T) => boolean): T[] {
  const out: T[] = [];
  for (const r of rows) {
    try {
      const v = JSON.parse(r.data) as T;
      if (v !== null && typeof v === 'object' && valid(v)) out.push(v);
    } catch {
      // skipped
    }
  }
  return out;
}

class SqliteRegistrationStore implements RegistrationStore {
  private readonly cache: MemoryRegistrationStore;
  private readonly upsert: Database.Statement;
  private readonly deleteById: Database.Statement;

  constructor(db: Db, maxRegistrations: number | undefined) {
    this.cache = new MemoryRegistrationStore(maxRegistrations === undefined ? {} : { maxRegistrations });
    // INSERT OR REPLACE drops a row with the same id or the same endpoint, as the memory store replaces
    this.upsert = db.prepare('INSERT OR REPLACE INTO registrations (id, endpoint, data) VALUES (?, ?, ?)');
    this.deleteById = db.prepare('DELETE FROM registrations WHERE id = ?');
    const rows = db.prepare('SELECT data FROM registrations').all() as { data: string }[];
    for (const r of parseRows<Registration>(
      rows,
      (v) => typeof v.id === 'string' && typeof v.endpoint === 'string' && typeof v.peer === 'object',
    )) {
      if (this.cache.size >= this.cache.maxRegistrations) break;
      this.cache.put(r);
    }
  }

  get maxRegistrations(): number {
    return this.cache.maxRegistrations;
  }

  get size(): number {
    return this.cache.size;
  }

  get(id: string): Registration | undefined {
    return this.cache.get(id);
  }

  getByEndpoint(endpoint: string): Registration | undefined {
    return this.cache.getByEndpoint(endpoint);
  }

  list(): Registration[] {
    return this.cache.list();
  }

  put(registration: Registration): Registration | undefined {
    const replacing =
      this.cache.getByEndpoint(registration.endpoint) !== undefined ||
      this.cache.get(registration.id) !== undefined;
    if (!replacing && this.cache.size >= this.cache.maxRegistrations)
      throw new Lwm2mServerError('limit', `registration store is full (${this.cache.maxRegistrations})`);
    this.upsert.run(registration.id, registration.endpoint, JSON.stringify(registration));
    return this.cache.put(registration);
  }

  remove(id: string): Registration | undefined {
    if (this.cache.get(id) === undefined) return undefined;
    this.deleteById.run(id);
    return this.cache.remove(id);
  }
}

class SqliteSecurityStore implements SecurityStore {
  private readonly cache: MemorySecurityStore;
  private readonly upsert: Database.Statement;
  private readonly deleteOne: Database.Statement;
  private readonly loadSequence: Database.Statement;
  private readonly saveSequence: Database.Statement;

  constructor(
    private readonly db: Db,
    maxEntries: number | undefined,
  ) {
    this.cache = new MemorySecurityStore(maxEntries === undefined ? {} : { maxEntries });
    this.upsert = db.prepare(
      'INSERT OR REPLACE INTO credentials (endpoint, psk_identity, oscore_kid, data) VALUES (?, ?, ?, ?)',
    );
    this.deleteOne = db.prepare('DELETE FROM credentials WHERE endpoint = ?');
    this.loadSequence = db.prepare('SELECT next FROM oscore_sequence WHERE endpoint = ?');
    // never backwards: a reservation only grows
    this.saveSequence = db.prepare(
      `INSERT INTO oscore_sequence (endpoint, next) VALUES (?, ?)
       ON CONFLICT (endpoint) DO UPDATE SET next = max(next, excluded.next)`,
    );
    const rows = db.prepare('SELECT data FROM credentials').all() as { data: string }[];
    for (const c of parseRows<EndpointCredentials>(rows, (v) => typeof v.endpoint === 'string')) {
      try {
        this.cache.admit(validateCredentials(c));
      } catch {
        // a row that no longer validates (or past the bound) is not used
      }
    }
  }

  get size(): number {
    return this.cache.size;
  }

  get(endpoint: string): EndpointCredentials | undefined {
    return this.cache.get(endpoint);
  }

  getByPskIdentity(identity: string): EndpointCredentials | undefined {
    return this.cache.getByPskIdentity(identity);
  }

  getByRpk(publicKeyHex: string): EndpointCredentials | undefined {
    return this.cache.getByRpk(publicKeyHex);
  }

  getByOscoreKid(kidHex: string): EndpointCredentials | undefined {
    return this.cache.getByOscoreKid(kidHex);
  }

  put(credentials: EndpointCredentials): void {
    const c = validateCredentials(credentials);
    this.cache.check(c);
    this.upsert.run(c.endpoint, c.psk?.identity ?? null, c.oscore?.recipientId ?? null, JSON.stringify(c));
    this.cache.admit(c);
  }

  remove(endpoint: string): boolean {
    if (this.cache.get(endpoint) === undefined) return false;
    this.deleteOne.run(endpoint);
    return this.cache.remove(endpoint);
  }

  list(): EndpointCredentials[] {
    return this.cache.list();
  }

  oscoreSequence(endpoint: string): OscoreSequenceRecord {
    return {
      load: () => (this.loadSequence.get(endpoint) as { next: number } | undefined)?.next ?? 0,
      reserve: (limit: number) => {
        // Appendix B.1.1: the reservation must survive a crash before any number of it is used
        this.db.pragma('synchronous = FULL');
        try {
          this.saveSequence.run(endpoint, limit);
        } finally {
          this.db.pragma('synchronous = NORMAL');
        }
      },
    };
  }
}

class SqliteObservationStore implements ObservationStore {
  private readonly tokens = new Set<string>();
  private readonly upsert: Database.Statement;
  private readonly deleteOne: Database.Statement;
  private readonly all: Database.Statement;

  constructor(
    db: Db,
    private readonly maxObservations: number,
  ) {
    this.upsert = db.prepare(
      'INSERT OR REPLACE INTO observations (token, registration_id, data) VALUES (?, ?, ?)',
    );
    this.deleteOne = db.prepare('DELETE FROM observations WHERE token = ?');
    this.all = db.prepare('SELECT data FROM observations');
    for (const t of db.prepare('SELECT token FROM observations').all() as { token: string }[])
      this.tokens.add(t.token);
  }

  get size(): number {
    return this.tokens.size;
  }

  put(o: StoredObservation): void {
    if (!this.tokens.has(o.token) && this.tokens.size >= this.maxObservations)
      throw new Lwm2mServerError('limit', `observation store is full (${this.maxObservations})`);
    this.upsert.run(o.token, o.registrationId, JSON.stringify(o));
    this.tokens.add(o.token);
  }

  remove(token: string): boolean {
    if (!this.tokens.has(token)) return false;
    this.deleteOne.run(token);
    return this.tokens.delete(token);
  }

  list(): StoredObservation[] {
    return parseRows<StoredObservation>(
      this.all.all() as { data: string }[],
      (v) => typeof v.token === 'string' && typeof v.registrationId === 'string' && Array.isArray(v.paths),
    );
  }
}

/**
 * Opens (creating if needed) the SQLite database at `path` (`:memory:` for a throwaway one) and returns
 * the server's stores on it: `new Lwm2mServer({ store: s.registrations, security: s.security,
 * observationStore: s.observations, ... })`. Throws for a database of a newer schema.
 */
export function openSqliteStores(path: string, options: SqliteStoreOptions = {}): SqliteStores {
  // an optional peer dependency: a device-only install does not compile it (see optional.ts)
  const Sqlite = requireOptional<typeof Database>('better-sqlite3', 'openSqliteStores');
  const db = new Sqlite(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return {
      registrations: new SqliteRegistrationStore(db, options.maxRegistrations),
      security: new SqliteSecurityStore(db, options.maxCredentials),
      observations: new SqliteObservationStore(db, options.maxObservations ?? 100_000),
      path,
      close: () => {
        if (db.open) db.close();
      },
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
