/**
 * The LwM2M server: the Registration interface (`/rd`, LwM2M TS Core 1.1 §6.2, TS Transport 1.1 §6.2),
 * the device-management and information-reporting interfaces towards registered devices (Core §6.3,
 * §6.4) and Send (`/dp`, Core §6.4.6), on a `CoapEndpoint`.
 */
import {
  type BlockProgress,
  type ClientSecurity,
  type Clock,
  type CoapEndpoint,
  type CoapRequest,
  CoapRequestError,
  type CoapResponse,
  Code,
  cryptoRandom,
  fromHex,
  type Observation,
  OptionNumber,
  type Peer,
  type Random,
  type ResponseInit,
  systemClock,
  toHex,
} from '@thimble/coap-core';
import {
  decodeComposite,
  decodeNode,
  encodeComposite,
  encodeCompositePaths,
  encodeNode,
} from '../content/codecs.js';
import { Lwm2mContentError } from '../content/errors.js';
import { type Lwm2mLink, parseDiscover } from '../content/link-format.js';
import type { Lwm2mCompositeEntry } from '../content/senml.js';
import { BUILTIN_OBJECTS } from '../model/builtin.js';
import { type Lwm2mNode, type ObjectInstanceNode, objectNode } from '../model/nodes.js';
import {
  formatLwm2mPath,
  type Lwm2mPath,
  Lwm2mPathError,
  parseLwm2mPath,
  validateLwm2mPath,
} from '../model/path.js';
import { type Lwm2mModel, ObjectRegistry } from '../model/registry.js';
import { Emitter } from '../util/emitter.js';
import { Lwm2mServerError } from './errors.js';
import {
  MemoryObservationStore,
  type ObservationStore,
  type StoredObservation,
} from './observation/store.js';
import { OscoreContexts, type ServerOscoreOptions } from './security/oscore.js';
import {
  parseLinksPayload,
  parseRegisterQuery,
  parseUpdateQuery,
  RegistrationError,
  type RegistrationLimits,
} from './registration/parse.js';
import type { SecurityStore } from './security/types.js';
import { MemoryRegistrationStore, type Registration, type RegistrationStore } from './registration/store.js';
import { type EventStreamOptions, eventStream } from './streams.js';

const LINK_FORMAT = 40;
const SENML_JSON = 110;
const SENML_CBOR = 112;
const TLV = 11542;
const LWM2M_JSON = 11543;
const LWM2M_CBOR = 11544;

/** Preference when a device announced several formats with `ct` (compact binary first). */
const PREFERRED_FORMATS: readonly number[] = [SENML_CBOR, LWM2M_CBOR, SENML_JSON, TLV, LWM2M_JSON];

export interface Lwm2mServerLimits extends RegistrationLimits {
  /** Seconds a registration outlives its lifetime before it expires (default 15). */
  readonly expiryGrace?: number;
  /** Milliseconds between expiry sweeps (default 1000). */
  readonly sweepInterval?: number;
  /** Default timeout of a device-management request, ms (default 30000). */
  readonly requestTimeout?: number;
  /** Most observations held by the server in total (default 10000). */
  readonly maxObservations?: number;
  /** Largest Send payload in bytes (default 16384). */
  readonly maxSendSize?: number;
  /**
   * Queue mode (Core §6.5): milliseconds a queue-mode device stays reachable after it last spoke (Register,
   * Update, Send, a response); default 93000 (CoAP MAX_TRANSMIT_WAIT, Transport §6.5).
   */
  readonly awakeTime?: number;
  /** Most requests waiting for queue-mode devices to wake up, in total (default 10000). */
  readonly maxQueuedRequests?: number;
}

export interface Lwm2mServerOptions {
  readonly endpoint: CoapEndpoint;
  /** Object definitions used to type values (default: the built-in objects). */
  readonly model?: Lwm2mModel;
  readonly clock?: Clock;
  /** Randomness for registration ids (default: `cryptoRandom()`; seeded in tests). */
  readonly random?: Random;
  readonly store?: RegistrationStore;
  /**
   * Where observations are kept (default: in memory). With a persistent store a restarted server takes
   * up the observations of the registrations it still has (notifications keep their tokens).
   */
  readonly observationStore?: ObservationStore;
  /**
   * Per-endpoint credentials (LwM2M TS Core 1.1 §7.1, §6.2.1): a device authenticated by a credential may
   * only register (update, de-register, send) under the endpoint name it is bound to, and an endpoint with
   * credentials may not register without security; both are refused with 4.03 Forbidden. The credential is
   * an OSCORE context (see `oscore`) or the identity a secure transport authenticated (`Peer.identity`, the
   * DTLS PSK identity).
   */
  readonly security?: SecurityStore;
  /**
   * OSCORE for the endpoints with OSCORE credentials in `security`: the server installs an OSCORE layer on
   * its endpoint (contexts built from the store by 'kid') and protects device-management requests to
   * devices that registered with OSCORE. Needs a crypto provider (e.g. `nodeCrypto`).
   */
  readonly oscore?: ServerOscoreOptions;
  readonly limits?: Lwm2mServerLimits;
}

export interface RequestOptionsBase {
  /** Milliseconds to wait for the device (default: `limits.requestTimeout`). */
  readonly timeout?: number;
  /** Abandons the request (each block of a Block-wise one) when aborted. */
  readonly signal?: AbortSignal;
}

export interface ReadOptions extends RequestOptionsBase {
  /** Content format to ask for (default: the best the device announced). */
  readonly format?: number;
}

export interface WriteOptions extends RequestOptionsBase {
  /** Replace (PUT, default) or partial update (POST) (Core §6.3.3). */
  readonly replace?: boolean;
  readonly format?: number;
  /**
   * Called as the device acknowledges each block of a Block1 write (RFC 7959 §2.5), with the bytes
   * acknowledged so far and the payload size (e.g. a firmware push's progress).
   */
  readonly onProgress?: (sent: number, total: number) => void;
  /** Block size of a Block1 write, 16–1024 (default: the endpoint's). */
  readonly blockSize?: number;
}

/** Notification attributes for Write-Attributes (Core §5.1.2); `null` removes an attribute. */
export interface WriteAttributesInput {
  readonly pmin?: number | null;
  readonly pmax?: number | null;
  readonly gt?: number | null;
  readonly lt?: number | null;
  readonly st?: number | null;
  readonly epmin?: number | null;
  readonly epmax?: number | null;
  /** LwM2M 1.2: notify on the rising (1) or falling (0) edge of a boolean resource. */
  readonly edge?: 0 | 1 | null;
  /** LwM2M 1.2: notifications Confirmable (1) or Non-confirmable (0). */
  readonly con?: 0 | 1 | null;
}

export interface SendEvent {
  readonly registration: Registration;
  readonly endpoint: string;
  /** Values sent (with their time when the device gave one). */
  readonly entries: readonly Lwm2mCompositeEntry[];
}

export interface NotificationEvent {
  readonly registration: Registration;
  readonly endpoint: string;
  readonly path: Lwm2mPath;
  readonly node: Lwm2mNode;
}

/** A notification of an Observe-Composite (Core §6.4.3): the values of every observed path. */
export interface CompositeNotificationEvent {
  readonly registration: Registration;
  readonly endpoint: string;
  readonly paths: readonly Lwm2mPath[];
  readonly entries: readonly Lwm2mCompositeEntry[];
}

export type Lwm2mServerEvents = {
  /** A new registration; `replaced` is the endpoint's previous registration, if there was one. */
  registered: (registration: Registration, replaced: Registration | undefined) => void;
  updated: (registration: Registration, previous: Registration) => void;
  deregistered: (registration: Registration) => void;
  expired: (registration: Registration) => void;
  notification: (event: NotificationEvent) => void;
  compositeNotification: (event: CompositeNotificationEvent) => void;
  send: (event: SendEvent) => void;
};

type ObservationEvents<T> = {
  notification: (value: T) => void;
  error: (error: Error) => void;
  end: () => void;
};

/** What the observations of one path and of several paths share. */
abstract class ObservationBase<T> extends Emitter<ObservationEvents<T>> {
  /**
   * The newest value (the first one is the Observe response). Undefined for an observation taken up from
   * the store after a restart until its first notification arrives.
   */
  latest: T | undefined;
  private ended = false;

  constructor(
    readonly endpoint: string,
    readonly registrationId: string,
    first: T | undefined,
    private readonly coap: Observation,
    /** Drops the CoAP observation without a message (its token is forgotten; RFC 7641 §3.6 lets late notifications get RST). */
    private readonly abort: () => void,
    private readonly onEnd: () => void,
  ) {
    super();
    this.latest = first;
  }

  /** The CoAP token (hex): the key of the observation in the `ObservationStore`. */
  get token(): string {
    return toHex(this.coap.token ?? new Uint8Array(0));
  }

  get done(): boolean {
    return this.ended;
  }

  /** @internal */
  deliver(value: T): void {
    if (this.ended) return;
    this.latest = value;
    this.emit('notification', value);
  }

  /** @internal a notification that could not be decoded: reported, the observation goes on */
  report(error: Error): void {
    if (!this.ended) this.emit('error', error);
  }

  /** @internal */
  fail(error: Error): void {
    if (this.ended) return;
    this.emit('error', error);
    this.finish();
  }

  /** Cancels actively (Core §6.4.2 Cancel Observation, RFC 7641 §3.6). */
  async cancel(): Promise<void> {
    if (this.ended) return;
    this.end();
    await this.coap.cancel();
  }

  /** @internal ends without a message to the device (it deregistered or is gone). */
  finish(): void {
    if (this.ended) return;
    this.end();
    this.abort();
  }

  private end(): void {
    this.ended = true;
    this.onEnd();
    this.emit('end');
  }
}

/** An observation of one path on one device, delivering decoded nodes (Core §6.4.1, §6.4.2). */
export class ServerObservation extends ObservationBase<Lwm2mNode> {
  constructor(
    endpoint: string,
    registrationId: string,
    readonly path: Lwm2mPath,
    first: Lwm2mNode | undefined,
    coap: Observation,
    abort: () => void,
    onEnd: () => void,
  ) {
    super(endpoint, registrationId, first, coap, abort, onEnd);
  }
}

/**
 * An Observe-Composite of several paths on one device (Core §6.4.3, Transport §6.4: FETCH with Observe
 * and a SenML path list); each notification carries the values of every path that has one.
 */
export class ServerCompositeObservation extends ObservationBase<Lwm2mCompositeEntry[]> {
  constructor(
    endpoint: string,
    registrationId: string,
    readonly paths: readonly Lwm2mPath[],
    first: Lwm2mCompositeEntry[] | undefined,
    coap: Observation,
    abort: () => void,
    onEnd: () => void,
  ) {
    super(endpoint, registrationId, first, coap, abort, onEnd);
  }
}

type AnyObservation = ServerObservation | ServerCompositeObservation;

interface Waiter {
  resolve(r: Registration): void;
  reject(e: Error): void;
  timer: ReturnType<Clock['setTimeout']>;
}

const codeText = (code: number): string => `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
const peerKey = (p: Peer): string => `${p.address}|${p.port}`;

/** The peer a request came from, as plain data (with the identity a secure transport authenticated). */
function peerOf(req: CoapRequest): Peer {
  const p = req.peer;
  return p.identity === undefined
    ? { address: p.address, port: p.port }
    : { address: p.address, port: p.port, identity: p.identity };
}

/**
 * The FETCH of Read- and Observe-Composite (Transport §6.3, §6.4): the path list in SenML JSON when the
 * answer is asked in SenML JSON, else in SenML CBOR.
 */
function compositeRequest(
  accept: number,
  paths: readonly Lwm2mPath[],
): { accept: number; contentFormat: number; payload: Uint8Array } {
  const contentFormat = accept === SENML_JSON ? SENML_JSON : SENML_CBOR;
  try {
    return { accept, contentFormat, payload: encodeCompositePaths(contentFormat, paths) };
  } catch (e) {
    throw new Lwm2mServerError('bad-request', (e as Error)?.message ?? String(e), { cause: e });
  }
}

function toPath(path: string | Lwm2mPath): Lwm2mPath {
  try {
    if (typeof path === 'string') return parseLwm2mPath(path);
    validateLwm2mPath(path);
    return path;
  } catch (e) {
    if (e instanceof Lwm2mPathError) throw new Lwm2mServerError('bad-request', e.message, { cause: e });
    throw e;
  }
}

export class Lwm2mServer extends Emitter<Lwm2mServerEvents> {
  readonly endpoint: CoapEndpoint;
  readonly model: Lwm2mModel;
  readonly store: RegistrationStore;
  readonly observationStore: ObservationStore;
  /** Ends of the open `notifications` / `sends` streams (ended when the server closes). */
  private readonly streamEnds: ((error?: Error) => void)[] = [];
  readonly security: SecurityStore | undefined;
  private readonly oscore: OscoreContexts | undefined;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly limits: Required<Lwm2mServerLimits>;
  /** Peer address → registration id, for Send (which names no registration). */
  private readonly byPeer = new Map<string, string>();
  private readonly observations = new Set<AnyObservation>();
  /** The same observations by registration id (a registration that goes ends its own only). */
  private readonly observationsByRegistration = new Map<string, Set<AnyObservation>>();
  private sweepTimer: ReturnType<Clock['setTimeout']> | undefined;
  /** Queue mode: registration id → clock time until which the device is taken to be awake. */
  private readonly awakeUntil = new Map<string, number>();
  /** Queue mode: requests waiting for an endpoint to wake up, by endpoint name. */
  private readonly waiting = new Map<string, Waiter[]>();
  private waitingCount = 0;
  private closed = false;

  constructor(options: Lwm2mServerOptions) {
    super();
    this.endpoint = options.endpoint;
    this.model = options.model ?? new ObjectRegistry(BUILTIN_OBJECTS);
    this.store = options.store ?? new MemoryRegistrationStore();
    this.observationStore = options.observationStore ?? new MemoryObservationStore();
    this.security = options.security;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
    if (options.oscore !== undefined) {
      if (this.security === undefined)
        throw new Lwm2mServerError('bad-request', 'oscore needs a security store');
      this.oscore = new OscoreContexts(this.security, options.oscore, this.random);
      this.endpoint.setServerSecurity(this.oscore.layer);
    }
    const l = options.limits ?? {};
    this.limits = {
      maxEndpointLength: l.maxEndpointLength ?? 128,
      maxPayloadSize: l.maxPayloadSize ?? 8192,
      maxObjectLinks: l.maxObjectLinks ?? 1024,
      expiryGrace: l.expiryGrace ?? 15,
      sweepInterval: l.sweepInterval ?? 1000,
      requestTimeout: l.requestTimeout ?? 30_000,
      maxObservations: l.maxObservations ?? 10_000,
      maxSendSize: l.maxSendSize ?? 16_384,
      awakeTime: l.awakeTime ?? 93_000,
      maxQueuedRequests: l.maxQueuedRequests ?? 10_000,
    };
    // a persistent store may come back with registrations: index them and let expiry run
    for (const r of this.store.list()) this.byPeer.set(peerKey(r.peer), r.id);
    this.installRoutes();
    this.resumeObservations();
    this.armSweep();
  }

  /** The registration of an endpoint name, if registered. */
  registration(endpoint: string): Registration | undefined {
    return this.store.getByEndpoint(endpoint);
  }

  registrations(): Registration[] {
    return this.store.list();
  }

  /**
   * Stops expiry and ends observations (passively: they stay in the `observationStore`, for a server that
   * starts again on it). The CoAP endpoint stays the caller's to close.
   */
  /**
   * Notifications (single-path and Observe-Composite) as an async iterable: of one device, or of every
   * device when `endpoint` is undefined. A device's stream ends when it de-registers or expires; every
   * stream ends when `signal` aborts or the server closes. A consumer more than `maxQueued` events behind
   * gets an `Lwm2mServerError('limit')` (see `eventStream`).
   */
  notifications(
    endpoint?: string,
    options: EventStreamOptions = {},
  ): AsyncIterableIterator<NotificationEvent | CompositeNotificationEvent> {
    return this.stream<NotificationEvent | CompositeNotificationEvent>(
      endpoint,
      ['notification', 'compositeNotification'],
      options,
    );
  }

  /** Send (`/dp`, Core §6.4.6) operations as an async iterable, like `notifications`. */
  sends(endpoint?: string, options: EventStreamOptions = {}): AsyncIterableIterator<SendEvent> {
    return this.stream<SendEvent>(endpoint, ['send'], options);
  }

  private stream<T extends { readonly endpoint: string }>(
    endpoint: string | undefined,
    events: readonly ('notification' | 'compositeNotification' | 'send')[],
    options: EventStreamOptions,
  ): AsyncIterableIterator<T> {
    return eventStream<T>((push, end) => {
      if (this.closed) {
        end();
        return () => {};
      }
      const onEvent = (e: T) => {
        if (endpoint === undefined || e.endpoint === endpoint) push(e);
      };
      const onGone = (r: Registration) => {
        if (endpoint !== undefined && r.endpoint === endpoint) end();
      };
      // biome-ignore lint/suspicious/noExplicitAny: one listener for several events of the same shape
      const listener = onEvent as any;
      for (const name of events) this.on(name, listener);
      this.on('deregistered', onGone);
      this.on('expired', onGone);
      this.streamEnds.push(end);
      return () => {
        for (const name of events) this.off(name, listener);
        this.off('deregistered', onGone);
        this.off('expired', onGone);
        const i = this.streamEnds.indexOf(end);
        if (i >= 0) this.streamEnds.splice(i, 1);
      };
    }, options);
  }

  close(): void {
    this.closed = true;
    for (const end of this.streamEnds.slice()) end();
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const o of [...this.observations]) o.finish();
    for (const ep of [...this.waiting.keys()])
      this.wake(ep, undefined, () => new Lwm2mServerError('closed', 'the server is closed'));
  }

  // ================================================================ registration interface (Core §6.2)

  private installRoutes(): void {
    const ep = this.endpoint;
    // Block1 bodies above the limit are refused by the endpoint (4.13); single datagrams are checked here
    const maxBodySize = Math.max(this.limits.maxPayloadSize, this.limits.maxSendSize);
    ep.route('POST', '/rd', (req) => this.guard(() => this.onRegister(req)), { maxBodySize });
    ep.route('POST', '/rd/:id', (req) => this.guard(() => this.onUpdate(req)), { maxBodySize });
    ep.route('DELETE', '/rd/:id', (req) => this.guard(() => this.onDeregister(req)));
    ep.route('POST', '/dp', (req) => this.guard(() => this.onSend(req)), { maxBodySize });
  }

  /** Bad input is normal input: validation errors answer 4.00 with a diagnostic, nothing escapes. */
  private guard(f: () => ResponseInit): ResponseInit {
    try {
      return f();
    } catch (e) {
      if (e instanceof RegistrationError) return { code: Code.BadRequest, payload: e.message };
      if (e instanceof Lwm2mServerError && e.reason === 'limit')
        return { code: Code.ServiceUnavailable, payload: e.message };
      return { code: Code.InternalServerError, payload: 'internal error' };
    }
  }

  private newId(): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    for (;;) {
      let id = '';
      for (let i = 0; i < 10; i++) id += alphabet[this.random.nextUint32() % alphabet.length];
      if (this.store.get(id) === undefined) return id;
    }
  }

  private expiry(lifetime: number, now: number): number {
    return now + (lifetime + this.limits.expiryGrace) * 1000;
  }

  /**
   * Checks the credential a request came with against the endpoint it acts for (Core §6.2.1, §7.1): a
   * credential (OSCORE context, secure transport identity) bound to another endpoint, or none at all for an
   * endpoint that has credentials, is answered 4.03 Forbidden ("registration not allowed"). Returns the
   * refusal, or how the request was authenticated (undefined for NoSec).
   */
  private authenticate(
    req: CoapRequest,
    endpoint: string,
  ):
    | { readonly refused: ResponseInit }
    | { readonly refused?: undefined; readonly by: 'oscore' | 'psk' | undefined } {
    const store = this.security;
    if (store === undefined) return { by: undefined };
    const forbidden = (payload: string) => ({ refused: { code: Code.Forbidden, payload } });
    let by: 'oscore' | 'psk' | undefined;
    if (req.security !== undefined) {
      const bound = req.security.kind === 'oscore' ? store.getByOscoreKid(req.security.peerId) : undefined;
      if (bound?.endpoint !== endpoint) return forbidden('credentials not bound to this endpoint');
      by = 'oscore';
    }
    const identity = req.peer.identity;
    if (identity !== undefined) {
      if (store.getByPskIdentity(identity)?.endpoint !== endpoint)
        return forbidden('credentials not bound to this endpoint');
      by ??= 'psk';
    }
    if (by === undefined && store.get(endpoint) !== undefined)
      return forbidden('this endpoint must use its credentials');
    return { by };
  }

  /** Register (Core §6.2.1): 2.01 Created with Location-Path `rd/<id>`. */
  private onRegister(req: CoapRequest): ResponseInit {
    const params = parseRegisterQuery(req.query, this.limits);
    const auth = this.authenticate(req, params.endpoint);
    if (auth.refused !== undefined) return auth.refused;
    if (req.payload.length === 0) throw new RegistrationError('Register needs the object links');
    const links = parseLinksPayload(req.payload, req.contentFormat, this.limits);
    const now = this.clock.now();
    const registration: Registration = {
      id: this.newId(),
      endpoint: params.endpoint,
      lifetime: params.lifetime,
      version: params.version,
      binding: params.binding,
      queueMode: params.queueMode,
      ...(params.sms === undefined ? {} : { sms: params.sms }),
      peer: peerOf(req),
      ...(auth.by === undefined ? {} : { authentication: auth.by }),
      rootPath: links.rootPath,
      contentFormats: links.contentFormats,
      objects: links.objects,
      registeredAt: now,
      updatedAt: now,
      expiresAt: this.expiry(params.lifetime, now),
    };
    const replaced = this.store.put(registration);
    if (replaced !== undefined) this.forget(replaced);
    this.byPeer.set(peerKey(registration.peer), registration.id);
    this.armSweep();
    // the awake window matters for queue-mode devices only (the others are always reachable)
    if (registration.queueMode) this.awakeUntil.set(registration.id, now + this.limits.awakeTime);
    this.emit('registered', registration, replaced);
    this.wake(registration.endpoint, registration);
    return {
      code: Code.Created,
      options: [
        { number: OptionNumber.LocationPath, value: 'rd' },
        { number: OptionNumber.LocationPath, value: registration.id },
      ],
    };
  }

  /** Update (Core §6.2.2): 2.04, or 4.04 for an unknown registration. */
  private onUpdate(req: CoapRequest): ResponseInit {
    const id = req.params.id ?? '';
    const previous = this.store.get(id);
    if (previous === undefined) return { code: Code.NotFound, payload: 'no such registration' };
    const auth = this.authenticate(req, previous.endpoint);
    if (auth.refused !== undefined) return auth.refused;
    const params = parseUpdateQuery(req.query);
    const links =
      req.payload.length > 0 ? parseLinksPayload(req.payload, req.contentFormat, this.limits) : undefined;
    const now = this.clock.now();
    const lifetime = params.lifetime ?? previous.lifetime;
    const sms = params.sms ?? previous.sms;
    const { sms: _drop, authentication: _was, ...rest } = previous;
    const registration: Registration = {
      ...rest,
      ...(sms === undefined ? {} : { sms }),
      ...(auth.by === undefined ? {} : { authentication: auth.by }),
      lifetime,
      binding: params.binding ?? previous.binding,
      // 1.0 says queue mode in the binding (UQ); 1.1+ with Q (Core 1.1 §6.2.1.1)
      queueMode:
        previous.version === '1.0' && params.binding !== undefined
          ? params.binding.includes('Q')
          : (params.queueMode ?? previous.queueMode),
      peer: peerOf(req),
      ...(links === undefined
        ? {}
        : { rootPath: links.rootPath, contentFormats: links.contentFormats, objects: links.objects }),
      updatedAt: now,
      expiresAt: this.expiry(lifetime, now),
    };
    this.store.put(registration);
    const oldKey = peerKey(previous.peer);
    if (this.byPeer.get(oldKey) === id) this.byPeer.delete(oldKey);
    this.byPeer.set(peerKey(registration.peer), id);
    if (registration.queueMode) this.awakeUntil.set(id, now + this.limits.awakeTime);
    else this.awakeUntil.delete(id);
    this.emit('updated', registration, previous);
    this.wake(registration.endpoint, registration);
    return { code: Code.Changed };
  }

  /** De-register (Core §6.2.3): 2.02 Deleted. */
  private onDeregister(req: CoapRequest): ResponseInit {
    const id = req.params.id ?? '';
    const existing = this.store.get(id);
    if (existing === undefined) return { code: Code.NotFound, payload: 'no such registration' };
    const auth = this.authenticate(req, existing.endpoint);
    if (auth.refused !== undefined) return auth.refused;
    const removed = this.store.remove(id) ?? existing;
    this.forget(removed);
    this.emit('deregistered', removed);
    this.wake(
      removed.endpoint,
      undefined,
      () => new Lwm2mServerError('unknown-endpoint', `endpoint "${removed.endpoint}" de-registered`),
    );
    return { code: Code.Deleted };
  }

  /** Drops what the server holds for a registration that is gone (index, observations). */
  private forget(r: Registration): void {
    this.awakeUntil.delete(r.id);
    const key = peerKey(r.peer);
    if (this.byPeer.get(key) === r.id) this.byPeer.delete(key);
    const own = this.observationsByRegistration.get(r.id);
    if (own !== undefined) for (const o of [...own]) o.finish();
  }

  /** Expiry: a periodic sweep on the injected clock, armed only while there are registrations. */
  private armSweep(): void {
    if (this.closed || this.sweepTimer !== undefined || this.store.size === 0) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep();
      this.armSweep();
    }, this.limits.sweepInterval);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const r of this.store.list()) {
      if (r.expiresAt > now) continue;
      this.store.remove(r.id);
      this.forget(r);
      this.emit('expired', r);
      this.wake(
        r.endpoint,
        undefined,
        () => new Lwm2mServerError('unknown-endpoint', `endpoint "${r.endpoint}" expired`),
      );
    }
  }

  // ================================================================ Send (Core §6.4.6)

  private onSend(req: CoapRequest): ResponseInit {
    const id = this.byPeer.get(peerKey(req.peer));
    const registration = id === undefined ? undefined : this.store.get(id);
    if (registration === undefined) return { code: Code.NotFound, payload: 'not registered' };
    const auth = this.authenticate(req, registration.endpoint);
    if (auth.refused !== undefined) return auth.refused;
    if (req.payload.length > this.limits.maxSendSize)
      return { code: Code.RequestEntityTooLarge, payload: 'Send payload too large' };
    const format = req.contentFormat;
    if (format !== SENML_CBOR && format !== SENML_JSON && format !== LWM2M_CBOR)
      return { code: Code.UnsupportedContentFormat, payload: 'Send takes SenML CBOR / JSON or LwM2M CBOR' };
    let entries: Lwm2mCompositeEntry[];
    try {
      entries = decodeComposite(format, req.payload, this.model);
    } catch (e) {
      if (e instanceof Lwm2mContentError) return { code: Code.BadRequest, payload: e.message };
      throw e;
    }
    if (registration.queueMode)
      this.awakeUntil.set(registration.id, this.clock.now() + this.limits.awakeTime);
    this.emit('send', { registration, endpoint: registration.endpoint, entries });
    return { code: Code.Changed };
  }

  // ================================================================ device management (Core §6.3)

  private registrationOrFail(endpoint: string): Registration {
    if (this.closed) throw new Lwm2mServerError('closed', 'the server is closed');
    const r = this.store.getByEndpoint(endpoint);
    if (r === undefined)
      throw new Lwm2mServerError('unknown-endpoint', `endpoint "${endpoint}" is not registered`);
    return r;
  }

  /**
   * Queue mode (Core §6.5): a device in queue mode that has been quiet longer than `awakeTime` is asleep; a
   * request for it waits for its next Update (or Register), at most `timeout` ms.
   */
  private reachable(r: Registration, timeout: number): Promise<Registration> | Registration {
    if (!r.queueMode || this.clock.now() < (this.awakeUntil.get(r.id) ?? 0)) return r;
    if (this.waitingCount >= this.limits.maxQueuedRequests)
      throw new Lwm2mServerError('limit', `at most ${this.limits.maxQueuedRequests} queued requests`);
    return new Promise<Registration>((resolve, reject) => {
      const list = this.waiting.get(r.endpoint) ?? [];
      const waiter: Waiter = {
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          const i = list.indexOf(waiter);
          if (i >= 0) {
            list.splice(i, 1);
            this.waitingCount--;
            if (list.length === 0 && this.waiting.get(r.endpoint) === list) this.waiting.delete(r.endpoint);
          }
          reject(
            new Lwm2mServerError(
              'timeout',
              `queue-mode endpoint "${r.endpoint}" did not wake up in ${timeout} ms`,
            ),
          );
        }, timeout),
      };
      list.push(waiter);
      this.waiting.set(r.endpoint, list);
      this.waitingCount++;
    });
  }

  /**
   * Resolves the requests waiting for `endpoint` with `r`, or rejects them with `error()` (made only when
   * someone waits: an Error captures a stack trace, too dear for every De-register).
   */
  private wake(endpoint: string, r: Registration | undefined, error?: () => Error): void {
    const list = this.waiting.get(endpoint);
    if (list === undefined) return;
    this.waiting.delete(endpoint);
    this.waitingCount -= list.length;
    for (const w of list.splice(0)) {
      this.clock.clearTimeout(w.timer);
      if (r !== undefined) w.resolve(r);
      else w.reject(error?.() ?? new Lwm2mServerError('unknown-endpoint', `endpoint "${endpoint}" is gone`));
    }
  }

  /** The device answered: a queue-mode device is awake for another `awakeTime`. */
  private heard(r: Registration): void {
    if (r.queueMode && this.awakeUntil.has(r.id))
      this.awakeUntil.set(r.id, this.clock.now() + this.limits.awakeTime);
  }

  /** The format to ask a device for: the caller's, else the best it announced (Core §7.4). */
  private formatFor(r: Registration, requested: number | undefined): number {
    if (requested !== undefined) return requested;
    for (const f of PREFERRED_FORMATS) if (r.contentFormats.includes(f)) return f;
    return r.version === '1.0' ? TLV : SENML_CBOR;
  }

  private segments(r: Registration, path: Lwm2mPath): string[] {
    const root = r.rootPath === '/' || r.rootPath === '' ? [] : r.rootPath.split('/').filter((s) => s !== '');
    return [...root, ...path.map(String)];
  }

  private async call(
    registration: Registration,
    operation: string,
    path: Lwm2mPath,
    init: {
      method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'FETCH' | 'iPATCH';
      accept?: number;
      contentFormat?: number;
      payload?: Uint8Array | string;
      query?: readonly string[];
      timeout?: number;
      onProgress?: (sent: number, total: number) => void;
      blockSize?: number;
      signal?: AbortSignal;
    },
  ): Promise<CoapResponse> {
    const r = await this.reachable(registration, init.timeout ?? this.limits.requestTimeout);
    const security = this.securityFor(r, operation, path);
    let res: CoapResponse;
    try {
      res = await this.endpoint.request({
        method: init.method,
        peer: r.peer,
        ...(security === undefined ? {} : { security }),
        path: this.segments(r, path),
        ...(init.query === undefined ? {} : { query: init.query }),
        ...(init.accept === undefined ? {} : { accept: init.accept }),
        ...(init.contentFormat === undefined ? {} : { contentFormat: init.contentFormat }),
        ...(init.payload === undefined ? {} : { payload: init.payload }),
        ...(init.blockSize === undefined ? {} : { blockSize: init.blockSize }),
        ...(init.signal === undefined ? {} : { signal: init.signal }),
        ...(init.onProgress === undefined
          ? {}
          : {
              onBlock: (b: BlockProgress) => {
                if (b.direction === 'upload') init.onProgress!(b.offset + b.data.length, b.total ?? 0);
              },
            }),
        timeout: init.timeout ?? this.limits.requestTimeout,
      });
    } catch (e) {
      throw this.requestError(r, operation, path, e);
    }
    this.heard(r);
    if (!res.ok) throw this.deviceError(r, operation, path, res);
    return res;
  }

  /**
   * Device-management requests go out through the security the device registered with: its OSCORE context
   * when it registered with OSCORE (a secure transport protects its own session; nothing to add here).
   */
  private securityFor(r: Registration, operation: string, path: Lwm2mPath): ClientSecurity | undefined {
    if (r.authentication !== 'oscore') return undefined;
    if (this.oscore === undefined)
      throw new Lwm2mServerError(
        'request-failed',
        `${operation} ${formatLwm2mPath(path)} on "${r.endpoint}": the device uses OSCORE and the server has no OSCORE options`,
      );
    return this.oscore.clientSecurity(r.endpoint);
  }

  private requestError(r: Registration, operation: string, path: Lwm2mPath, e: unknown): Error {
    const where = `${operation} ${formatLwm2mPath(path)} on "${r.endpoint}"`;
    if (e instanceof CoapRequestError) {
      if (e.reason === 'timeout') return new Lwm2mServerError('timeout', `${where}: no answer`, { cause: e });
      return new Lwm2mServerError('request-failed', `${where}: ${e.message}`, { cause: e });
    }
    return new Lwm2mServerError('request-failed', `${where}: ${(e as Error)?.message ?? String(e)}`, {
      cause: e,
    });
  }

  private deviceError(
    r: Registration,
    operation: string,
    path: Lwm2mPath,
    res: CoapResponse,
  ): Lwm2mServerError {
    let diagnostic = '';
    try {
      diagnostic = new TextDecoder('utf-8', { fatal: true }).decode(res.payload.subarray(0, 200));
    } catch {
      // a binary diagnostic is not shown
    }
    return new Lwm2mServerError(
      'device-error',
      `${operation} ${formatLwm2mPath(path)} on "${r.endpoint}" answered ${codeText(res.code)}${diagnostic === '' ? '' : `: ${diagnostic}`}`,
      { code: res.code },
    );
  }

  private decode(
    r: Registration,
    operation: string,
    path: Lwm2mPath,
    res: CoapResponse,
    asked: number,
  ): Lwm2mNode {
    try {
      return decodeNode(res.contentFormat ?? asked, path, res.payload, this.model);
    } catch (e) {
      throw new Lwm2mServerError(
        'bad-response',
        `${operation} ${formatLwm2mPath(path)} on "${r.endpoint}": ${(e as Error)?.message ?? String(e)}`,
        { cause: e },
      );
    }
  }

  private encode(format: number, path: Lwm2mPath, node: Lwm2mNode): Uint8Array {
    try {
      return encodeNode(format, path, node, this.model);
    } catch (e) {
      throw new Lwm2mServerError('bad-request', (e as Error)?.message ?? String(e), { cause: e });
    }
  }

  /** Read (Core §6.3.1): the node at `path`, decoded. */
  async read(endpoint: string, path: string | Lwm2mPath, options: ReadOptions = {}): Promise<Lwm2mNode> {
    const r = this.registrationOrFail(endpoint);
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Read needs an object path');
    const format = this.formatFor(r, options.format);
    const res = await this.call(r, 'Read', p, {
      method: 'GET',
      accept: format,
      timeout: options.timeout,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return this.decode(r, 'Read', p, res, format);
  }

  /** Write (Core §6.3.3): replace with PUT (default) or partial update with POST. */
  async write(
    endpoint: string,
    path: string | Lwm2mPath,
    node: Lwm2mNode,
    options: WriteOptions = {},
  ): Promise<void> {
    const r = this.registrationOrFail(endpoint);
    const p = toPath(path);
    if (p.length < 2)
      throw new Lwm2mServerError(
        'bad-request',
        'Write needs an instance, resource or resource instance path',
      );
    const format = this.formatFor(r, options.format);
    const payload = this.encode(format, p, node);
    await this.call(r, 'Write', p, {
      method: options.replace === false ? 'POST' : 'PUT',
      contentFormat: format,
      payload,
      timeout: options.timeout,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
    });
  }

  /** Execute (Core §6.3.5) with optional arguments (Core §5.4.2 syntax, sent as given). */
  async execute(
    endpoint: string,
    path: string | Lwm2mPath,
    args?: string,
    options: RequestOptionsBase = {},
  ): Promise<void> {
    const r = this.registrationOrFail(endpoint);
    const p = toPath(path);
    if (p.length !== 3) throw new Lwm2mServerError('bad-request', 'Execute needs a resource path');
    await this.call(r, 'Execute', p, {
      method: 'POST',
      // Core §5.4.2: the arguments are text (sent as text/plain, as other servers do)
      ...(args === undefined || args === '' ? {} : { payload: args, contentFormat: 0 }),
      timeout: options.timeout,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  /**
   * Create (Core §6.3.7): POST on the object with the new instance. Returns the created instance id
   * (from the Location-Path when the device sends one, else the instance's own id).
   */
  async create(
    endpoint: string,
    objectPath: string | Lwm2mPath,
    instance: ObjectInstanceNode,
    options: ReadOptions = {},
  ): Promise<number> {
    const r = this.registrationOrFail(endpoint);
    const p = toPath(objectPath);
    if (p.length !== 1) throw new Lwm2mServerError('bad-request', 'Create needs an object path');
    const format = this.formatFor(r, options.format);
    const payload = this.encode(format, p, objectNode(p[0]!, [instance]));
    const res = await this.call(r, 'Create', p, {
      method: 'POST',
      contentFormat: format,
      payload,
      timeout: options.timeout,
    });
    const location = res.message.getStrings(OptionNumber.LocationPath);
    const last = location[location.length - 1];
    return last !== undefined && /^[0-9]{1,5}$/.test(last) ? Number(last) : instance.id;
  }

  /** Delete (Core §6.3.8). */
  async delete(endpoint: string, path: string | Lwm2mPath, options: RequestOptionsBase = {}): Promise<void> {
    const r = this.registrationOrFail(endpoint);
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Delete needs a path');
    await this.call(r, 'Delete', p, { method: 'DELETE', timeout: options.timeout });
  }

  /** Discover (Core §6.3.4): links with their attributes. */
  async discover(
    endpoint: string,
    path: string | Lwm2mPath,
    options: RequestOptionsBase = {},
  ): Promise<Lwm2mLink[]> {
    const r = this.registrationOrFail(endpoint);
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Discover needs an object path');
    const res = await this.call(r, 'Discover', p, {
      method: 'GET',
      accept: LINK_FORMAT,
      timeout: options.timeout,
    });
    try {
      return parseDiscover(new TextDecoder('utf-8', { fatal: true }).decode(res.payload));
    } catch (e) {
      throw new Lwm2mServerError('bad-response', `Discover ${formatLwm2mPath(p)}: ${(e as Error)?.message}`, {
        cause: e,
      });
    }
  }

  /** Write-Attributes (Core §6.3.2, §5.1.2): notification attributes as query parameters; `null` clears. */
  async writeAttributes(
    endpoint: string,
    path: string | Lwm2mPath,
    attributes: WriteAttributesInput,
    options: RequestOptionsBase = {},
  ): Promise<void> {
    const r = this.registrationOrFail(endpoint);
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Write-Attributes needs an object path');
    const query: string[] = [];
    for (const k of ['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax', 'edge', 'con'] as const) {
      const v = attributes[k];
      if (v === undefined) continue;
      if (v === null) query.push(k);
      else {
        if (!Number.isFinite(v)) throw new Lwm2mServerError('bad-request', `${k} must be a finite number`);
        query.push(`${k}=${v}`);
      }
    }
    if (query.length === 0) throw new Lwm2mServerError('bad-request', 'no attributes to write');
    await this.call(r, 'Write-Attributes', p, { method: 'PUT', query, timeout: options.timeout });
  }

  /** Read-Composite (Core §6.3.6, 1.1+): FETCH on / with the path list; one entry per path with values. */
  async readComposite(
    endpoint: string,
    paths: readonly (string | Lwm2mPath)[],
    options: ReadOptions = {},
  ): Promise<Lwm2mCompositeEntry[]> {
    const r = this.registrationOrFail(endpoint);
    const ps = paths.map(toPath);
    const format = this.compositeFormat(r, options.format);
    const res = await this.call(r, 'Read-Composite', [], {
      method: 'FETCH',
      ...compositeRequest(format, ps),
      timeout: options.timeout,
    });
    try {
      return decodeComposite(res.contentFormat ?? format, res.payload, this.model, ps);
    } catch (e) {
      throw new Lwm2mServerError('bad-response', `Read-Composite: ${(e as Error)?.message}`, { cause: e });
    }
  }

  /** Write-Composite (Core §6.3.3, 1.1+): iPATCH on / with SenML values for several paths. */
  async writeComposite(
    endpoint: string,
    entries: readonly Lwm2mCompositeEntry[],
    options: ReadOptions = {},
  ): Promise<void> {
    const r = this.registrationOrFail(endpoint);
    const format = options.format ?? SENML_CBOR;
    let payload: Uint8Array;
    try {
      payload = encodeComposite(format, entries, this.model);
    } catch (e) {
      throw new Lwm2mServerError('bad-request', (e as Error)?.message ?? String(e), { cause: e });
    }
    await this.call(r, 'Write-Composite', [], {
      method: 'iPATCH',
      contentFormat: format,
      payload,
      timeout: options.timeout,
    });
  }

  // ================================================================ information reporting (Core §6.4)

  /** Observe (Core §6.4.1): resolves with the observation once the device sent the current value. */
  async observe(
    endpoint: string,
    path: string | Lwm2mPath,
    options: ReadOptions = {},
  ): Promise<ServerObservation> {
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Observe needs an object path');
    const r = this.registrationOrFail(endpoint);
    return this.establish(
      r,
      [p],
      false,
      this.formatFor(r, options.format),
      options.timeout,
    ) as Promise<ServerObservation>;
  }

  /**
   * Observe-Composite (Core §6.4.3, 1.1+; Transport §6.4): FETCH on / with Observe and the SenML path list.
   * Resolves once the device sent the current values; every notification carries the values of all the
   * paths (as `readComposite` returns them), as `notification` events of the observation and
   * `compositeNotification` events of the server.
   */
  async observeComposite(
    endpoint: string,
    paths: readonly (string | Lwm2mPath)[],
    options: ReadOptions = {},
  ): Promise<ServerCompositeObservation> {
    const ps = paths.map(toPath);
    if (ps.length === 0) throw new Lwm2mServerError('bad-request', 'Observe-Composite needs paths');
    const r = this.registrationOrFail(endpoint);
    return this.establish(
      r,
      ps,
      true,
      this.compositeFormat(r, options.format),
      options.timeout,
    ) as Promise<ServerCompositeObservation>;
  }

  /** The format of a composite answer: the caller's, else SenML CBOR unless the device only announced SenML JSON. */
  private compositeFormat(r: Registration, requested: number | undefined): number {
    if (requested !== undefined) return requested;
    return r.contentFormats.includes(SENML_JSON) && !r.contentFormats.includes(SENML_CBOR)
      ? SENML_JSON
      : SENML_CBOR;
  }

  /** The CoAP request of an observation: GET on the path, or FETCH on / with the path list (composite). */
  private observeRequest(
    r: Registration,
    paths: readonly Lwm2mPath[],
    composite: boolean,
    format: number,
  ): {
    method: 'GET' | 'FETCH';
    path: string[];
    accept: number;
    contentFormat?: number;
    payload?: Uint8Array;
  } {
    if (!composite) return { method: 'GET', path: this.segments(r, paths[0]!), accept: format };
    return { method: 'FETCH', path: this.segments(r, []), ...compositeRequest(format, paths) };
  }

  private async establish(
    registration: Registration,
    paths: readonly Lwm2mPath[],
    composite: boolean,
    format: number,
    timeout: number | undefined,
  ): Promise<AnyObservation> {
    const operation = composite ? 'Observe-Composite' : 'Observe';
    const where = composite ? [] : paths[0]!;
    const r = await this.reachable(registration, timeout ?? this.limits.requestTimeout);
    if (this.observations.size >= this.limits.maxObservations)
      throw new Lwm2mServerError('limit', `at most ${this.limits.maxObservations} observations`);
    const security = this.securityFor(r, operation, where);
    let coap: Observation;
    const controller = new AbortController();
    try {
      coap = await this.endpoint.observe({
        ...this.observeRequest(r, paths, composite, format),
        signal: controller.signal,
        peer: r.peer,
        timeout: timeout ?? this.limits.requestTimeout,
        ...(security === undefined ? {} : { security }),
      });
    } catch (e) {
      throw this.requestError(r, operation, where, e);
    }
    const first = coap.peek();
    if (first === undefined) {
      controller.abort();
      throw new Lwm2mServerError(
        'request-failed',
        `${operation} ${formatLwm2mPath(where)} on "${r.endpoint}": no response`,
      );
    }
    if (!first.ok) throw this.deviceError(r, operation, where, first);
    const value = this.decodeObserved(r, operation, paths, composite, first, format);
    // the registration may have gone while we waited
    if (this.store.get(r.id) === undefined) {
      controller.abort();
      throw new Lwm2mServerError('unknown-endpoint', `endpoint "${r.endpoint}" is no longer registered`);
    }
    // others may have been established while this one waited for its first response
    if (this.observations.size >= this.limits.maxObservations) {
      controller.abort();
      throw new Lwm2mServerError('limit', `at most ${this.limits.maxObservations} observations`);
    }
    const o = this.attach(r, paths, composite, format, value, coap, () => controller.abort());
    try {
      this.observationStore.put({
        token: o.token,
        registrationId: r.id,
        endpoint: r.endpoint,
        paths: paths.map(formatLwm2mPath),
        composite,
        format,
        createdAt: this.clock.now(),
      });
    } catch (e) {
      // not kept, not held: an observation a restart would silently lose is refused now
      o.finish();
      if (e instanceof Lwm2mServerError) throw e;
      throw new Lwm2mServerError('request-failed', `${operation}: the observation store failed`, {
        cause: e,
      });
    }
    return o;
  }

  private decodeObserved(
    r: Registration,
    operation: string,
    paths: readonly Lwm2mPath[],
    composite: boolean,
    res: CoapResponse,
    format: number,
  ): Lwm2mNode | Lwm2mCompositeEntry[] {
    if (!composite) return this.decode(r, operation, paths[0]!, res, format);
    try {
      return decodeComposite(res.contentFormat ?? format, res.payload, this.model, paths);
    } catch (e) {
      throw new Lwm2mServerError(
        'bad-response',
        `${operation} on "${r.endpoint}": ${(e as Error)?.message}`,
        {
          cause: e,
        },
      );
    }
  }

  /** Wraps a CoAP observation: decodes its notifications, emits them, ends with it. */
  private attach(
    r: Registration,
    paths: readonly Lwm2mPath[],
    composite: boolean,
    format: number,
    first: Lwm2mNode | Lwm2mCompositeEntry[] | undefined,
    coap: Observation,
    abort: () => void,
  ): AnyObservation {
    const onEnd = () => {
      this.observations.delete(o);
      const own = this.observationsByRegistration.get(r.id);
      if (own?.delete(o) && own.size === 0) this.observationsByRegistration.delete(r.id);
      // a closing server keeps its observations in the store, for the next run
      if (!this.closed) this.observationStore.remove(o.token);
    };
    const o: AnyObservation = composite
      ? new ServerCompositeObservation(
          r.endpoint,
          r.id,
          paths,
          first as Lwm2mCompositeEntry[] | undefined,
          coap,
          abort,
          onEnd,
        )
      : new ServerObservation(
          r.endpoint,
          r.id,
          paths[0]!,
          first as Lwm2mNode | undefined,
          coap,
          abort,
          onEnd,
        );
    this.observations.add(o);
    let own = this.observationsByRegistration.get(r.id);
    if (own === undefined) {
      own = new Set();
      this.observationsByRegistration.set(r.id, own);
    }
    own.add(o);
    const operation = composite ? 'Notify (composite)' : 'Notify';
    const where = composite ? [] : paths[0]!;
    const firstResponse = coap.peek();
    coap.on('notification', (res) => {
      if (res === firstResponse) return;
      const current = this.store.get(r.id) ?? r;
      if (!res.ok) {
        o.fail(this.deviceError(current, operation, where, res));
        return;
      }
      let value: Lwm2mNode | Lwm2mCompositeEntry[];
      try {
        value = this.decodeObserved(current, operation, paths, composite, res, format);
      } catch (e) {
        o.report(e as Error);
        return;
      }
      if (o instanceof ServerCompositeObservation) {
        const entries = value as Lwm2mCompositeEntry[];
        o.deliver(entries);
        this.emit('compositeNotification', { registration: current, endpoint: r.endpoint, paths, entries });
      } else {
        const node = value as Lwm2mNode;
        o.deliver(node);
        this.emit('notification', { registration: current, endpoint: r.endpoint, path: o.path, node });
      }
    });
    coap.on('error', (e) => o.fail(e));
    coap.on('end', () => o.finish());
    return o;
  }

  /**
   * Takes up the stored observations of registrations still in the store (after a restart): their
   * notifications arrive with the tokens the device was given. Observations of a registration that is
   * gone, or protected with OSCORE (their responses verify against the lost request binding, RFC 8613
   * §8.4), are dropped from the store; the device's next notification then gets a Reset (RFC 7641 §3.6).
   */
  private resumeObservations(): void {
    for (const stored of this.observationStore.list()) {
      const r = this.store.get(stored.registrationId);
      if (r === undefined || r.authentication === 'oscore' || !this.resume(r, stored))
        this.observationStore.remove(stored.token);
    }
  }

  private resume(r: Registration, stored: StoredObservation): boolean {
    if (this.observations.size >= this.limits.maxObservations) return false;
    let paths: Lwm2mPath[];
    let coap: Observation;
    const controller = new AbortController();
    try {
      paths = stored.paths.map((p) => parseLwm2mPath(p));
      if (paths.length === 0 || (!stored.composite && paths.length !== 1)) return false;
      coap = this.endpoint.resumeObservation({
        ...this.observeRequest(r, paths, stored.composite, stored.format),
        peer: r.peer,
        token: fromHex(stored.token),
        signal: controller.signal,
      });
    } catch {
      return false; // a record that does not make an observation any more
    }
    this.attach(r, paths, stored.composite, stored.format, undefined, coap, () => controller.abort());
    return true;
  }

  /** Observations of one path currently held for an endpoint (all of them without an endpoint). */
  observationsOf(endpoint?: string): ServerObservation[] {
    const out: ServerObservation[] = [];
    for (const o of this.observations)
      if (o instanceof ServerObservation && (endpoint === undefined || o.endpoint === endpoint)) out.push(o);
    return out;
  }

  /** Observe-Composite observations currently held for an endpoint (all of them without an endpoint). */
  compositeObservationsOf(endpoint?: string): ServerCompositeObservation[] {
    const out: ServerCompositeObservation[] = [];
    for (const o of this.observations)
      if (o instanceof ServerCompositeObservation && (endpoint === undefined || o.endpoint === endpoint))
        out.push(o);
    return out;
  }

  /** Cancel Observation (Core §6.4.2): cancels every observation of `path` on the endpoint; returns how many. */
  async cancelObserve(endpoint: string, path: string | Lwm2mPath): Promise<number> {
    const p = toPath(path);
    const key = formatLwm2mPath(p);
    const matching = this.observationsOf(endpoint).filter((o) => formatLwm2mPath(o.path) === key);
    await Promise.all(matching.map((o) => o.cancel()));
    return matching.length;
  }

  /**
   * Cancel Observation-Composite (Core §6.4.4, Transport §6.4: FETCH with Observe=1 and the path list):
   * cancels every composite observation of exactly these paths (in any order); returns how many.
   */
  async cancelObserveComposite(endpoint: string, paths: readonly (string | Lwm2mPath)[]): Promise<number> {
    const key = paths
      .map((p) => formatLwm2mPath(toPath(p)))
      .sort()
      .join(' ');
    const matching = this.compositeObservationsOf(endpoint).filter(
      (o) => o.paths.map(formatLwm2mPath).sort().join(' ') === key,
    );
    await Promise.all(matching.map((o) => o.cancel()));
    return matching.length;
  }
}
