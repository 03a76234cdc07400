/**
 * The SQLite stores (Node): what they keep survives closing and opening the database again, they replace
 * and bound exactly like the in-memory stores, and a failed write changes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Lwm2mServerError,
  MemoryRegistrationStore,
  type Registration,
  type StoredObservation,
} from '../../src/index.js';
import { openSqliteStores, SQLITE_SCHEMA_VERSION } from '../../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'thimble-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `store-${n++}.db`);

function registration(id: string, endpoint: string, extra: Partial<Registration> = {}): Registration {
  return {
    id,
    endpoint,
    lifetime: 300,
    version: '1.1',
    binding: 'U',
    queueMode: false,
    peer: { address: '10.0.1.1', port: 56830 },
    rootPath: '/',
    contentFormats: [112],
    objects: [{ path: [1, 0] }, { path: [3, 0] }, { path: [3303], version: '1.1' }],
    registeredAt: 1,
    updatedAt: 2,
    expiresAt: 315_000,
    ...extra,
  };
}

const sorted = (list: readonly Registration[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));

describe('openSqliteStores: registrations', () => {
  it('keeps registrations across a reopen, with every field', () => {
    const path = freshPath();
    const a = openSqliteStores(path);
    const r1 = registration('aaaa', 'dev1', {
      sms: '+33600',
      peer: { address: '::1', port: 5, identity: 'id-1' },
    });
    const r2 = registration('bbbb', 'dev2', { authentication: 'oscore', queueMode: true });
    a.registrations.put(r1);
    a.registrations.put(r2);
    expect(a.registrations.size).toBe(2);
    a.close();
    const b = openSqliteStores(path);
    expect(b.registrations.get('aaaa')).toEqual(r1);
    expect(b.registrations.getByEndpoint('dev2')).toEqual(r2);
    expect(sorted(b.registrations.list())).toEqual([r1, r2]);
    expect(b.registrations.remove('aaaa')).toEqual(r1);
    expect(b.registrations.remove('aaaa')).toBeUndefined();
    b.close();
    const c = openSqliteStores(path);
    expect(c.registrations.list()).toEqual([r2]);
    c.close();
  });

  it('replaces by id and by endpoint exactly like the memory store (fast-check model), also after a reopen', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('put' as const),
        id: fc.constantFrom('i1', 'i2', 'i3', 'i4'),
        ep: fc.constantFrom('e1', 'e2', 'e3'),
        lt: fc.integer({ min: 1, max: 9 }),
      }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.constantFrom('i1', 'i2', 'i3', 'i4') }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const path = freshPath();
        const sqlite = openSqliteStores(path, { maxRegistrations: 2 });
        const memory = new MemoryRegistrationStore({ maxRegistrations: 2 });
        for (const o of ops) {
          if (o.kind === 'remove') {
            expect(sqlite.registrations.remove(o.id)).toEqual(memory.remove(o.id));
            continue;
          }
          const r = registration(o.id, o.ep, { lifetime: o.lt });
          let expected: unknown;
          try {
            expected = memory.put(r);
          } catch (e) {
            expected = (e as Lwm2mServerError).reason;
          }
          let actual: unknown;
          try {
            actual = sqlite.registrations.put(r);
          } catch (e) {
            actual = (e as Lwm2mServerError).reason;
          }
          expect(actual).toEqual(expected);
          expect(sorted(sqlite.registrations.list())).toEqual(sorted(memory.list()));
        }
        sqlite.close();
        const again = openSqliteStores(path, { maxRegistrations: 2 });
        expect(sorted(again.registrations.list())).toEqual(sorted(memory.list()));
        again.close();
        rmSync(path, { force: true });
      }),
      { numRuns: 40 },
    );
  });

  it('a full store refuses a new endpoint (limit) and writes nothing', () => {
    const path = freshPath();
    const s = openSqliteStores(path, { maxRegistrations: 1 });
    s.registrations.put(registration('a', 'dev1'));
    expect(() => s.registrations.put(registration('b', 'dev2'))).toThrow(Lwm2mServerError);
    s.registrations.put(registration('c', 'dev1')); // replacing is fine
    s.close();
    const t = openSqliteStores(path, { maxRegistrations: 1 });
    expect(t.registrations.list().map((r) => r.id)).toEqual(['c']);
    t.close();
  });

  it('a failed write leaves the store as it was (the cache follows the database)', () => {
    const s = openSqliteStores(freshPath());
    s.registrations.put(registration('a', 'dev1'));
    s.close(); // every write now fails
    expect(() => s.registrations.put(registration('b', 'dev2'))).toThrow();
    expect(s.registrations.list().map((r) => r.id)).toEqual(['a']);
  });
});

describe('openSqliteStores: credentials, sequence numbers, observations, schema', () => {
  it('keeps credentials (normalised) and refuses a credential bound to another endpoint', () => {
    const path = freshPath();
    const a = openSqliteStores(path);
    a.security.put({ endpoint: 'dev1', psk: { identity: 'id-1', key: 'AABB' } });
    a.security.put({
      endpoint: 'dev2',
      oscore: { masterSecret: '0102', senderId: '01', recipientId: '02', idContext: '' },
    });
    expect(() => a.security.put({ endpoint: 'dev3', psk: { identity: 'id-1', key: '00' } })).toThrow(
      /another endpoint/,
    );
    a.close();
    const b = openSqliteStores(path);
    expect(b.security.get('dev1')).toEqual({ endpoint: 'dev1', psk: { identity: 'id-1', key: 'aabb' } });
    expect(b.security.getByOscoreKid('02')?.endpoint).toBe('dev2');
    expect(b.security.getByPskIdentity('id-1')?.endpoint).toBe('dev1');
    expect(b.security.remove('dev1')).toBe(true);
    b.close();
    const c = openSqliteStores(path);
    expect(c.security.list().map((x) => x.endpoint)).toEqual(['dev2']);
    c.close();
  });

  it('OSCORE sequence reservations only grow and outlive a reopen and the credentials', () => {
    const path = freshPath();
    const a = openSqliteStores(path);
    a.security.put({ endpoint: 'dev2', oscore: { masterSecret: '0102', senderId: '01', recipientId: '02' } });
    const seq = a.security.oscoreSequence!('dev2');
    expect(seq.load()).toBe(0);
    seq.reserve(64);
    seq.reserve(128);
    seq.reserve(100); // never backwards
    expect(seq.load()).toBe(128);
    a.security.remove('dev2');
    a.close();
    const b = openSqliteStores(path);
    expect(b.security.oscoreSequence!('dev2').load()).toBe(128);
    expect(b.security.oscoreSequence!('other').load()).toBe(0);
    b.close();
  });

  it('keeps observations by token', () => {
    const path = freshPath();
    const a = openSqliteStores(path);
    const o: StoredObservation = {
      token: '0a0b0c0d',
      registrationId: 'r1',
      endpoint: 'dev1',
      paths: ['/3303/0/5700', '/3/0/0'],
      composite: true,
      format: 112,
      createdAt: 5,
    };
    a.observations.put(o);
    a.observations.put({ ...o, token: '01', composite: false, paths: ['/3/0'] });
    expect(a.observations.remove('01')).toBe(true);
    expect(a.observations.remove('01')).toBe(false);
    a.close();
    const b = openSqliteStores(path);
    expect(b.observations.list()).toEqual([o]);
    expect(b.observations.size).toBe(1);
    b.close();
  });

  it('writes its schema version, refuses a newer schema, and skips rows that do not parse', () => {
    const path = freshPath();
    openSqliteStores(path).close();
    const db = new Database(path);
    expect(db.prepare('SELECT version FROM schema_version').get()).toEqual({
      version: SQLITE_SCHEMA_VERSION,
    });
    db.prepare('INSERT INTO registrations (id, endpoint, data) VALUES (?, ?, ?)').run(
      'x',
      'broken',
      '{not json',
    );
    db.prepare('INSERT INTO registrations (id, endpoint, data) VALUES (?, ?, ?)').run('y', 'odd', '[1,2]');
    db.close();
    const s = openSqliteStores(path);
    expect(s.registrations.size).toBe(0);
    s.close();
    const newer = new Database(path);
    newer.prepare('UPDATE schema_version SET version = ?').run(SQLITE_SCHEMA_VERSION + 1);
    newer.close();
    expect(() => openSqliteStores(path)).toThrow(/newer/);
  });
});
