/**
 * The LwM2M client: the device side of LwM2M over CoAP. One `CoapEndpoint` is both the CoAP client towards
 * the LwM2M server (Registration interface, Send) and the CoAP server the LwM2M server reaches for Device
 * Management and Information Reporting.
 *
 * Specification references are to OMA LwM2M TS Core 1.1 ("Core") and TS Transport Bindings 1.1
 * ("Transport"): Registration interface Core §6.2 / Transport §6.2, Device Management Core §6.3 /
 * Transport §6.3, Information Reporting Core §6.4 / Transport §6.4.
 *
 * Hot path (requests the server sends, values the application sets) uses plain objects and arrays only.
 */
import {
  type Clock,
  type CoapEndpoint,
  type CoapRequest,
  type CoapResponse,
  Code,
  ContentFormat,
  cryptoRandom,
  OptionNumber,
  peerKey,
  type Random,
  type ResponseInit,
  randomInt,
  systemClock,
  utf8Encode,
} from '@thimble/coap-core';
import {
  decodeComposite,
  decodeCompositePaths,
  decodeNode,
  encodeComposite,
  encodeNode,
} from '../content/codecs.js';
import { Lwm2mContentError } from '../content/errors.js';
import { formatDiscover, formatRegistrationLinks, type Lwm2mLink } from '../content/link-format.js';
import type { Lwm2mCompositeEntry } from '../content/senml.js';
import { BUILTIN_OBJECTS } from '../model/builtin.js';
import { isExecutable, isReadable, isWritable, type ResourceDefinition } from '../model/definitions.js';
import type { Lwm2mNode, ObjectInstanceNode, ResourceInstanceNode, ResourceNode } from '../model/nodes.js';
import { isPathPrefix, isValidId, type Lwm2mPath, Lwm2mPathError, parseLwm2mPath } from '../model/path.js';
import { type Lwm2mModel, ObjectRegistry } from '../model/registry.js';
import { type Lwm2mValue, Lwm2mValueError } from '../model/values.js';
import {
  AttributeStore,
  applyAttributeQuery,
  conditionsMet,
  type NotificationAttributes,
} from './attributes.js';
import { compositeKey, entryAt, nodeValue, notified, type ObservedPath, observedPath } from './composite.js';
import { codeFromText, Lwm2mClientError } from './errors.js';
import { Emitter } from './events.js';
import {
  type InstanceEntry,
  InstanceStore,
  instanceNode,
  pathText,
  type ResourceInit,
  type ResourceValue,
  resourceNode,
  type Slot,
  toResourceValue,
  toStoredValue,
  valueOfNode,
} from './store.js';

export type Lwm2mVersion = '1.0' | '1.1' | '1.2';

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

export interface Lwm2mClientOptions {
  /** Endpoint Client Name (`ep`). */
  readonly endpointName: string;
  /** The CoAP endpoint (bound to a transport) used both ways. */
  readonly endpoint: CoapEndpoint;
  /**
   * LwM2M server URI, `coap://host:port`. Without it, the first non-bootstrap instance of the Security
   * object (resource 0) is used.
   */
  readonly serverUri?: string;
  /** Registration lifetime, seconds (default 86400); the Server object's /1/x/1 wins when present. */
  readonly lifetime?: number;
  readonly version?: Lwm2mVersion;
  /** Binding mode (`b`), default "U". */
  readonly binding?: string;
  /**
   * Queue mode (Core §6.5): `b=UQ` in 1.0, the `Q` parameter from 1.1. After `queueTimeout` ms without
   * traffic with the server the client counts as asleep: a notification that falls due then is held, the
   * client sends a Registration Update first and notifies once the server answered it.
   */
  readonly queueMode?: boolean;
  /** Milliseconds awake after the last exchange with the server (default 93 000, MAX_TRANSMIT_WAIT). */
  readonly queueTimeout?: number;
  /** Object definitions (default: the built-in objects). */
  readonly model?: Lwm2mModel;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly retry?: RetryOptions;
  /** Milliseconds to wait for a registration response (default: the endpoint's CoAP default). */
  readonly requestTimeout?: number;
  /** Most observations held at once (default 64). */
  readonly maxObservations?: number;
  /** Most object instances (default 1024). */
  readonly maxInstances?: number;
  /**
   * Object versions the device implements when they differ from the model's definitions (registered as
   * `</3>;ver=1.1`, Core §6.2.1), e.g. a Device object implemented to version 1.1 with the 1.2 definitions.
   */
  readonly objectVersions?: { readonly [objectId: number]: string };
}

/** One served operation, for logging (the `lwm2m client` command prints these). */
export interface OperationEvent {
  readonly operation: string;
  readonly path: string;
  /** Response code, `2.05` style. */
  readonly code: string;
  readonly detail?: string;
}

export type Lwm2mClientEvents = {
  registered: (location: string) => void;
  updated: () => void;
  deregistered: () => void;
  /** Queue mode: the client went quiet / woke up with an Update (Core §6.5). */
  sleeping: () => void;
  awake: () => void;
  error: (error: Error) => void;
  operation: (event: OperationEvent) => void;
  /** Written by the server (Write, Create, Write-Composite): path of the changed resource or instance. */
  changed: (path: Lwm2mPath) => void;
};

export type RegistrationState = 'stopped' | 'registering' | 'registered' | 'waiting' | 'failed';

/**
 * An observation (Core §6.4.1) of one path, itself its only observed path, or an Observe-Composite
 * (Core §6.4.3) of the paths in `members` (its own `path` is then `[]`, the root the FETCH went to).
 */
interface Observation extends ObservedPath {
  readonly key: string;
  readonly pathKey: string;
  readonly request: CoapRequest;
  readonly members: ObservedPath[] | undefined;
  lastSent: number;
  /** Queue mode: a notification waits for the wake-up Update. */
  held: boolean;
  epmaxTimer: ReturnType<Clock['setTimeout']> | undefined;
  epminTimer: ReturnType<Clock['setTimeout']> | undefined;
  pminTimer: ReturnType<Clock['setTimeout']> | undefined;
  pmaxTimer: ReturnType<Clock['setTimeout']> | undefined;
}

type MaybePromise<T> = T | Promise<T>;

const DEFAULT_LIFETIME = 86400;
const SENML_CBOR = 112;
const TLV = 11542;
const LINK_FORMAT = 40;

/** Formats the client supports, listed in the registration's `ct` for 1.1+ (Core §6.2.1). */
const SUPPORTED_FORMATS = [0, 42, 60, 110, 112, 11542, 11543];

const isPromise = <T>(v: MaybePromise<T>): v is Promise<T> =>
  v !== null && typeof v === 'object' && typeof (v as Promise<T>).then === 'function';

const codeText = (code: number): string => `${code >>> 5}.${String(code & 31).padStart(2, '0')}`;

function fail(
  reason: ConstructorParameters<typeof Lwm2mClientError>[0],
  code: ConstructorParameters<typeof Lwm2mClientError>[1],
  message: string,
): never {
  throw new Lwm2mClientError(reason, code, message);
}

export class Lwm2mClient extends Emitter<Lwm2mClientEvents> {
  readonly endpointName: string;
  readonly endpoint: CoapEndpoint;
  readonly version: Lwm2mVersion;
  readonly model: Lwm2mModel;
  private readonly objects: InstanceStore;
  private readonly attributes = new AttributeStore();

  private readonly clock: Clock;
  private readonly random: Random;
  private readonly options: Lwm2mClientOptions;
  private readonly maxObservations: number;
  private observations: Observation[] = [];

  private state: RegistrationState = 'stopped';
  private location: string[] | undefined;
  private regTimer: ReturnType<Clock['setTimeout']> | undefined;
  private attempt = 0;
  private sequence = 0;
  /** Registered lifetime / binding, to send `lt` / `b` in an Update only when they changed. */
  private registeredLifetime = 0;
  private registeredBinding = '';
  private objectsChanged = false;
  private updateInFlight: Promise<void> | undefined;
  private updateAgain = false;
  private generation = 0;
  private asleep = false;
  private sleepTimer: ReturnType<Clock['setTimeout']> | undefined;

  constructor(options: Lwm2mClientOptions) {
    super();
    this.options = options;
    this.endpointName = options.endpointName;
    this.endpoint = options.endpoint;
    this.version = options.version ?? '1.1';
    this.model = options.model ?? new ObjectRegistry(BUILTIN_OBJECTS);
    this.objects = new InstanceStore(this.model, options.maxInstances ?? 1024);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
    this.maxObservations = options.maxObservations ?? 64;
    this.installRoutes();
  }

  // ================================================================ application objects

  /**
   * Adds an object instance. Each resource is a value (checked against the model) or callbacks
   * `{ read?, write?, execute? }`. When registered, the server learns about it with an Update.
   */
  addInstance(
    objectId: number,
    instanceId: number,
    resources: { [resourceId: number]: ResourceInit } = {},
  ): this {
    this.objects.add(objectId, instanceId, resources);
    this.objectsDidChange();
    return this;
  }

  /** Declares support for an object that has no instance yet (registered as `</o>`, so Create works). */
  supportObject(objectId: number): this {
    this.objects.supportObject(objectId);
    this.objectsDidChange();
    return this;
  }

  /** Removes an object instance (the server learns it with an Update). */
  removeInstance(objectId: number, instanceId: number): boolean {
    const removed = this.objects.remove(objectId, instanceId);
    if (removed) this.afterDelete([objectId, instanceId]);
    return removed;
  }

  /**
   * Sets a resource value (`/o/i/r`) and notifies its observers (Core §6.4.2, respecting pmin / pmax /
   * gt / lt / st). A resource defined by the model but not yet present is added.
   */
  set(path: string | Lwm2mPath, value: ResourceValue): void {
    const p = typeof path === 'string' ? parseLwm2mPath(path) : path;
    if (p.length !== 3)
      throw new Lwm2mClientError('bad-request', '4.00', `set needs /o/i/r, got ${pathText(p)}`);
    const entry = this.objects.get(p[0]!, p[1]!);
    if (entry === undefined)
      throw new Lwm2mClientError('not-found', '4.04', `${pathText(p)}: no such instance`);
    const def = this.model.getResource(p[0]!, p[2]!);
    if (def === undefined)
      throw new Lwm2mClientError('not-found', '4.04', `${pathText(p)}: no such resource`);
    const stored = toStoredValue(def, value);
    const slot = entry.slots[p[2]!];
    if (slot === undefined) entry.slots[p[2]!] = { value: stored, handler: undefined };
    else slot.value = stored;
    this.valueChanged(p, Array.isArray(stored) ? undefined : (stored as Lwm2mValue));
  }

  /** The stored value of `/o/i/r` (callbacks are not called), or undefined. */
  get(path: string | Lwm2mPath): ResourceValue | undefined {
    const p = typeof path === 'string' ? parseLwm2mPath(path) : path;
    const slot = this.objects.get(p[0]!, p[1]!)?.slots[p[2]!];
    return slot?.value === undefined ? undefined : toResourceValue(slot.value);
  }

  /** Tells the client that a callback-backed resource changed, so its observers get a notification. */
  changed(path: string | Lwm2mPath): void {
    this.valueChanged(typeof path === 'string' ? parseLwm2mPath(path) : path, undefined);
  }

  // ================================================================ registration (Core §6.2)

  get registrationState(): RegistrationState {
    return this.state;
  }

  /** Location path the server gave at registration (`/rd/abc`), or undefined. */
  get registrationLocation(): string | undefined {
    return this.location === undefined ? undefined : `/${this.location.join('/')}`;
  }

  /** Starts registering (and keeps the registration up to date) until `stop()`. */
  start(): void {
    if (this.state !== 'stopped' && this.state !== 'failed') return;
    this.attempt = 0;
    this.sequence = 0;
    this.state = 'registering';
    void this.register();
  }

  /** De-registers (Core §6.2.3) when registered, then stops all timers. The endpoint stays open. */
  async stop(): Promise<void> {
    const wasRegistered = this.state === 'registered' && this.location !== undefined;
    this.generation++;
    this.state = 'stopped';
    this.clearRegTimer();
    if (this.sleepTimer !== undefined) this.clock.clearTimeout(this.sleepTimer);
    this.sleepTimer = undefined;
    this.asleep = false;
    for (const o of this.observations) this.clearObservationTimers(o);
    this.observations = [];
    if (!wasRegistered) return;
    const location = this.location!;
    this.location = undefined;
    try {
      const res = await this.endpoint.request({
        method: 'DELETE',
        uri: this.uri(location),
        timeout: this.options.requestTimeout,
      });
      if (res.code === Code.Deleted) this.emit('deregistered');
      else
        this.emit(
          'error',
          new Lwm2mClientError('registration-failed', '5.00', `De-register: ${codeText(res.code)}`),
        );
    } catch (e) {
      this.emit('error', e as Error);
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

  private serverUri(): string {
    if (this.options.serverUri !== undefined) return this.options.serverUri.replace(/\/+$/, '');
    for (const iid of this.objects.instanceIds(0)) {
      const e = this.objects.get(0, iid)!;
      const bs = e.slots[1]?.value;
      const uri = e.slots[0]?.value;
      if (bs !== true && typeof uri === 'string') return uri.replace(/\/+$/, '');
    }
    throw new Lwm2mClientError(
      'not-registered',
      '5.00',
      'no server URI: give serverUri or a Security instance',
    );
  }

  private uri(segments: readonly string[], query: readonly string[] = []): string {
    let u = this.serverUri();
    for (const s of segments) u += `/${encodeURIComponent(s)}`;
    if (query.length > 0) u += `?${query.join('&')}`;
    return u;
  }

  /** The Server object instance (the first one), for lifetime, binding and retry resources. */
  private serverInstance(): InstanceEntry | undefined {
    const ids = this.objects.instanceIds(1);
    return ids.length === 0 ? undefined : this.objects.get(1, ids[0]!);
  }

  private serverResource(rid: number): Lwm2mValue | undefined {
    const v = this.serverInstance()?.slots[rid]?.value;
    return Array.isArray(v) ? undefined : (v as Lwm2mValue | undefined);
  }

  /** Lifetime in seconds: /1/x/1 when present, else the option. */
  get lifetime(): number {
    const v = this.serverResource(1);
    if (typeof v === 'number' && v > 0) return v;
    return this.options.lifetime ?? DEFAULT_LIFETIME;
  }

  private get binding(): string {
    const v = this.serverResource(7);
    const b = typeof v === 'string' && v !== '' ? v : (this.options.binding ?? 'U');
    // LwM2M 1.0 signals queue mode in the binding (Core 1.0 §5.3.1.1: "UQ")
    return this.version === '1.0' && this.options.queueMode && b.indexOf('Q') < 0 ? `${b}Q` : b;
  }

  /** Registration links: objects and instances, never Security (0) or OSCORE (21) (Core §6.2.1). */
  registrationLinks(): string {
    const objects: { path: Lwm2mPath; version?: string }[] = [];
    for (const oid of this.objects.objectIds()) {
      if (oid === 0 || oid === 21) continue;
      const version = this.objectVersion(oid);
      const ver = version !== '1.0' ? version : undefined;
      const iids = this.objects.instanceIds(oid);
      if (iids.length === 0 || ver !== undefined)
        objects.push(ver === undefined ? { path: [oid] } : { path: [oid], version: ver });
      for (const iid of iids) objects.push({ path: [oid, iid] });
    }
    return formatRegistrationLinks({
      rootPath: '/',
      contentFormats: this.version === '1.0' ? [] : SUPPORTED_FORMATS,
      objects,
    });
  }

  /** The version of an object this device implements (Core §6.2.1 `ver`). */
  objectVersion(objectId: number): string {
    return this.options.objectVersions?.[objectId] ?? this.model.getObject(objectId)?.version ?? '1.0';
  }

  private async register(): Promise<void> {
    const gen = this.generation;
    const lifetime = this.lifetime;
    const binding = this.binding;
    const query = [
      `ep=${encodeURIComponent(this.endpointName)}`,
      `lt=${lifetime}`,
      `lwm2m=${this.version}`,
      `b=${binding}`,
    ];
    if (this.options.queueMode && this.version !== '1.0') query.push('Q');
    this.objectsChanged = false;
    let res: CoapResponse;
    try {
      res = await this.endpoint.request({
        method: 'POST',
        uri: this.uri(['rd'], query),
        payload: this.registrationLinks(),
        contentFormat: LINK_FORMAT,
        timeout: this.options.requestTimeout,
      });
    } catch (e) {
      if (gen !== this.generation) return;
      this.registrationFailed(e as Error);
      return;
    }
    if (gen !== this.generation) return;
    if (res.code !== Code.Created) {
      this.registrationFailed(
        new Lwm2mClientError('registration-failed', '5.00', `Register answered ${codeText(res.code)}`),
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
    this.attempt = 0;
    this.sequence = 0;
    this.state = 'registered';
    this.scheduleUpdate();
    this.emit('registered', `/${location.join('/')}`);
    this.activity();
    if (this.objectsChanged) void this.triggerUpdate();
  }

  /**
   * Registration retry (Core §6.2.1.1 with /1/x/17–20): attempts in a sequence wait timer × 2^(n−1); after
   * `count` failures the next sequence starts after `sequenceDelay`; after `sequenceCount` sequences the
   * client gives up (state `failed`).
   */
  private registrationFailed(error: Error): void {
    this.emit('error', error);
    if (this.state === 'stopped') return;
    const r = this.options.retry ?? {};
    const num = (rid: number, fallback: number): number => {
      const v = this.serverResource(rid);
      return typeof v === 'number' && v >= 0 ? v : fallback;
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
        this.emit(
          'error',
          new Lwm2mClientError('registration-failed', '5.00', 'registration failed: retries exhausted'),
        );
        return;
      }
      delay = sequenceDelay;
    }
    this.state = 'waiting';
    // a little jitter (up to 10 %) so a fleet restarting together does not register in lockstep
    const ms = delay * 1000 + randomInt(this.random, 0, Math.floor(delay * 100));
    this.setRegTimer(() => {
      this.state = 'registering';
      void this.register();
    }, ms);
  }

  /** Update before the lifetime runs out: at 90 % of it, and at least 10 s before the end. */
  private scheduleUpdate(): void {
    const lt = this.registeredLifetime;
    const seconds = Math.max(1, Math.min(lt * 0.9, lt - 10));
    this.setRegTimer(() => void this.triggerUpdate(), seconds * 1000);
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
      res = await this.endpoint.request({
        method: 'POST',
        uri: this.uri(this.location, query),
        payload: withObjects ? this.registrationLinks() : undefined,
        contentFormat: withObjects ? LINK_FORMAT : undefined,
        timeout: this.options.requestTimeout,
      });
    } catch (e) {
      if (gen !== this.generation) return;
      if (withObjects) this.objectsChanged = true;
      // Core §6.2.2: an Update that fails means registering again
      this.emit('error', e as Error);
      this.reRegister();
      return;
    }
    if (gen !== this.generation) return;
    if (res.code === Code.Changed) {
      this.registeredLifetime = lifetime;
      this.registeredBinding = binding;
      this.scheduleUpdate();
      this.emit('updated');
      this.activity();
      return;
    }
    if (withObjects) this.objectsChanged = true;
    this.emit(
      'error',
      new Lwm2mClientError('registration-failed', '5.00', `Update answered ${codeText(res.code)}`),
    );
    this.reRegister();
  }

  private reRegister(): void {
    this.location = undefined;
    this.clearRegTimer();
    this.state = 'registering';
    this.attempt = 0;
    void this.register();
  }

  private objectsDidChange(): void {
    this.objectsChanged = true;
    if (this.state === 'registered') void this.triggerUpdate();
  }

  private setRegTimer(f: () => void, ms: number): void {
    this.clearRegTimer();
    this.regTimer = this.clock.setTimeout(() => {
      this.regTimer = undefined;
      f();
    }, ms);
  }

  private clearRegTimer(): void {
    if (this.regTimer !== undefined) this.clock.clearTimeout(this.regTimer);
    this.regTimer = undefined;
  }

  // ================================================================ Send (Core §6.4.3)

  /** Sends the values at `paths` to the server (`POST /dp`, SenML CBOR). LwM2M 1.1 and later. */
  async send(paths: readonly (string | Lwm2mPath)[]): Promise<void> {
    if (this.version === '1.0')
      throw new Lwm2mClientError('not-allowed', '4.05', 'Send needs LwM2M 1.1 or later');
    if (this.state !== 'registered') throw new Lwm2mClientError('not-registered', '5.00', 'not registered');
    const entries: Lwm2mCompositeEntry[] = [];
    for (const p of paths) {
      const path = typeof p === 'string' ? parseLwm2mPath(p) : p;
      entries.push({ path, node: await this.readNode(path) } as Lwm2mCompositeEntry);
    }
    const res = await this.endpoint.request({
      method: 'POST',
      uri: this.uri(['dp']),
      payload: encodeComposite(SENML_CBOR, entries, this.model),
      contentFormat: SENML_CBOR,
      timeout: this.options.requestTimeout,
    });
    if (res.code !== Code.Changed) {
      throw new Lwm2mClientError('application', '5.00', `Send answered ${codeText(res.code)}`);
    }
  }

  // ================================================================ device management (Core §6.3)

  private installRoutes(): void {
    const handler = (req: CoapRequest) => this.handle(req);
    const ep = this.endpoint;
    // observable for Observe-Composite (FETCH with Observe, Transport §6.4)
    ep.route(['FETCH', 'iPATCH', 'GET', 'PUT', 'POST', 'DELETE'], '/', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i/:r', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i/:r/:ri', handler, { observable: true });
  }

  private handle(req: CoapRequest): Promise<ResponseInit> {
    let op = 'request';
    let path: Lwm2mPath = [];
    const notification = this.isNotification(req);
    const run = async (): Promise<ResponseInit> => {
      path = parseRequestPath(req.path);
      // Core §E.1 / §6.3: the Security (0) and OSCORE (21) objects belong to the Bootstrap interface
      if (path.length > 0 && (path[0] === 0 || path[0] === 21))
        fail('not-allowed', '4.01', 'Security objects are not accessible');
      switch (req.method) {
        case Code.GET:
          if (req.accept === LINK_FORMAT) {
            op = 'Discover';
            return this.discover(path);
          }
          op = readOperation(notification, req.observe, '');
          return this.read(req, path, notification);
        case Code.PUT:
          if (req.payload.length === 0 && req.query.length > 0) {
            op = 'Write-Attributes';
            return this.writeAttributes(req, path);
          }
          op = 'Write';
          return this.write(req, path, true);
        case Code.POST:
          if (path.length === 1) {
            op = 'Create';
            return this.create(req, path);
          }
          if (path.length === 3) {
            const def = this.model.getResource(path[0]!, path[2]!);
            if (def !== undefined && isExecutable(def)) {
              op = 'Execute';
              return this.execute(req, path, def);
            }
          }
          op = 'Write';
          return this.write(req, path, false);
        case Code.DELETE:
          op = 'Delete';
          return this.delete(path);
        case Code.FETCH:
          op = readOperation(notification, req.observe, '-Composite');
          return this.readComposite(req, notification);
        case Code.iPATCH:
          op = 'Write-Composite';
          return this.writeComposite(req);
      }
      return fail('not-allowed', '4.05', 'method not allowed');
    };
    if (!notification) this.activity();
    return run().then(
      (r) => {
        this.emit('operation', { operation: op, path: pathText(path), code: codeText(r.code) });
        return r;
      },
      (e: unknown) => {
        const r = errorResponse(e);
        this.emit('operation', {
          operation: op,
          path: req.path.length === 0 ? '/' : `/${req.path.join('/')}`,
          code: codeText(r.code),
          detail: e instanceof Error ? e.message : String(e),
        });
        return r;
      },
    );
  }

  /** Format for a response: the Accept option, else TLV for 1.0 and SenML CBOR from 1.1 (Core §7.4). */
  private responseFormat(req: CoapRequest): number {
    return req.accept ?? (this.version === '1.0' ? TLV : SENML_CBOR);
  }

  private async read(req: CoapRequest, path: Lwm2mPath, notification: boolean): Promise<ResponseInit> {
    if (path.length === 0) fail('not-allowed', '4.05', 'Read on / is not an LwM2M operation');
    const node = await this.readNode(path);
    const format = this.responseFormat(req);
    const payload = encodeNode(format, path, node, this.model);
    if (!notification) {
      if (req.observe === 0) this.addObservation(req, path, node);
      else if (req.observe === 1) this.removeObservation(observationKey(req, path));
    } else {
      const o = this.findObservation(observationKey(req, path));
      if (
        o !== undefined &&
        (node.kind === 'resource' || node.kind === 'resourceInstance') &&
        typeof node.value === 'number'
      )
        o.lastValue = node.value;
    }
    return { code: Code.Content, contentFormat: format, payload };
  }

  /** Reads the node at a path (1–4 ids), calling read callbacks. Unreadable resources are left out. */
  async readNode(path: Lwm2mPath): Promise<Lwm2mNode> {
    const oid = path[0]!;
    if (path.length === 1) {
      if (!this.objects.hasObject(oid)) fail('not-found', '4.04', `object ${oid} not found`);
      const instances: ObjectInstanceNode[] = [];
      for (const iid of this.objects.instanceIds(oid))
        instances.push(await this.readInstance(oid, this.objects.get(oid, iid)!));
      return { kind: 'object', id: oid, instances };
    }
    const entry = this.instanceOrFail(path);
    if (path.length === 2) return this.readInstance(oid, entry);
    const rdef = this.model.getResource(oid, path[2]!);
    if (rdef !== undefined && !isReadable(rdef))
      fail('not-allowed', '4.05', `${pathText(path)} is not readable`);
    const { def, slot } = this.resourceOrFail(path, entry);
    const value = await this.readSlot(def, slot);
    if (value === undefined) fail('not-found', '4.04', `${pathText(path)} has no value`);
    if (path.length === 3) return resourceNode(def, value);
    if (!def.multiple) fail('not-found', '4.04', `${pathText(path)}: resource ${def.id} is single`);
    const ri = findInstance(value as ResourceInstanceNode[], path[3]!);
    if (ri === undefined) fail('not-found', '4.04', `${pathText(path)} not found`);
    return ri;
  }

  private async readInstance(oid: number, entry: InstanceEntry): Promise<ObjectInstanceNode> {
    const resources: ResourceNode[] = [];
    for (const rid of this.objects.resourceIds(entry)) {
      const def = this.model.getResource(oid, rid);
      if (def === undefined || !isReadable(def)) continue;
      const value = await this.readSlot(def, entry.slots[rid]!);
      if (value !== undefined) resources.push(resourceNode(def, value));
    }
    return instanceNode(entry.id, resources);
  }

  private async readSlot(
    def: ResourceDefinition,
    slot: Slot,
  ): Promise<Lwm2mValue | ResourceInstanceNode[] | undefined> {
    const read = slot.handler?.read;
    if (read === undefined) return slot.value;
    let v: MaybePromise<ResourceValue>;
    try {
      v = read();
      if (isPromise(v)) v = await v;
    } catch (e) {
      throw new Lwm2mClientError(
        'application',
        '5.00',
        `read ${def.name}: ${(e as Error)?.message ?? String(e)}`,
      );
    }
    return toStoredValue(def, v as ResourceValue);
  }

  private instanceOrFail(path: Lwm2mPath): InstanceEntry {
    const entry = this.objects.get(path[0]!, path[1]!);
    if (entry === undefined) fail('not-found', '4.04', `${pathText(path.slice(0, 2))} not found`);
    return entry;
  }

  private resourceOrFail(path: Lwm2mPath, entry: InstanceEntry): { def: ResourceDefinition; slot: Slot } {
    const def = this.model.getResource(path[0]!, path[2]!);
    const slot = entry.slots[path[2]!];
    if (def === undefined || slot === undefined)
      fail('not-found', '4.04', `${pathText(path.slice(0, 3))} not found`);
    return { def, slot };
  }

  /**
   * Write (Core §6.3.3, Transport §6.3): PUT on an instance replaces it, POST updates it partially; PUT on a
   * resource replaces it; POST on a multiple resource adds or replaces resource instances; PUT on a
   * resource instance (1.1) replaces it.
   */
  private async write(req: CoapRequest, path: Lwm2mPath, replace: boolean): Promise<ResponseInit> {
    if (path.length < 2) fail('not-allowed', '4.05', `Write on ${pathText(path)} is not allowed`);
    const entry = this.instanceOrFail(path);
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Write without Content-Format');
    if (req.payload.length === 0) fail('bad-request', '4.00', 'Write without payload');
    const oid = path[0]!;
    if (path.length === 2) {
      const node = decodeNode(format, path, req.payload, this.model);
      if (node.kind !== 'objectInstance') fail('bad-request', '4.00', 'payload is not an object instance');
      // check everything before changing anything (a Write is all or nothing)
      for (const r of node.resources) {
        const def = this.model.getResource(oid, r.id);
        if (def === undefined) fail('not-found', '4.04', `${pathText([oid, path[1]!, r.id])} not found`);
        if (!isWritable(def))
          fail('not-allowed', '4.05', `${pathText([oid, path[1]!, r.id])} is not writable`);
      }
      if (replace) {
        // Replace: optional writable resources missing from the payload are removed (Core §6.3.3)
        for (const rid of this.objects.resourceIds(entry)) {
          const def = this.model.getResource(oid, rid);
          const slot = entry.slots[rid]!;
          if (def === undefined || def.mandatory || !isWritable(def) || slot.handler !== undefined) continue;
          if (!node.resources.some((r) => r.id === rid)) delete entry.slots[rid];
        }
      }
      for (const r of node.resources) {
        const def = this.model.getResource(oid, r.id)!;
        await this.applyWrite(entry, [oid, path[1]!, r.id], def, valueOfNode(r));
      }
      return { code: Code.Changed };
    }
    const def = this.model.getResource(oid, path[2]!);
    if (def === undefined) fail('not-found', '4.04', `${pathText(path)} not found`);
    if (!isWritable(def)) fail('not-allowed', '4.05', `${pathText(path)} is not writable`);
    const node = decodeNode(format, path, req.payload, this.model);
    const rpath: Lwm2mPath = [oid, path[1]!, path[2]!];
    if (path.length === 3) {
      let value = valueOfNode(node);
      if (!replace) {
        // POST on a multiple resource: a partial update of its instances
        if (!def.multiple || !Array.isArray(value))
          fail('not-allowed', '4.05', `POST on ${pathText(path)} is not allowed`);
        value = mergeInstances(entry.slots[path[2]!]?.value, value as ResourceInstanceNode[]);
      }
      await this.applyWrite(entry, rpath, def, value);
      return { code: Code.Changed };
    }
    if (!def.multiple || !replace) fail('not-allowed', '4.05', `Write on ${pathText(path)} is not allowed`);
    if (node.kind !== 'resourceInstance') fail('bad-request', '4.00', 'payload is not a resource instance');
    await this.applyWrite(entry, rpath, def, mergeInstances(entry.slots[path[2]!]?.value, [node]));
    return { code: Code.Changed };
  }

  private async applyWrite(
    entry: InstanceEntry,
    path: Lwm2mPath,
    def: ResourceDefinition,
    value: Lwm2mValue | ResourceInstanceNode[],
  ): Promise<void> {
    let slot = entry.slots[def.id];
    if (slot === undefined) {
      slot = { value: undefined, handler: undefined };
      entry.slots[def.id] = slot;
    }
    const write = slot.handler?.write;
    if (write !== undefined) {
      try {
        const r = write(toResourceValue(value));
        if (isPromise(r)) await r;
      } catch (e) {
        if (e instanceof Lwm2mClientError) throw e;
        throw new Lwm2mClientError(
          'application',
          '5.00',
          `write ${def.name}: ${(e as Error)?.message ?? String(e)}`,
        );
      }
    }
    slot.value = value;
    this.emit('changed', path);
    this.valueChanged(path, typeof value === 'number' ? value : undefined);
    // a new lifetime or binding goes to the server in an Update (Core §6.2.2)
    if (path[0] === 1 && (def.id === 1 || def.id === 7) && this.state === 'registered')
      void this.triggerUpdate();
  }

  /** Execute (Core §6.3.5): POST on an Executable resource, the payload being the arguments text. */
  private async execute(req: CoapRequest, path: Lwm2mPath, def: ResourceDefinition): Promise<ResponseInit> {
    const entry = this.instanceOrFail(path);
    const args = req.text();
    const slot = entry.slots[def.id];
    const exec = slot?.handler?.execute;
    if (exec === undefined) {
      // Registration Update Trigger (/1/x/8) is the client's own business
      if (path[0] === 1 && def.id === 8) {
        void this.triggerUpdate();
        return { code: Code.Changed };
      }
      fail('not-found', '4.04', `${pathText(path)} is not implemented`);
    }
    try {
      const r = exec(args);
      if (isPromise(r)) await r;
    } catch (e) {
      if (e instanceof Lwm2mClientError) throw e;
      throw new Lwm2mClientError(
        'application',
        '5.00',
        `execute ${def.name}: ${(e as Error)?.message ?? String(e)}`,
      );
    }
    return { code: Code.Changed };
  }

  /** Create (Core §6.3.7): POST /o with the new instance; 2.01 with its Location-Path. */
  private async create(req: CoapRequest, path: Lwm2mPath): Promise<ResponseInit> {
    const oid = path[0]!;
    const objectDef = this.model.getObject(oid);
    if (objectDef === undefined || !this.objects.hasObject(oid))
      fail('not-found', '4.04', `object ${oid} not found`);
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Create without Content-Format');
    let instance: ObjectInstanceNode;
    let node: Lwm2mNode | undefined;
    try {
      node = decodeNode(format, path, req.payload, this.model);
    } catch (e) {
      // LwM2M 1.0 TLV may carry the resources without an instance (the client picks the id)
      if (!(e instanceof Lwm2mContentError) || format !== TLV) throw e;
    }
    if (node === undefined) {
      const n = decodeNode(format, [oid, this.objects.freeInstanceId(oid)], req.payload, this.model);
      if (n.kind !== 'objectInstance') fail('bad-request', '4.00', 'payload is not an object instance');
      instance = n;
    } else if (node.kind === 'object') {
      if (node.instances.length !== 1) fail('bad-request', '4.00', 'Create takes exactly one instance');
      instance = node.instances[0]!;
    } else if (node.kind === 'objectInstance') {
      instance = node;
    } else {
      return fail('bad-request', '4.00', 'payload is not an object instance');
    }
    if (this.objects.get(oid, instance.id) !== undefined)
      fail('bad-request', '4.00', `/${oid}/${instance.id} exists already`);
    if (!objectDef.multiple && this.objects.instanceIds(oid).length > 0)
      fail('bad-request', '4.00', `object ${oid} is single-instance`);
    const resources: { [rid: number]: ResourceValue } = {};
    for (const r of instance.resources) {
      const def = this.model.getResource(oid, r.id);
      if (def === undefined) fail('not-found', '4.04', `/${oid}/${instance.id}/${r.id} not found`);
      if (isExecutable(def)) fail('bad-request', '4.00', `/${oid}/${instance.id}/${r.id} is executable`);
      resources[r.id] = toResourceValue(valueOfNode(r));
    }
    this.objects.add(oid, instance.id, resources);
    this.emit('changed', [oid, instance.id]);
    this.valueChanged([oid], undefined);
    this.objectsDidChange();
    return {
      code: Code.Created,
      options: [
        { number: OptionNumber.LocationPath, value: String(oid) },
        { number: OptionNumber.LocationPath, value: String(instance.id) },
      ],
    };
  }

  /** Delete (Core §6.3.8): DELETE /o/i. Device (3) and Server (1) instances stay. */
  private async delete(path: Lwm2mPath): Promise<ResponseInit> {
    if (path.length !== 2) fail('not-allowed', '4.05', `Delete on ${pathText(path)} is not allowed`);
    if (path[0] === 1 || path[0] === 3) fail('not-allowed', '4.05', `${pathText(path)} cannot be deleted`);
    this.instanceOrFail(path);
    this.objects.remove(path[0]!, path[1]!);
    this.afterDelete(path);
    return { code: Code.Deleted };
  }

  private afterDelete(path: Lwm2mPath): void {
    this.attributes.removeUnder(path);
    const kept: Observation[] = [];
    const gone: string[] = [path.join('/')];
    for (const o of this.observations) {
      if (isPathPrefix(path, o.path)) {
        this.clearObservationTimers(o);
        if (gone.indexOf(o.pathKey) < 0) gone.push(o.pathKey);
      } else kept.push(o);
    }
    this.observations = kept;
    // observers of the deleted instance and of anything in it learn it from a 4.04 notification, which
    // also ends their observation at the endpoint (RFC 7641 §4.2)
    for (const key of gone) this.endpoint.notify(key);
    this.valueChanged([path[0]!], undefined);
    this.objectsDidChange();
  }

  /** Discover (Core §6.3.4): GET with Accept link-format; attributes as written, `dim`, object `ver`. */
  private discover(path: Lwm2mPath): ResponseInit {
    if (path.length === 0 || path.length > 3)
      fail('not-allowed', '4.05', `Discover on ${pathText(path)} is not allowed`);
    const oid = path[0]!;
    if (!this.objects.hasObject(oid)) fail('not-found', '4.04', `object ${oid} not found`);
    const links: Lwm2mLink[] = [];
    const attrs = (p: Lwm2mPath) => this.attributes.get(p) ?? {};
    const addResources = (entry: InstanceEntry, only?: number) => {
      for (const rid of this.objects.resourceIds(entry)) {
        if (only !== undefined && rid !== only) continue;
        const p = [oid, entry.id, rid];
        const def = this.model.getResource(oid, rid);
        const v = entry.slots[rid]!.value;
        const a = attrs(p);
        links.push({ path: p, attributes: def?.multiple && Array.isArray(v) ? { dim: v.length, ...a } : a });
      }
    };
    if (path.length === 1) {
      const ver = this.objectVersion(oid);
      links.push({ path: [oid], attributes: ver !== '1.0' ? { ver, ...attrs([oid]) } : attrs([oid]) });
      for (const iid of this.objects.instanceIds(oid)) {
        const entry = this.objects.get(oid, iid)!;
        links.push({ path: [oid, iid], attributes: attrs([oid, iid]) });
        addResources(entry);
      }
    } else {
      const entry = this.instanceOrFail(path);
      if (path.length === 2) {
        links.push({ path: [oid, entry.id], attributes: attrs([oid, entry.id]) });
        addResources(entry);
      } else {
        this.resourceOrFail(path, entry);
        addResources(entry, path[2]);
      }
    }
    return { code: Code.Content, contentFormat: LINK_FORMAT, payload: formatDiscover(links) };
  }

  /** Write-Attributes (Core §6.3.6): PUT with the attributes in the query and no payload. */
  private writeAttributes(req: CoapRequest, path: Lwm2mPath): ResponseInit {
    if (path.length === 0 || path.length > 4)
      fail('not-allowed', '4.05', 'Write-Attributes on / is not allowed');
    if (!this.objects.hasObject(path[0]!)) fail('not-found', '4.04', `${pathText(path)} not found`);
    if (path.length >= 2) {
      const entry = this.instanceOrFail(path);
      if (path.length >= 3) this.resourceOrFail(path, entry);
    }
    this.attributes.set(path, applyAttributeQuery(this.attributes.get(path), req.query, path.length));
    // timers of affected observations follow the new attributes
    for (const o of this.observations) {
      if (!this.observed(o).some((m) => isPathPrefix(path, m.path))) continue;
      this.armPmax(o);
      this.armEpmax(o);
    }
    return { code: Code.Changed };
  }

  /**
   * Read-Composite (Core §6.3.2, Transport §6.3): FETCH / with a SenML path list; with Observe it is
   * Observe-Composite (Core §6.4.3) or its cancellation, and a notification is this read again.
   */
  private async readComposite(req: CoapRequest, notification: boolean): Promise<ResponseInit> {
    if (req.path.length !== 0) fail('not-allowed', '4.05', 'Read-Composite goes to /');
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Read-Composite without Content-Format');
    const paths = decodeCompositePaths(format, req.payload);
    const entries: Lwm2mCompositeEntry[] = [];
    for (const p of paths) {
      if (p.length > 0 && (p[0] === 0 || p[0] === 21)) continue;
      try {
        entries.push({ path: p, node: await this.readNode(p) } as Lwm2mCompositeEntry);
      } catch (e) {
        // Core §6.3.2: paths that do not exist are left out of the response
        if (!(e instanceof Lwm2mClientError) || e.code !== '4.04') throw e;
      }
    }
    const accept = req.accept ?? format;
    const payload = encodeComposite(accept, entries, this.model);
    if (notification) {
      const o = this.findObservation(compositeKey(req));
      if (o?.members !== undefined) notified(o.members, entries);
    } else if (req.observe === 0) this.addCompositeObservation(req, paths, entries);
    else if (req.observe === 1) this.removeObservation(compositeKey(req));
    return { code: Code.Content, contentFormat: accept, payload };
  }

  /** Write-Composite (Core §6.3.3, Transport §6.3): iPATCH / with a SenML payload of resources. */
  private async writeComposite(req: CoapRequest): Promise<ResponseInit> {
    if (req.path.length !== 0) fail('not-allowed', '4.05', 'Write-Composite goes to /');
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Write-Composite without Content-Format');
    const entries = decodeComposite(format, req.payload, this.model);
    const plan: {
      entry: InstanceEntry;
      path: Lwm2mPath;
      def: ResourceDefinition;
      value: Lwm2mValue | ResourceInstanceNode[];
    }[] = [];
    for (const e of entries) {
      const p = e.path;
      if (p.length < 3) fail('bad-request', '4.00', 'Write-Composite writes resources');
      if (p[0] === 0 || p[0] === 21) fail('not-allowed', '4.01', 'Security objects are not accessible');
      const entry = this.instanceOrFail(p);
      const def = this.model.getResource(p[0]!, p[2]!);
      if (def === undefined) fail('not-found', '4.04', `${pathText(p)} not found`);
      if (!isWritable(def)) fail('not-allowed', '4.05', `${pathText(p)} is not writable`);
      let value = valueOfNode(e.node);
      if (p.length === 4)
        value = mergeInstances(entry.slots[def.id]?.value, [e.node as ResourceInstanceNode]);
      plan.push({ entry, path: p.slice(0, 3), def, value });
    }
    for (const w of plan) await this.applyWrite(w.entry, w.path, w.def, w.value);
    return { code: Code.Changed };
  }

  // ================================================================ observe / notify (Core §6.4)

  private isNotification(req: CoapRequest): boolean {
    if (req.method !== Code.GET && req.method !== Code.FETCH) return false;
    for (const o of this.observations) if (o.request === req) return true;
    return false;
  }

  private findObservation(key: string): Observation | undefined {
    for (const o of this.observations) if (o.key === key) return o;
    return undefined;
  }

  private addObservation(req: CoapRequest, path: Lwm2mPath, node: Lwm2mNode): void {
    this.startObservation(
      observationKey(req, path),
      req,
      observedPath(path, node, this.clock.now()),
      undefined,
    );
  }

  /** Observe-Composite (Core §6.4.3): one observation of several paths, keyed by server and path list. */
  private addCompositeObservation(
    req: CoapRequest,
    paths: readonly Lwm2mPath[],
    entries: readonly Lwm2mCompositeEntry[],
  ): void {
    const now = this.clock.now();
    const members: ObservedPath[] = [];
    for (const p of paths) members.push(observedPath(p, entryAt(entries, p)?.node, now));
    this.startObservation(compositeKey(req), req, observedPath([], undefined, now), members);
  }

  private startObservation(
    key: string,
    req: CoapRequest,
    self: ObservedPath,
    members: ObservedPath[] | undefined,
  ): void {
    this.removeObservation(key);
    if (this.observations.length >= this.maxObservations) return;
    const o: Observation = {
      ...self,
      key,
      pathKey: self.path.join('/'),
      request: req,
      members,
      lastSent: this.clock.now(),
      held: false,
      pminTimer: undefined,
      pmaxTimer: undefined,
      epmaxTimer: undefined,
      epminTimer: undefined,
    };
    this.observations.push(o);
    this.armPmax(o);
    this.armEpmax(o);
  }

  private removeObservation(key: string): void {
    for (let i = 0; i < this.observations.length; i++) {
      const o = this.observations[i]!;
      if (o.key === key) {
        this.clearObservationTimers(o);
        this.observations.splice(i, 1);
        return;
      }
    }
  }

  private clearObservationTimers(o: Observation): void {
    if (o.pminTimer !== undefined) this.clock.clearTimeout(o.pminTimer);
    if (o.pmaxTimer !== undefined) this.clock.clearTimeout(o.pmaxTimer);
    if (o.epmaxTimer !== undefined) this.clock.clearTimeout(o.epmaxTimer);
    if (o.epminTimer !== undefined) this.clock.clearTimeout(o.epminTimer);
    o.pminTimer = undefined;
    o.pmaxTimer = undefined;
    o.epmaxTimer = undefined;
    o.epminTimer = undefined;
  }

  /** Observation state lives while the endpoint still has the observer (it drops it on RST / timeout). */
  private alive(o: Observation): boolean {
    if (this.endpoint.observerTotal(o.pathKey, this.observerFilter(o)) > 0) return true;
    this.removeObservation(o.key);
    return false;
  }

  /** A composite observation is one of several FETCH observers of `/`: it is told apart by its request. */
  private observerFilter(o: Observation): ((r: CoapRequest) => boolean) | undefined {
    return o.members === undefined ? undefined : (r) => r === o.request;
  }

  /** The paths an observation evaluates: its members, or itself. */
  private observed(o: Observation): readonly ObservedPath[] {
    return o.members ?? [o];
  }

  private defaults(): NotificationAttributes {
    // Default Minimum / Maximum Period of the Server object (/1/x/2, /1/x/3)
    const pmin = this.serverResource(2);
    const pmax = this.serverResource(3);
    return {
      pmin: typeof pmin === 'number' ? pmin : undefined,
      pmax: typeof pmax === 'number' && pmax > 0 ? pmax : undefined,
    } as NotificationAttributes;
  }

  private armPmax(o: Observation): void {
    if (o.pmaxTimer !== undefined) this.clock.clearTimeout(o.pmaxTimer);
    o.pmaxTimer = undefined;
    // the smallest pmax of the observed paths (a composite notification carries them all)
    let pmax: number | undefined;
    for (const m of this.observed(o)) {
      const a = this.attributes.effective(m.path, this.defaults());
      if (a.pmax === undefined || a.pmax <= 0 || (a.pmin !== undefined && a.pmax < a.pmin)) continue;
      if (pmax === undefined || a.pmax < pmax) pmax = a.pmax;
    }
    if (pmax === undefined) return;
    const due = o.lastSent + pmax * 1000 - this.clock.now();
    o.pmaxTimer = this.clock.setTimeout(
      () => {
        o.pmaxTimer = undefined;
        if (this.alive(o)) this.sendNotification(o, undefined);
      },
      Math.max(0, due),
    );
  }

  /**
   * epmax (Core 1.1 §5.1.2, "Maximum Evaluation Period"): a resource whose value comes from a read callback
   * is read at least every epmax seconds (the smallest of the observed resources'), and a change found is
   * evaluated like a pushed one. Values the application pushes with `set` are evaluated when pushed.
   */
  private armEpmax(o: Observation): void {
    if (o.epmaxTimer !== undefined) this.clock.clearTimeout(o.epmaxTimer);
    o.epmaxTimer = undefined;
    let epmax: number | undefined;
    for (const m of this.observed(o)) {
      if (m.path.length < 3) continue;
      const a = this.attributes.effective(m.path, {});
      if (a.epmax !== undefined && a.epmax > 0 && (epmax === undefined || a.epmax < epmax)) epmax = a.epmax;
    }
    if (epmax === undefined) return;
    o.epmaxTimer = this.clock.setTimeout(() => {
      o.epmaxTimer = undefined;
      if (!this.alive(o)) return;
      this.reevaluate(o, false).then(
        () => {
          if (this.findObservation(o.key) === o) this.armEpmax(o);
        },
        () => undefined,
      );
    }, epmax * 1000);
  }

  /**
   * Reads the observed resources of `o` again and evaluates those whose value changed since their last
   * evaluation (all of them, or only those a too early change left `deferred` by epmin).
   */
  private async reevaluate(o: Observation, deferredOnly: boolean): Promise<void> {
    for (const m of this.observed(o)) {
      if (m.path.length < 3 || (deferredOnly && !m.deferred)) continue;
      m.deferred = false;
      let v: Lwm2mValue | undefined;
      try {
        v = nodeValue(await this.readNode(m.path));
      } catch {
        continue; // gone or unreadable now: nothing to evaluate
      }
      if (v !== undefined && !sameValue(v, m.lastEvaluated) && this.findObservation(o.key) === o)
        this.evaluate(o, m.path, v);
    }
  }

  /** A value at `path` changed: evaluate the observations on it, its ancestors and descendants. */
  private valueChanged(path: Lwm2mPath, value: Lwm2mValue | undefined): void {
    for (const o of this.observations.slice()) this.evaluate(o, path, value);
  }

  /**
   * Evaluates the notification conditions of `o` for a change at `path` (Core §5.1.2 with 1.2's edge):
   * every observed path the change concerns is checked with its own attributes; one that passes makes a
   * notification due once its pmin allows. epmin: a change within epmin of the path's last evaluation is
   * evaluated when epmin has passed, with the value then current.
   */
  private evaluate(o: Observation, path: Lwm2mPath, value: Lwm2mValue | undefined): void {
    const now = this.clock.now();
    /** ms until a notification may go (pmin), -1 while no observed path asks for one */
    let wait = -1;
    let checked = false;
    for (const m of this.observed(o)) {
      if (!isPathPrefix(m.path, path) && !isPathPrefix(path, m.path)) continue;
      if (!checked) {
        if (!this.alive(o)) return;
        checked = true;
      }
      const a = this.attributes.effective(m.path, this.defaults());
      if (m.path.length >= 3 && a.epmin !== undefined && now < m.evaluatedAt + a.epmin * 1000) {
        m.deferred = true;
        this.armEpmin(o, m.evaluatedAt + a.epmin * 1000 - now);
        continue;
      }
      const previous = m.lastEvaluated;
      m.evaluatedAt = now;
      // the value belongs to the observed resource when the change is at that resource
      const own = m.path.length === 3 && path.length === 3 && isPathPrefix(m.path, path) ? value : undefined;
      if (own !== undefined) m.lastEvaluated = own;
      if (!conditionsMet(a, m.path.length, m.lastValue, previous, own)) continue;
      const w = a.pmin !== undefined ? Math.max(0, o.lastSent + a.pmin * 1000 - now) : 0;
      if (wait < 0 || w < wait) wait = w;
    }
    if (wait < 0) return;
    const numeric = o.members === undefined && typeof value === 'number' ? value : undefined;
    if (wait === 0) this.sendNotification(o, numeric);
    else if (o.pminTimer === undefined) {
      o.pminTimer = this.clock.setTimeout(() => {
        o.pminTimer = undefined;
        if (this.alive(o)) this.sendNotification(o, undefined);
      }, wait);
    }
  }

  private armEpmin(o: Observation, delay: number): void {
    if (o.epminTimer !== undefined) return;
    o.epminTimer = this.clock.setTimeout(
      () => {
        o.epminTimer = undefined;
        if (this.alive(o)) this.reevaluate(o, true).catch(() => undefined);
      },
      Math.max(0, delay),
    );
  }

  /** con (1.2, Core §5.1.2): Confirmable when an observed path asks for 1, Non-confirmable when all ask for 0. */
  private confirmable(o: Observation): boolean | undefined {
    let all0 = true;
    for (const m of this.observed(o)) {
      const c = this.attributes.effective(m.path, {}).con;
      if (c === 1) return true;
      if (c !== 0) all0 = false;
    }
    return all0 ? false : undefined;
  }

  private sendNotification(o: Observation, value: number | undefined): void {
    if (o.pminTimer !== undefined) this.clock.clearTimeout(o.pminTimer);
    o.pminTimer = undefined;
    if (this.asleep) {
      // Core §6.5: a sleeping client sends a Registration Update before it notifies
      o.held = true;
      if (value !== undefined) o.lastValue = value;
      void this.triggerUpdate();
      return;
    }
    o.held = false;
    o.lastSent = this.clock.now();
    if (value !== undefined) o.lastValue = value;
    const filter = this.observerFilter(o);
    const confirmable = this.confirmable(o);
    this.endpoint.notify(o.pathKey, {
      ...(filter === undefined ? {} : { filter }),
      ...(confirmable === undefined ? {} : { confirmable }),
    });
    this.armPmax(o);
  }

  // ================================================================ queue mode (Core §6.5)

  /** True while a queue-mode client is quiet. */
  get sleeping(): boolean {
    return this.asleep;
  }

  /** An exchange with the server happened: a queue-mode client stays awake `queueTimeout` more. */
  private activity(): void {
    if (!this.options.queueMode || this.state !== 'registered') return;
    if (this.asleep) {
      this.asleep = false;
      this.emit('awake');
      for (const o of this.observations.slice())
        if (o.held && this.alive(o)) this.sendNotification(o, undefined);
    }
    if (this.sleepTimer !== undefined) this.clock.clearTimeout(this.sleepTimer);
    this.sleepTimer = this.clock.setTimeout(() => {
      this.sleepTimer = undefined;
      if (this.state !== 'registered') return;
      this.asleep = true;
      this.emit('sleeping');
    }, this.options.queueTimeout ?? 93_000);
  }
}

// ================================================================ helpers

function sameValue(a: Lwm2mValue, b: Lwm2mValue | undefined): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (
    typeof a === 'object' &&
    typeof b === 'object' &&
    !(a instanceof Uint8Array) &&
    !(b instanceof Uint8Array)
  ) {
    return a.objectId === b.objectId && a.instanceId === b.instanceId;
  }
  return false;
}

/** The operation a GET (or FETCH, `-Composite`) is, for the `operation` event. */
function readOperation(notification: boolean, observe: number | undefined, kind: '' | '-Composite'): string {
  if (notification) return 'Notify';
  if (observe === 0) return `Observe${kind}`;
  if (observe === 1) return `Cancel Observe${kind}`;
  return `Read${kind}`;
}

function observationKey(req: CoapRequest, path: Lwm2mPath): string {
  return `${peerKey(req.peer)}|${path.join('/')}`;
}

function parseRequestPath(segments: readonly string[]): Lwm2mPath {
  const out: number[] = [];
  for (const s of segments) {
    if (!/^[0-9]{1,5}$/.test(s) || !isValidId(Number(s)))
      fail('not-found', '4.04', `"/${segments.join('/')}" is not an LwM2M path`);
    out.push(Number(s));
  }
  return out;
}

function findInstance(list: readonly ResourceInstanceNode[], id: number): ResourceInstanceNode | undefined {
  for (const ri of list) if (ri.id === id) return ri;
  return undefined;
}

function mergeInstances(
  current: Lwm2mValue | ResourceInstanceNode[] | undefined,
  updates: readonly ResourceInstanceNode[],
): ResourceInstanceNode[] {
  const out: ResourceInstanceNode[] = Array.isArray(current)
    ? (current as ResourceInstanceNode[]).slice()
    : [];
  for (const u of updates) {
    let replaced = false;
    for (let i = 0; i < out.length; i++) {
      if (out[i]!.id === u.id) {
        out[i] = u;
        replaced = true;
      }
    }
    if (!replaced) out.push(u);
  }
  out.sort((a, b) => a.id - b.id);
  return out;
}

/** Maps any error of a request to its response (never throws: bad input is normal input). */
function errorResponse(e: unknown): ResponseInit {
  let code: number = Code.InternalServerError;
  if (e instanceof Lwm2mClientError) code = codeFromText(e.code);
  else if (e instanceof Lwm2mContentError) code = codeFromText(e.responseCode);
  else if (e instanceof Lwm2mPathError || e instanceof Lwm2mValueError) code = Code.BadRequest;
  const message = e instanceof Error ? e.message : '';
  // a short diagnostic payload (RFC 7252 §5.5.2), bounded
  return { code, payload: utf8Encode(message.slice(0, 120)), contentFormat: ContentFormat.TextPlain };
}
