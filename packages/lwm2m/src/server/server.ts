/**
 * The LwM2M server: the Registration interface (`/rd`, LwM2M TS Core 1.1 §6.2, TS Transport 1.1 §6.2),
 * the device-management and information-reporting interfaces towards registered devices (Core §6.3,
 * §6.4) and Send (`/dp`, Core §6.4.6), on a `CoapEndpoint`.
 */
import {
  type BlockProgress,
  type Clock,
  type CoapEndpoint,
  type CoapRequest,
  CoapRequestError,
  type CoapResponse,
  Code,
  cryptoRandom,
  type Observation,
  OptionNumber,
  type Peer,
  type Random,
  type ResponseInit,
  systemClock,
} from '@thimble/coap-core';
import { Emitter } from '../client/events.js';
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
import { Lwm2mServerError } from './errors.js';
import {
  parseLinksPayload,
  parseRegisterQuery,
  parseUpdateQuery,
  RegistrationError,
  type RegistrationLimits,
} from './registration.js';
import { MemoryRegistrationStore, type Registration, type RegistrationStore } from './store.js';

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

export type Lwm2mServerEvents = {
  /** A new registration; `replaced` is the endpoint's previous registration, if there was one. */
  registered: (registration: Registration, replaced: Registration | undefined) => void;
  updated: (registration: Registration, previous: Registration) => void;
  deregistered: (registration: Registration) => void;
  expired: (registration: Registration) => void;
  notification: (event: NotificationEvent) => void;
  send: (event: SendEvent) => void;
};

type ServerObservationEvents = {
  notification: (node: Lwm2mNode) => void;
  error: (error: Error) => void;
  end: () => void;
};

/** An observation of one path on one device, delivering decoded nodes (Core §6.4.1, §6.4.2). */
export class ServerObservation extends Emitter<ServerObservationEvents> {
  /** The newest value (the first one is the Observe response). */
  latest: Lwm2mNode;
  private ended = false;

  constructor(
    readonly endpoint: string,
    readonly registrationId: string,
    readonly path: Lwm2mPath,
    first: Lwm2mNode,
    private readonly coap: Observation,
    /** Drops the CoAP observation without a message (its token is forgotten; RFC 7641 §3.6 lets late notifications get RST). */
    private readonly abort: () => void,
    private readonly onEnd: (o: ServerObservation) => void,
  ) {
    super();
    this.latest = first;
  }

  get done(): boolean {
    return this.ended;
  }

  /** @internal */
  deliver(node: Lwm2mNode): void {
    if (this.ended) return;
    this.latest = node;
    this.emit('notification', node);
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
    this.onEnd(this);
    this.emit('end');
  }
}

interface Waiter {
  resolve(r: Registration): void;
  reject(e: Error): void;
  timer: ReturnType<Clock['setTimeout']>;
}

const codeText = (code: number): string => `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
const peerKey = (p: Peer): string => `${p.address}|${p.port}`;

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
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly limits: Required<Lwm2mServerLimits>;
  /** Peer address → registration id, for Send (which names no registration). */
  private readonly byPeer = new Map<string, string>();
  private readonly observations = new Set<ServerObservation>();
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
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
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
    this.armSweep();
  }

  /** The registration of an endpoint name, if registered. */
  registration(endpoint: string): Registration | undefined {
    return this.store.getByEndpoint(endpoint);
  }

  registrations(): Registration[] {
    return this.store.list();
  }

  /** Stops expiry and ends observations (passively). The CoAP endpoint stays the caller's to close. */
  close(): void {
    this.closed = true;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const o of [...this.observations]) o.finish();
    for (const ep of [...this.waiting.keys()])
      this.wake(ep, undefined, new Lwm2mServerError('closed', 'the server is closed'));
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

  /** Register (Core §6.2.1): 2.01 Created with Location-Path `rd/<id>`. */
  private onRegister(req: CoapRequest): ResponseInit {
    const params = parseRegisterQuery(req.query, this.limits);
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
      peer: { address: req.peer.address, port: req.peer.port },
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
    this.awakeUntil.set(registration.id, now + this.limits.awakeTime);
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
    const params = parseUpdateQuery(req.query);
    const links =
      req.payload.length > 0 ? parseLinksPayload(req.payload, req.contentFormat, this.limits) : undefined;
    const now = this.clock.now();
    const lifetime = params.lifetime ?? previous.lifetime;
    const sms = params.sms ?? previous.sms;
    const { sms: _drop, ...rest } = previous;
    const registration: Registration = {
      ...rest,
      ...(sms === undefined ? {} : { sms }),
      lifetime,
      binding: params.binding ?? previous.binding,
      // 1.0 says queue mode in the binding (UQ); 1.1+ with Q (Core 1.1 §6.2.1.1)
      queueMode:
        previous.version === '1.0' && params.binding !== undefined
          ? params.binding.includes('Q')
          : (params.queueMode ?? previous.queueMode),
      peer: { address: req.peer.address, port: req.peer.port },
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
    this.awakeUntil.set(id, now + this.limits.awakeTime);
    this.emit('updated', registration, previous);
    this.wake(registration.endpoint, registration);
    return { code: Code.Changed };
  }

  /** De-register (Core §6.2.3): 2.02 Deleted. */
  private onDeregister(req: CoapRequest): ResponseInit {
    const removed = this.store.remove(req.params.id ?? '');
    if (removed === undefined) return { code: Code.NotFound, payload: 'no such registration' };
    this.forget(removed);
    this.emit('deregistered', removed);
    this.wake(
      removed.endpoint,
      undefined,
      new Lwm2mServerError('unknown-endpoint', `endpoint "${removed.endpoint}" de-registered`),
    );
    return { code: Code.Deleted };
  }

  /** Drops what the server holds for a registration that is gone (index, observations). */
  private forget(r: Registration): void {
    this.awakeUntil.delete(r.id);
    const key = peerKey(r.peer);
    if (this.byPeer.get(key) === r.id) this.byPeer.delete(key);
    for (const o of [...this.observations]) {
      if (o.registrationId === r.id) o.finish();
    }
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
        new Lwm2mServerError('unknown-endpoint', `endpoint "${r.endpoint}" expired`),
      );
    }
  }

  // ================================================================ Send (Core §6.4.6)

  private onSend(req: CoapRequest): ResponseInit {
    const id = this.byPeer.get(peerKey(req.peer));
    const registration = id === undefined ? undefined : this.store.get(id);
    if (registration === undefined) return { code: Code.NotFound, payload: 'not registered' };
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

  /** Releases the requests waiting for an endpoint: with its registration, or failing with `error`. */
  private wake(endpoint: string, r: Registration | undefined, error?: Error): void {
    const list = this.waiting.get(endpoint);
    if (list === undefined) return;
    this.waiting.delete(endpoint);
    this.waitingCount -= list.length;
    for (const w of list.splice(0)) {
      this.clock.clearTimeout(w.timer);
      if (r !== undefined) w.resolve(r);
      else w.reject(error ?? new Lwm2mServerError('unknown-endpoint', `endpoint "${endpoint}" is gone`));
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
    let res: CoapResponse;
    try {
      res = await this.endpoint.request({
        method: init.method,
        peer: r.peer,
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
    for (const k of ['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax'] as const) {
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
    const format =
      options.format ??
      (r.contentFormats.includes(SENML_JSON) && !r.contentFormats.includes(SENML_CBOR)
        ? SENML_JSON
        : SENML_CBOR);
    let payload: Uint8Array;
    try {
      payload = encodeCompositePaths(format === SENML_JSON ? SENML_JSON : SENML_CBOR, ps);
    } catch (e) {
      throw new Lwm2mServerError('bad-request', (e as Error)?.message ?? String(e), { cause: e });
    }
    const res = await this.call(r, 'Read-Composite', [], {
      method: 'FETCH',
      accept: format,
      contentFormat: format === SENML_JSON ? SENML_JSON : SENML_CBOR,
      payload,
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
    const r = await this.reachable(
      this.registrationOrFail(endpoint),
      options.timeout ?? this.limits.requestTimeout,
    );
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Observe needs an object path');
    if (this.observations.size >= this.limits.maxObservations)
      throw new Lwm2mServerError('limit', `at most ${this.limits.maxObservations} observations`);
    const format = this.formatFor(r, options.format);
    let coap: Observation;
    const controller = new AbortController();
    try {
      coap = await this.endpoint.observe({
        signal: controller.signal,
        peer: r.peer,
        path: this.segments(r, p),
        accept: format,
        timeout: options.timeout ?? this.limits.requestTimeout,
      });
    } catch (e) {
      throw this.requestError(r, 'Observe', p, e);
    }
    const first = coap.peek();
    if (first === undefined) {
      controller.abort();
      throw new Lwm2mServerError(
        'request-failed',
        `Observe ${formatLwm2mPath(p)} on "${r.endpoint}": no response`,
      );
    }
    if (!first.ok) throw this.deviceError(r, 'Observe', p, first);
    const node = this.decode(r, 'Observe', p, first, format);
    // the registration may have gone while we waited
    if (this.store.get(r.id) === undefined) {
      controller.abort();
      throw new Lwm2mServerError('unknown-endpoint', `endpoint "${endpoint}" is no longer registered`);
    }
    const observation = new ServerObservation(
      r.endpoint,
      r.id,
      p,
      node,
      coap,
      () => controller.abort(),
      (o) => this.observations.delete(o),
    );
    this.observations.add(observation);
    coap.on('notification', (res) => {
      if (res === first) return;
      if (!res.ok) {
        observation.fail(this.deviceError(r, 'Notify', p, res));
        return;
      }
      let n: Lwm2mNode;
      try {
        n = decodeNode(res.contentFormat ?? format, p, res.payload, this.model);
      } catch (e) {
        observation.report(e as Error);
        return;
      }
      observation.deliver(n);
      const current = this.store.get(r.id) ?? r;
      this.emit('notification', { registration: current, endpoint: r.endpoint, path: p, node: n });
    });
    coap.on('error', (e) => observation.fail(e));
    coap.on('end', () => observation.finish());
    return observation;
  }

  /** Observations currently held for an endpoint (all of them without an endpoint). */
  observationsOf(endpoint?: string): ServerObservation[] {
    return [...this.observations].filter((o) => endpoint === undefined || o.endpoint === endpoint);
  }

  /** Cancel Observation (Core §6.4.2): cancels every observation of `path` on the endpoint; returns how many. */
  async cancelObserve(endpoint: string, path: string | Lwm2mPath): Promise<number> {
    const p = toPath(path);
    const key = formatLwm2mPath(p);
    const matching = this.observationsOf(endpoint).filter((o) => formatLwm2mPath(o.path) === key);
    await Promise.all(matching.map((o) => o.cancel()));
    return matching.length;
  }
}
