/**
 * Per-endpoint credentials held by the server (LwM2M TS Core 1.1 §7.1): the in-memory `SecurityStore`
 * and the validation every store applies before it keeps credentials. PSK identities and OSCORE Recipient
 * IDs ('kid') are unique: each names one endpoint, so a device authenticated by one can be held to the
 * endpoint name it is bound to (Core §6.2.1).
 */
import { Lwm2mServerError } from '../errors.js';
import type {
  EndpointCredentials,
  OscoreCredential,
  OscoreSequenceRecord,
  PskCredential,
  RpkCredential,
  SecurityStore,
} from './types.js';

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

const invalid = (message: string): never => {
  throw new Lwm2mServerError('bad-request', message);
};

function hex(name: string, value: unknown, options: { empty?: boolean; max?: number } = {}): string {
  if (typeof value !== 'string' || !HEX.test(value))
    return invalid(`${name} must be hex (an even number of digits)`);
  if (value.length === 0 && options.empty !== true) return invalid(`${name} must not be empty`);
  if (value.length > 2 * (options.max ?? 256))
    return invalid(`${name} is longer than ${options.max ?? 256} bytes`);
  return value.toLowerCase();
}

function optionalHex(name: string, value: unknown): string | undefined {
  return value === undefined ? undefined : hex(name, value, { empty: true });
}

/**
 * Checks credentials and returns them normalised (hex in lower case, no unknown fields). Throws
 * `Lwm2mServerError('bad-request')` with the reason. The OSCORE IDs are checked for shape only; the
 * context derivation checks their length against the algorithm (RFC 8613 §3.3).
 */
export function validateCredentials(input: EndpointCredentials): EndpointCredentials {
  if (input === null || typeof input !== 'object') return invalid('credentials must be an object');
  const endpoint = input.endpoint;
  if (typeof endpoint !== 'string' || endpoint.length === 0 || endpoint.length > 255)
    return invalid('endpoint must be a name of 1-255 characters');
  let psk: PskCredential | undefined;
  if (input.psk !== undefined) {
    const identity = input.psk?.identity;
    if (typeof identity !== 'string' || identity.length === 0 || identity.length > 128)
      return invalid('psk.identity must be text of 1-128 characters');
    // `Peer.identity` of a DTLS session is the PSK identity as is, `rpk:`/`x509:` for keys and certificates
    if (identity.startsWith('rpk:') || identity.startsWith('x509:'))
      return invalid('psk.identity must not start with rpk: or x509:');
    psk = { identity, key: hex('psk.key', input.psk.key, { max: 64 }) };
  }
  let rpk: RpkCredential | undefined;
  if (input.rpk !== undefined) {
    if (input.rpk === null || typeof input.rpk !== 'object') return invalid('rpk must be an object');
    // a P-256 SubjectPublicKeyInfo is 91 bytes; allow other curves' sizes up to 256
    rpk = { publicKey: hex('rpk.publicKey', input.rpk.publicKey, { max: 256 }) };
  }
  let oscore: OscoreCredential | undefined;
  if (input.oscore !== undefined) {
    const o = input.oscore;
    if (o === null || typeof o !== 'object') return invalid('oscore must be an object');
    const senderId = hex('oscore.senderId', o.senderId, { empty: true, max: 16 });
    const recipientId = hex('oscore.recipientId', o.recipientId, { empty: true, max: 16 });
    if (senderId === recipientId) return invalid('oscore.senderId and oscore.recipientId must differ');
    const masterSalt = optionalHex('oscore.masterSalt', o.masterSalt);
    const idContext = optionalHex('oscore.idContext', o.idContext);
    oscore = {
      masterSecret: hex('oscore.masterSecret', o.masterSecret, { max: 64 }),
      senderId,
      recipientId,
      ...(masterSalt === undefined ? {} : { masterSalt }),
      ...(idContext === undefined ? {} : { idContext }),
    };
  }
  if (psk === undefined && rpk === undefined && oscore === undefined)
    return invalid('credentials need psk, rpk or oscore');
  return {
    endpoint,
    ...(psk === undefined ? {} : { psk }),
    ...(rpk === undefined ? {} : { rpk }),
    ...(oscore === undefined ? {} : { oscore }),
  };
}

/** Sequence number reservations kept in memory (the fallback when a store keeps none). */
export class MemorySequenceRecords {
  private readonly limits = new Map<string, number>();

  record(endpoint: string): OscoreSequenceRecord {
    return {
      load: () => this.limits.get(endpoint) ?? 0,
      reserve: (limit: number) => {
        this.limits.set(endpoint, limit);
      },
    };
  }
}

/** Credentials in memory, indexed by endpoint name, PSK identity and OSCORE kid. Bounded. */
export class MemorySecurityStore implements SecurityStore {
  readonly maxEntries: number;
  private readonly byEndpoint = new Map<string, EndpointCredentials>();
  private readonly byIdentity = new Map<string, string>();
  private readonly byKid = new Map<string, string>();
  private readonly byRpk = new Map<string, string>();
  private readonly sequences = new MemorySequenceRecords();

  constructor(options: { maxEntries?: number } = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  get size(): number {
    return this.byEndpoint.size;
  }

  get(endpoint: string): EndpointCredentials | undefined {
    return this.byEndpoint.get(endpoint);
  }

  getByPskIdentity(identity: string): EndpointCredentials | undefined {
    const endpoint = this.byIdentity.get(identity);
    return endpoint === undefined ? undefined : this.byEndpoint.get(endpoint);
  }

  getByRpk(publicKeyHex: string): EndpointCredentials | undefined {
    const endpoint = this.byRpk.get(publicKeyHex.toLowerCase());
    return endpoint === undefined ? undefined : this.byEndpoint.get(endpoint);
  }

  getByOscoreKid(kidHex: string): EndpointCredentials | undefined {
    const endpoint = this.byKid.get(kidHex.toLowerCase());
    return endpoint === undefined ? undefined : this.byEndpoint.get(endpoint);
  }

  /**
   * Adds or replaces (validated and normalised, see `validateCredentials`). Throws
   * `Lwm2mServerError('conflict')` when the PSK identity or kid belongs to another endpoint,
   * `Lwm2mServerError('limit')` when the store is full.
   */
  put(credentials: EndpointCredentials): void {
    this.admit(validateCredentials(credentials));
  }

  /**
   * @internal Checks that `c` (validated) can go in: throws on a conflict or when full. Returns the
   * credentials it replaces. Persistent stores call it before they write.
   */
  check(c: EndpointCredentials): EndpointCredentials | undefined {
    const identity = c.psk?.identity;
    const kid = c.oscore?.recipientId;
    const other = (index: Map<string, string>, key: string | undefined) => {
      const owner = key === undefined ? undefined : index.get(key);
      return owner !== undefined && owner !== c.endpoint;
    };
    if (other(this.byIdentity, identity))
      throw new Lwm2mServerError('conflict', `PSK identity "${identity}" is bound to another endpoint`);
    if (other(this.byRpk, c.rpk?.publicKey))
      throw new Lwm2mServerError('conflict', 'the raw public key is bound to another endpoint');
    if (other(this.byKid, kid))
      throw new Lwm2mServerError('conflict', `OSCORE recipient id ${kid} is bound to another endpoint`);
    const previous = this.byEndpoint.get(c.endpoint);
    if (previous === undefined && this.byEndpoint.size >= this.maxEntries)
      throw new Lwm2mServerError('limit', `security store is full (${this.maxEntries})`);
    return previous;
  }

  /** @internal Puts validated credentials (after `check`). */
  admit(c: EndpointCredentials): void {
    const previous = this.check(c);
    if (previous !== undefined) this.unindex(previous);
    this.byEndpoint.set(c.endpoint, c);
    if (c.psk !== undefined) this.byIdentity.set(c.psk.identity, c.endpoint);
    if (c.rpk !== undefined) this.byRpk.set(c.rpk.publicKey, c.endpoint);
    if (c.oscore !== undefined) this.byKid.set(c.oscore.recipientId, c.endpoint);
  }

  remove(endpoint: string): boolean {
    const c = this.byEndpoint.get(endpoint);
    if (c === undefined) return false;
    this.unindex(c);
    this.byEndpoint.delete(endpoint);
    return true;
  }

  list(): EndpointCredentials[] {
    return [...this.byEndpoint.values()];
  }

  oscoreSequence(endpoint: string): OscoreSequenceRecord {
    return this.sequences.record(endpoint);
  }

  private unindex(c: EndpointCredentials): void {
    if (c.psk !== undefined && this.byIdentity.get(c.psk.identity) === c.endpoint)
      this.byIdentity.delete(c.psk.identity);
    if (c.rpk !== undefined && this.byRpk.get(c.rpk.publicKey) === c.endpoint)
      this.byRpk.delete(c.rpk.publicKey);
    if (c.oscore !== undefined && this.byKid.get(c.oscore.recipientId) === c.endpoint)
      this.byKid.delete(c.oscore.recipientId);
  }
}
