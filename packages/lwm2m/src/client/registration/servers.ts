/**
 * LwM2M Server accounts and the registration with each of them (LwM2M TS Core 1.1 §6.2, Transport §6.2).
 *
 * An account is a Security (0) instance and the Server (1) instance with the same Short Server ID
 * (Core Appendix E.1 /0/x/10, E.2 /1/x/0). Each account gets its own `ServerConnection`: its CoAP endpoint
 * (plain UDP, DTLS with the PSK of /0/x/3 and /0/x/5, or OSCORE with the object 21 instance /0/x/17 links
 * to) and its own registration state machine: Register (§6.2.1), Update before the lifetime runs out and
 * when objects change (§6.2.2), De-register (§6.2.3), and the registration retry procedure of the Server
 * object's Communication Retry resources /1/x/17–20 (§6.2.1.1).
 *
 * Version fallback: a server that does not accept the client's LwM2M version answers the Register with
 * 4.12 Precondition Failed (as Leshan does; the TS lists it for Register as "Supported LwM2M Versions of
 * the Server and the Client are not compatible"); older servers answer 4.00 Bad Request with a diagnostic
 * naming the version, or without any payload (Wakaama). Either way the client registers again at once with the next lower version it
 * speaks, and keeps that version for Updates. /1/x/25 (Supported Server Versions, Server 1.2), when
 * present, limits the versions tried.
 */
import {
  type Clock,
  type CoapEndpoint,
  type CoapOptionInit,
  CoapRequestError,
  type CoapResponse,
  CoapTransportError,
  type CoapUri,
  Code,
  formatCode,
  OptionNumber,
  type Peer,
  parseUri,
  type Random,
  randomInt,
  type Transport,
  uriToOptions,
  utf8Decode,
} from '@thimble/coap-core';
import type { ResourceInstanceNode } from '../../model/nodes.js';
import type { Lwm2mValue } from '../../model/values.js';
import { Lwm2mClientError } from '../errors.js';
import type { InstanceEntry, InstanceStore } from '../objects/store.js';
import type { StoredRegistration } from '../state/state.js';

export type Lwm2mVersion = '1.0' | '1.1' | '1.2';

export type RegistrationState =
  | 'stopped'
  | 'bootstrapping'
  | 'registering'
  | 'registered'
  | 'waiting'
  | 'failed';

/** Security Mode, /0/x/2 (Core Appendix E.1). */
export const SecurityMode = {
  PreSharedKey: 0,
  RawPublicKey: 1,
  Certificate: 2,
  NoSec: 3,
  CertificateWithEst: 4,
} as const;

/** Registration retry (Core §6.2.1.1 and the Server object's resources 17–20, "Communication Retry"). */
export interface RetryOptions {
  /** Attempts in one sequence (/1/x/17, default 5). */
  readonly count?: number;
  /** First delay between attempts, seconds; doubles each attempt (/1/x/18, default 60). */
  readonly timer?: number;
  /** Wait between sequences, seconds (/1/x/19, default 86400). */
  readonly sequenceDelay?: number;
  /** Number of sequences before giving up (/1/x/20, default 1). `Infinity` never gives up. */
  readonly sequenceCount?: number;
}

/** OSCORE parameters of an account, from the object 21 instance its Security instance links to. */
export interface OscoreAccount {
  readonly instanceId: number;
  readonly masterSecret: Uint8Array;
  readonly senderId: Uint8Array;
  readonly recipientId: Uint8Array;
  /** COSE AEAD algorithm (/21/x/3, default 10 AES-CCM-16-64-128). */
  readonly aeadAlgorithm: number;
  /** COSE HMAC algorithm (/21/x/4, default -10 HKDF SHA-256). */
  readonly hmacAlgorithm: number;
  readonly masterSalt: Uint8Array | undefined;
  readonly idContext: Uint8Array | undefined;
}

/** One LwM2M Server account (Security + Server instances paired by Short Server ID). */
export interface ServerAccount {
  readonly shortServerId: number;
  /** The server URI (/0/x/0), without a trailing slash. */
  readonly uri: string;
  readonly securityInstanceId: number | undefined;
  readonly serverInstanceId: number | undefined;
  /** /0/x/2; NoSec (3) when there is no Security instance. */
  readonly securityMode: number;
  /** Security Mode PSK: identity (/0/x/3, UTF-8) and key (/0/x/5). */
  readonly psk: { readonly identity: string; readonly key: Uint8Array } | undefined;
  /**
   * Security Modes RPK (1) and Certificate (2): /0/x/3 (our SubjectPublicKeyInfo, or our X.509 certificate,
   * DER), /0/x/4 (the server's SubjectPublicKeyInfo, or its certificate or CA certificate, DER) and /0/x/5
   * (our private key, PKCS#8 DER). TS Core 1.1 §7.1.2, §7.1.3, Appendix E.1.
   */
  readonly keys?: DtlsKeys | undefined;
  /** /0/x/17 links to an OSCORE (21) instance. */
  readonly oscore: OscoreAccount | undefined;
}

/** The key material of Security Modes RPK and Certificate (see `ServerAccount.keys`). */
export interface DtlsKeys {
  /** /0/x/3: our public key (RPK) or certificate (Certificate mode), DER. */
  readonly own: Uint8Array;
  /** /0/x/4: the server's public key (RPK), or its certificate or a CA certificate (Certificate mode), DER. */
  readonly server: Uint8Array;
  /** /0/x/5: our private key, PKCS#8 DER. */
  readonly privateKey: Uint8Array;
}

/** What a transport factory is asked for: the transport towards one server. */
export interface ServerTransportRequest {
  readonly account: ServerAccount;
  /** `coap` (NoSec, OSCORE) or `coaps` (DTLS). */
  readonly scheme: string;
  readonly host: string;
  readonly port: number;
  /** DTLS pre-shared key (Security Mode 0). */
  readonly psk: { readonly identity: string; readonly key: Uint8Array } | undefined;
  /** /0/x/2 (0 PSK, 1 RPK, 2 Certificate, 3 NoSec). */
  readonly securityMode?: number;
  /** DTLS keys (Security Modes 1 and 2). */
  readonly keys?: DtlsKeys | undefined;
}

/**
 * Opens the transport for one server. The client wraps it in a `CoapEndpoint` (with OSCORE layered on
 * when the account says so) and closes it on `stop()`. The Node adapter `nodeServerTransports()` (from
 * `@thimble/lwm2m/node`) gives UDP and DTLS PSK; tests give in-memory transports.
 */
export type ServerTransportFactory = (request: ServerTransportRequest) => Transport | Promise<Transport>;

const VERSIONS: readonly Lwm2mVersion[] = ['1.2', '1.1', '1.0'];

function single(entry: InstanceEntry | undefined, rid: number): Lwm2mValue | undefined {
  const v = entry?.slots[rid]?.value;
  return v === undefined || Array.isArray(v) ? undefined : (v as Lwm2mValue);
}

const bytes = (v: Lwm2mValue | undefined): Uint8Array | undefined =>
  v instanceof Uint8Array ? v : typeof v === 'string' ? new TextEncoder().encode(v) : undefined;

function oscoreOf(objects: InstanceStore, link: Lwm2mValue | undefined): OscoreAccount | undefined {
  if (link === undefined || typeof link !== 'object' || link instanceof Uint8Array) return undefined;
  if (link.objectId !== 21 || link.instanceId === 65535) return undefined;
  const e = objects.get(21, link.instanceId);
  if (e === undefined) return undefined;
  const secret = bytes(single(e, 0));
  const sender = bytes(single(e, 1));
  const recipient = bytes(single(e, 2));
  if (secret === undefined || sender === undefined || recipient === undefined) return undefined;
  const aead = single(e, 3);
  const hmac = single(e, 4);
  const salt = bytes(single(e, 5));
  const idContext = bytes(single(e, 6));
  return {
    instanceId: e.id,
    masterSecret: secret,
    senderId: sender,
    recipientId: recipient,
    aeadAlgorithm: typeof aead === 'number' ? aead : 10,
    hmacAlgorithm: typeof hmac === 'number' ? hmac : -10,
    masterSalt: salt !== undefined && salt.length > 0 ? salt : undefined,
    idContext: idContext !== undefined && idContext.length > 0 ? idContext : undefined,
  };
}

/**
 * The LwM2M Server accounts the objects describe: every non-bootstrap Security instance (/0/x/1 false)
 * paired with the Server instance of the same Short Server ID. A lone Security instance and a lone Server
 * instance pair even without /0/x/10. Without any Security instance, `fallbackUri` (the `serverUri`
 * option) makes one NoSec account with the first Server instance; with Security instances it replaces the
 * URI of the first account.
 */
export function resolveServerAccounts(objects: InstanceStore, fallbackUri?: string): ServerAccount[] {
  const servers = objects.instanceIds(1).map((id) => objects.get(1, id)!);
  const securities = objects
    .instanceIds(0)
    .map((id) => objects.get(0, id)!)
    .filter((e) => single(e, 1) !== true && typeof single(e, 0) === 'string');
  const trim = (u: string) => u.replace(/\/+$/, '');
  const out: ServerAccount[] = [];
  if (securities.length === 0) {
    if (fallbackUri === undefined) return out;
    const server = servers[0];
    const ssid = single(server, 0);
    out.push({
      shortServerId: typeof ssid === 'number' ? ssid : 1,
      uri: trim(fallbackUri),
      securityInstanceId: undefined,
      serverInstanceId: server?.id,
      securityMode: SecurityMode.NoSec,
      psk: undefined,
      oscore: undefined,
    });
    return out;
  }
  for (const sec of securities) {
    let ssid = single(sec, 10);
    let server = servers.find((s) => ssid !== undefined && single(s, 0) === ssid);
    if (server === undefined && securities.length === 1 && servers.length === 1) {
      server = servers[0];
      if (ssid === undefined) ssid = single(server, 0);
    }
    const mode = single(sec, 2);
    const securityMode = typeof mode === 'number' ? mode : SecurityMode.NoSec;
    const identity = bytes(single(sec, 3));
    const key = bytes(single(sec, 5));
    const serverKey = bytes(single(sec, 4));
    const withKeys = securityMode === SecurityMode.RawPublicKey || securityMode === SecurityMode.Certificate;
    out.push({
      shortServerId: typeof ssid === 'number' ? ssid : out.length + 1,
      uri: trim(out.length === 0 && fallbackUri !== undefined ? fallbackUri : (single(sec, 0) as string)),
      securityInstanceId: sec.id,
      serverInstanceId: server?.id,
      securityMode,
      psk:
        securityMode === SecurityMode.PreSharedKey && identity !== undefined && key !== undefined
          ? { identity: utf8Decode(identity), key }
          : undefined,
      keys:
        withKeys &&
        identity !== undefined &&
        identity.length > 0 &&
        key !== undefined &&
        key.length > 0 &&
        serverKey !== undefined &&
        serverKey.length > 0
          ? { own: identity, server: serverKey, privateKey: key }
          : undefined,
      oscore: oscoreOf(objects, single(sec, 17)),
    });
  }
  return out;
}

/** The last URI `uriHostPort` took apart and its parts (the devices of a fleet share their server URI). */
let lastUri = '';
let lastHostPort: { readonly scheme: string; readonly host: string; readonly port: number } | undefined;

/** Host and port of a server URI (`coap://h:p`, `coaps://[::1]:p`). */
export function uriHostPort(uri: string): {
  readonly scheme: string;
  readonly host: string;
  readonly port: number;
} {
  if (uri === lastUri && lastHostPort !== undefined) return lastHostPort;
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\[[^\]]+\]|[^/:?#]+)(?::(\d+))?/i.exec(uri);
  if (m === null) throw new Lwm2mClientError('bad-request', '4.00', `"${uri}" is not a CoAP URI`);
  const scheme = m[1]!.toLowerCase();
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const port = m[3] !== undefined ? Number(m[3]) : scheme === 'coaps' ? 5684 : 5683;
  const parts = Object.freeze({ scheme, host, port });
  lastUri = uri;
  lastHostPort = parts;
  return parts;
}

/** Strips the IPv4-mapped prefix so `::ffff:127.0.0.1` and `127.0.0.1` compare equal. */
export const plainAddress = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a).toLowerCase();

/** What a connection needs from the client: its view of `ClientContext` (client/context.ts). */
export interface ConnectionHost {
  readonly endpointName: string;
  readonly clock: Clock;
  readonly random: Random;
  /** The highest LwM2M version the client speaks. */
  readonly version: Lwm2mVersion;
  readonly defaults: {
    readonly lifetime?: number;
    readonly binding?: string;
    readonly queueMode?: boolean;
    readonly retry?: RetryOptions;
    readonly requestTimeout?: number;
  };
  /** The registration links payload (Core §6.2.1), UTF-8; the caller only reads it. */
  registrationLinks(version: Lwm2mVersion): Uint8Array;
  /** A resource of this account's Server instance. */
  serverResource(account: ServerAccount, rid: number): Lwm2mValue | ResourceInstanceNode[] | undefined;
  registered(connection: ServerConnection): void;
  updated(connection: ServerConnection): void;
  deregistered(connection: ServerConnection): void;
  failed(connection: ServerConnection, error: Error): void;
  /** The server rejected Register at version `from` (answer `code`): registering again at `to`. */
  versionFallback?(connection: ServerConnection, from: Lwm2mVersion, to: Lwm2mVersion, code: string): void;
  /** The retry sequences are exhausted (state `failed`). */
  gaveUp(connection: ServerConnection): void;
}

const DEFAULT_LIFETIME = 86400;
const RD: readonly string[] = ['rd'];
const NO_QUERY: readonly string[] = [];

type ConnectionTarget = { readonly peer: Peer; readonly options: readonly CoapOptionInit[] };
const LINK_FORMAT = 40;

/** A DTLS failure of the secure transport (handshake, alert, bad key): typed, never read from a message. */
const isDtlsFailure = (e: unknown): boolean => e instanceof CoapTransportError && e.reason === 'dtls';

/** A request refused by the security layer (OSCORE verification). */
const isSecurityRefusal = (e: unknown): boolean => e instanceof CoapRequestError && e.reason === 'security';

/** A failure to reach the server that is about security (DTLS handshake, OSCORE verification). */
function classify(e: unknown): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  if (isDtlsFailure(e) || (e instanceof CoapRequestError && isDtlsFailure(e.cause)) || isSecurityRefusal(e))
    return new Lwm2mClientError('security', '5.00', `security: ${err.message}`);
  return err;
}

/** The last `directTarget` worked out: its inputs and the request options (undefined: not direct). */
let lastDirect:
  | {
      readonly uri: string;
      readonly scheme: string;
      readonly host: string;
      readonly port: number;
      readonly peerPort: number;
      readonly options: readonly CoapOptionInit[] | undefined;
    }
  | undefined;

/** The registration with one LwM2M Server. */
export class ServerConnection {
  state: RegistrationState = 'stopped';
  /** The LwM2M version in use with this server (lowered by the version fallback). */
  version: Lwm2mVersion;
  /** Registration location path segments (`['rd', 'abc']`). */
  location: string[] | undefined;
  /** Registered lifetime / binding, to send `lt` / `b` in an Update only when they changed. */
  registeredLifetime = 0;
  registeredBinding = '';
  /** Clock time of the last Register or successful Update. */
  registeredAt = 0;
  /** Objects changed since the server last got the links. */
  objectsChanged = false;
  /** The server's transport address, once known (to tell which server a request comes from). */
  peer: Peer | undefined;

  private versions: Lwm2mVersion[];
  private versionIndex = 0;
  private regTimer: ReturnType<Clock['setTimeout']> | undefined;
  private attempt = 0;
  private sequence = 0;
  private updateInFlight: Promise<void> | undefined;
  private updateAgain = false;
  private generation = 0;
  /**
   * How requests reach the server without a URI string: its resolved address and the options its URI
   * gives (Uri-Port at most), when `account.uri` is a plain `scheme://ip-literal[:port]` of the
   * endpoint's scheme. Undefined: requests carry `uri` (formatted here, parsed and resolved by the endpoint).
   */
  private direct: ConnectionTarget | undefined;

  constructor(
    private readonly host: ConnectionHost,
    readonly account: ServerAccount,
    readonly endpoint: CoapEndpoint,
    /** The client created the endpoint (and closes it on stop). */
    readonly ownsEndpoint: boolean,
  ) {
    this.versions = VERSIONS.filter((v) => v <= host.version);
    this.version = this.versions[0]!;
  }

  get shortServerId(): number {
    return this.account.shortServerId;
  }

  /** Location path (`/rd/abc`) or undefined. */
  get locationPath(): string | undefined {
    return this.location === undefined ? undefined : `/${this.location.join('/')}`;
  }

  private num(rid: number): number | undefined {
    const v = this.host.serverResource(this.account, rid);
    return typeof v === 'number' ? v : undefined;
  }

  /** Lifetime in seconds: /1/x/1 when present, else the option, else 86400. */
  get lifetime(): number {
    const v = this.num(1);
    if (v !== undefined && v > 0) return v;
    return this.host.defaults.lifetime ?? DEFAULT_LIFETIME;
  }

  get binding(): string {
    const v = this.host.serverResource(this.account, 7);
    const b = typeof v === 'string' && v !== '' ? v : (this.host.defaults.binding ?? 'U');
    // LwM2M 1.0 signals queue mode in the binding (Core 1.0 §5.3.1.1: "UQ")
    return this.version === '1.0' && this.host.defaults.queueMode && b.indexOf('Q') < 0 ? `${b}Q` : b;
  }

  /** Resolves the server's address (for attributing its requests). */
  async resolvePeer(): Promise<void> {
    const { host, port } = uriHostPort(this.account.uri);
    const t = this.endpoint.transport;
    try {
      this.peer = t.resolve !== undefined ? await t.resolve(host, port) : { address: host, port };
    } catch {
      this.peer = { address: host, port };
      this.direct = undefined;
      return;
    }
    this.direct = this.directTarget(this.peer, host, port);
  }

  /**
   * The endpoint would parse `account.uri` + path the same way on every request and resolve the same
   * IP literal to the same address (RFC 7252 §6.4: no Uri-Host for an IP literal, Uri-Port when the port
   * differs from the destination's): do it once. Host names keep the per-request resolution.
   */
  private directTarget(peer: Peer, host: string, port: number): ConnectionTarget | undefined {
    const uri = this.account.uri;
    const scheme = this.endpoint.transport.scheme;
    // the devices of a fleet all get here with the same URI and server address
    const last = lastDirect;
    if (
      last !== undefined &&
      last.uri === uri &&
      last.scheme === scheme &&
      last.host === host &&
      last.port === port &&
      last.peerPort === peer.port
    )
      return last.options === undefined ? undefined : { peer, options: last.options };
    let options: readonly CoapOptionInit[] | undefined;
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]+$/.test(uri)) {
      let u: CoapUri | undefined;
      try {
        u = parseUri(uri);
      } catch {
        u = undefined;
      }
      if (
        u?.hostIsIp &&
        u.host === host &&
        u.port === port &&
        u.scheme === scheme &&
        u.path.length === 0 &&
        u.query.length === 0
      )
        options = Object.freeze(uriToOptions(u, peer.port));
    }
    lastDirect = { uri, scheme, host, port, peerPort: peer.port, options };
    return options === undefined ? undefined : { peer, options };
  }

  /**
   * A request to the server at `segments` with `query` (arguments not percent-encoded): by peer, path and
   * options when known (`direct`), else by absolute URI. One object of one shape either way.
   */
  private send(
    method: 'POST' | 'DELETE',
    segments: readonly string[],
    query: readonly string[],
    payload: Uint8Array | undefined,
  ): Promise<CoapResponse> {
    const d = this.direct !== undefined && this.peer === this.direct.peer ? this.direct : undefined;
    let uri: string | undefined;
    if (d === undefined) {
      const encoded: string[] = [];
      for (const q of query) encoded.push(q.startsWith('ep=') ? `ep=${encodeURIComponent(q.slice(3))}` : q);
      uri = this.uri(segments, encoded);
    }
    return this.endpoint.request({
      method,
      uri,
      peer: d?.peer,
      path: segments,
      query,
      options: d?.options,
      payload,
      contentFormat: payload === undefined ? undefined : LINK_FORMAT,
      timeout: this.host.defaults.requestTimeout,
    });
  }

  /** True when `peer` is this server's address. */
  isPeer(peer: Peer): boolean {
    if (this.peer === undefined) {
      const { host, port } = uriHostPort(this.account.uri);
      return plainAddress(host) === plainAddress(peer.address) && port === peer.port;
    }
    return plainAddress(this.peer.address) === plainAddress(peer.address) && this.peer.port === peer.port;
  }

  /**
   * Starts registering. With a stored registration that is still alive, the client first tries an Update
   * of it (Core §6.2.2) and registers anew only when that fails (e.g. 4.04: the server forgot it).
   */
  start(resume?: StoredRegistration): void {
    if (this.state !== 'stopped' && this.state !== 'failed') return;
    this.attempt = 0;
    this.sequence = 0;
    this.versionIndex = 0;
    this.version = this.versions[0]!;
    this.applySupportedVersions();
    if (resume !== undefined) {
      const v = this.versions.indexOf(resume.version as Lwm2mVersion);
      if (v >= 0) {
        this.versionIndex = v;
        this.version = this.versions[v]!;
      }
      this.location = resume.location.slice();
      this.registeredLifetime = resume.lifetime;
      this.registeredBinding = resume.binding;
      this.registeredAt = resume.at;
      this.state = 'registered';
      // the objects may have changed while the device was off: send them with this first Update
      this.objectsChanged = true;
      this.scheduleUpdate();
      void this.triggerUpdate();
      return;
    }
    this.state = 'registering';
    // Initial Registration Delay Timer (/1/x/14)
    const delay = this.num(14) ?? 0;
    if (delay > 0) this.setRegTimer(() => void this.register(), delay * 1000);
    else void this.register();
  }

  /** /1/x/25 Supported Server Versions (Server 1.2): try only versions the server lists. */
  private applySupportedVersions(): void {
    const all = VERSIONS.filter((v) => v <= this.host.version);
    const listed = this.host.serverResource(this.account, 25);
    if (Array.isArray(listed) && listed.length > 0) {
      const named = (listed as ResourceInstanceNode[]).map((ri) => String(ri.value));
      const common = all.filter((v) => named.indexOf(v) >= 0);
      this.versions = common.length > 0 ? common : all;
    } else this.versions = all;
    this.version = this.versions[0]!;
  }

  /** De-registers (Core §6.2.3) when registered and `deregister`, then stops all timers. */
  async stop(deregister = true): Promise<void> {
    const wasRegistered = this.state === 'registered' && this.location !== undefined;
    this.generation++;
    this.state = 'stopped';
    this.clearRegTimer();
    const location = this.location;
    this.location = undefined;
    if (!wasRegistered || !deregister) return;
    try {
      const res = await this.send('DELETE', location!, NO_QUERY, undefined);
      if (res.code === Code.Deleted) this.host.deregistered(this);
      else
        this.host.failed(
          this,
          new Lwm2mClientError('registration-failed', '5.00', `De-register: ${formatCode(res.code)}`),
        );
    } catch (e) {
      this.host.failed(this, classify(e));
    }
  }

  /** Sends a Registration Update now (Core §6.2.2), e.g. after Execute on /1/x/8. */
  triggerUpdate(): Promise<void> {
    if (this.state !== 'registered') return Promise.resolve();
    if (this.updateInFlight !== undefined) {
      this.updateAgain = true;
      return this.updateInFlight;
    }
    this.updateInFlight = this.update().finally(() => {
      this.updateInFlight = undefined;
      if (this.updateAgain) {
        this.updateAgain = false;
        void this.triggerUpdate();
      }
    });
    return this.updateInFlight;
  }

  /** The objects changed: the server learns it with an Update (Core §6.2.2). */
  objectsDidChange(): void {
    this.objectsChanged = true;
    if (this.state === 'registered') void this.triggerUpdate();
  }

  uri(segments: readonly string[], query: readonly string[] = []): string {
    let u = this.account.uri;
    for (const s of segments) u += `/${encodeURIComponent(s)}`;
    if (query.length > 0) u += `?${query.join('&')}`;
    return u;
  }

  private async register(): Promise<void> {
    const gen = this.generation;
    this.state = 'registering';
    const lifetime = this.lifetime;
    const binding = this.binding;
    const version = this.version;
    const query = [`ep=${this.host.endpointName}`, `lt=${lifetime}`, `lwm2m=${version}`, `b=${binding}`];
    if (this.host.defaults.queueMode && version !== '1.0') query.push('Q');
    this.objectsChanged = false;
    let res: CoapResponse;
    try {
      res = await this.send('POST', RD, query, this.host.registrationLinks(version));
    } catch (e) {
      if (gen !== this.generation) return;
      this.registrationFailed(classify(e));
      return;
    }
    if (gen !== this.generation) return;
    if (res.code !== Code.Created) {
      if (this.rejectsVersion(res) && this.versionIndex + 1 < this.versions.length) {
        // version fallback: register again right away with the next lower version (not a retry); bounded
        // by the versions list, each tried once per registration
        this.versionIndex++;
        this.version = this.versions[this.versionIndex]!;
        this.host.versionFallback?.(this, version, this.version, formatCode(res.code));
        void this.register();
        return;
      }
      const diagnostic = utf8Decode(res.payload).slice(0, 120);
      this.registrationFailed(
        new Lwm2mClientError(
          'registration-failed',
          '5.00',
          `Register answered ${formatCode(res.code)}${diagnostic ? ` (${diagnostic})` : ''}`,
        ),
      );
      return;
    }
    const location = res.message.getStrings(OptionNumber.LocationPath);
    if (location.length === 0) {
      this.registrationFailed(
        new Lwm2mClientError('registration-failed', '5.00', 'Register response has no Location-Path'),
      );
      return;
    }
    this.location = location;
    this.registeredLifetime = lifetime;
    this.registeredBinding = binding;
    this.registeredAt = this.host.clock.now();
    this.attempt = 0;
    this.sequence = 0;
    this.state = 'registered';
    this.scheduleUpdate();
    this.host.registered(this);
    if (this.objectsChanged) void this.triggerUpdate();
  }

  /**
   * 4.12 (versions not compatible), or 4.00 whose diagnostic is about the version, or a bare 4.00: a
   * server of an older version (Wakaama's, for one) rejects what it does not understand of a newer
   * Register (the `lwm2m` value, several `ct` values) with a 4.00 without a payload.
   */
  private rejectsVersion(res: CoapResponse): boolean {
    if (res.code === Code.PreconditionFailed) return true;
    if (res.code !== Code.BadRequest) return false;
    return res.payload.length === 0 || /lwm2m|version/i.test(utf8Decode(res.payload));
  }

  /**
   * Registration retry (Core §6.2.1.1 with /1/x/17–20): attempt n of a sequence failing waits
   * timer × 2^(n−1) before the next; after `count` failed attempts the next sequence starts after
   * `sequenceDelay`; after `sequenceCount` sequences the client gives up (state `failed`).
   */
  private registrationFailed(error: Error): void {
    this.host.failed(this, error);
    if (this.state === 'stopped') return;
    const r = this.host.defaults.retry ?? {};
    const num = (rid: number, fallback: number): number => {
      const v = this.num(rid);
      return v !== undefined && v >= 0 ? v : fallback;
    };
    const count = r.count ?? num(17, 5);
    const timer = r.timer ?? num(18, 60);
    const sequenceDelay = r.sequenceDelay ?? num(19, 86400);
    const sequenceCount = r.sequenceCount ?? num(20, 1);
    this.location = undefined;
    this.attempt++;
    let delay: number;
    if (this.attempt < count) {
      delay = timer * 2 ** (this.attempt - 1);
    } else {
      this.sequence++;
      this.attempt = 0;
      if (this.sequence >= sequenceCount) {
        this.state = 'failed';
        this.host.failed(
          this,
          new Lwm2mClientError('registration-failed', '5.00', 'registration failed: retries exhausted'),
        );
        this.host.gaveUp(this);
        return;
      }
      delay = sequenceDelay;
    }
    this.state = 'waiting';
    // a new sequence starts again from the highest version
    if (this.attempt === 0) {
      this.versionIndex = 0;
      this.version = this.versions[0]!;
    }
    // a little jitter (up to 10 %) so a fleet restarting together does not register in lockstep
    const ms = delay * 1000 + randomInt(this.host.random, 0, Math.floor(delay * 100));
    this.setRegTimer(() => void this.register(), ms);
  }

  /** Update before the lifetime runs out: at 90 % of it, and at least 10 s before the end. */
  private scheduleUpdate(): void {
    const lt = this.registeredLifetime;
    const seconds = Math.max(1, Math.min(lt * 0.9, lt - 10));
    // after a restart part of the lifetime has gone already
    const elapsed = Math.max(0, this.host.clock.now() - this.registeredAt);
    this.setRegTimer(() => void this.triggerUpdate(), Math.max(0, seconds * 1000 - elapsed));
  }

  private async update(): Promise<void> {
    if (this.state !== 'registered' || this.location === undefined) return;
    const gen = this.generation;
    const query: string[] = [];
    const lifetime = this.lifetime;
    const binding = this.binding;
    if (lifetime !== this.registeredLifetime) query.push(`lt=${lifetime}`);
    if (binding !== this.registeredBinding) query.push(`b=${binding}`);
    const withObjects = this.objectsChanged;
    this.objectsChanged = false;
    let res: CoapResponse;
    try {
      res = await this.send(
        'POST',
        this.location,
        query,
        withObjects ? this.host.registrationLinks(this.version) : undefined,
      );
    } catch (e) {
      if (gen !== this.generation) return;
      if (withObjects) this.objectsChanged = true;
      // Core §6.2.2: an Update that fails means registering again
      this.host.failed(this, classify(e));
      this.reRegister();
      return;
    }
    if (gen !== this.generation) return;
    if (res.code === Code.Changed) {
      this.registeredLifetime = lifetime;
      this.registeredBinding = binding;
      this.registeredAt = this.host.clock.now();
      this.scheduleUpdate();
      this.host.updated(this);
      return;
    }
    if (withObjects) this.objectsChanged = true;
    this.host.failed(
      this,
      new Lwm2mClientError('registration-failed', '5.00', `Update answered ${formatCode(res.code)}`),
    );
    this.reRegister();
  }

  /** A fresh Register now, as after a reboot (the server drops what it held for the old registration). */
  reregister(): void {
    if (this.state !== 'registered') return;
    this.generation++;
    this.reRegister();
  }

  private reRegister(): void {
    this.location = undefined;
    this.clearRegTimer();
    this.state = 'registering';
    this.attempt = 0;
    void this.register();
  }

  private setRegTimer(f: () => void, ms: number): void {
    this.clearRegTimer();
    this.regTimer = this.host.clock.setTimeout(() => {
      this.regTimer = undefined;
      f();
    }, ms);
  }

  private clearRegTimer(): void {
    if (this.regTimer !== undefined) this.host.clock.clearTimeout(this.regTimer);
    this.regTimer = undefined;
  }
}
