/**
 * Registrations as plain data (serialisable, so a persistent store can keep them as rows or JSON) and the
 * `RegistrationStore` interface with a bounded in-memory default (bounded, see docs/ARCHITECTURE.md, "lwm2m").
 */
import type { Peer } from '@thimble/coap-core';
import type { Lwm2mPath } from '../../model/path.js';
import { Lwm2mServerError } from '../errors.js';

export type Lwm2mServerVersion = '1.0' | '1.1' | '1.2';

/** One registered device (LwM2M TS Core 1.1 §6.2.1 Register, §6.2.2 Update). */
export interface Registration {
  /** Registration id: the last Location-Path segment (`/rd/<id>`). */
  readonly id: string;
  /** Endpoint Client Name (`ep`). */
  readonly endpoint: string;
  /** Lifetime in seconds (`lt`, default 86400). */
  readonly lifetime: number;
  /** LwM2M version (`lwm2m`, missing means 1.0). */
  readonly version: Lwm2mServerVersion;
  /** Binding mode (`b`, default `U`). */
  readonly binding: string;
  /** Queue mode: `Q` parameter (1.1+) or `Q` in the 1.0 binding (Core §6.5). */
  readonly queueMode: boolean;
  /** MSISDN (`sms`), when given. */
  readonly sms?: string;
  /** Where the device's last Register / Update came from: device-management requests go here. */
  readonly peer: Peer;
  /**
   * How the device authenticated its last Register / Update when the server holds credentials for it
   * (`SecurityStore`): `oscore` (device-management requests are then protected with its context) or `psk`
   * (the secure transport's identity). Absent for NoSec.
   */
  readonly authentication?: 'oscore' | 'psk' | 'rpk';
  /** Alternate path of the objects (`/` when none). */
  readonly rootPath: string;
  /** Content formats announced with `ct` on the root link. */
  readonly contentFormats: readonly number[];
  /** Objects and object instances from the registration links. */
  readonly objects: readonly { readonly path: Lwm2mPath; readonly version?: string }[];
  /** Clock times (ms) of the Register and of the last Register / Update. */
  readonly registeredAt: number;
  readonly updatedAt: number;
  /** When the registration expires (last update + lifetime + grace), clock ms. */
  readonly expiresAt: number;
}

/**
 * Where registrations live. Synchronous on purpose: the in-memory default and an embedded SQLite store
 * (better-sqlite3 is synchronous) both fit, and the registration path stays free of awaits.
 */
export interface RegistrationStore {
  /** Largest number of registrations held. */
  readonly maxRegistrations: number;
  readonly size: number;
  get(id: string): Registration | undefined;
  getByEndpoint(endpoint: string): Registration | undefined;
  list(): Registration[];
  /**
   * Adds or replaces a registration. A registration with the same id or the same endpoint name is
   * replaced and returned. Throws `Lwm2mServerError('limit')` when the store is full and nothing is replaced.
   */
  put(registration: Registration): Registration | undefined;
  /** Removes a registration by id; returns it when it was there. */
  remove(id: string): Registration | undefined;
}

export class MemoryRegistrationStore implements RegistrationStore {
  readonly maxRegistrations: number;
  private readonly byId = new Map<string, Registration>();
  private readonly byEndpoint = new Map<string, string>();

  constructor(options: { maxRegistrations?: number } = {}) {
    this.maxRegistrations = options.maxRegistrations ?? 100_000;
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Registration | undefined {
    return this.byId.get(id);
  }

  getByEndpoint(endpoint: string): Registration | undefined {
    const id = this.byEndpoint.get(endpoint);
    return id === undefined ? undefined : this.byId.get(id);
  }

  list(): Registration[] {
    return [...this.byId.values()];
  }

  put(registration: Registration): Registration | undefined {
    const sameId = this.byId.get(registration.id);
    const sameEp = this.getByEndpoint(registration.endpoint);
    const replaced = sameEp ?? sameId;
    if (replaced === undefined && this.byId.size >= this.maxRegistrations) {
      throw new Lwm2mServerError('limit', `registration store is full (${this.maxRegistrations})`);
    }
    if (sameEp !== undefined) this.remove(sameEp.id);
    if (sameId !== undefined && sameId !== sameEp) this.remove(sameId.id);
    this.byId.set(registration.id, registration);
    this.byEndpoint.set(registration.endpoint, registration.id);
    return replaced;
  }

  remove(id: string): Registration | undefined {
    const r = this.byId.get(id);
    if (r === undefined) return undefined;
    this.byId.delete(id);
    if (this.byEndpoint.get(r.endpoint) === id) this.byEndpoint.delete(r.endpoint);
    return r;
  }
}
