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
  cryptoRandom,
  formatCode,
  type Random,
  systemClock,
} from '@thimble/coap-core';
import type { CryptoProvider } from '@thimble/oscore';
import { BUILTIN_OBJECTS } from '../model/builtin.js';
import type { Lwm2mNode } from '../model/nodes.js';
import { type Lwm2mPath, parseLwm2mPath } from '../model/path.js';
import { type Lwm2mModel, ObjectRegistry } from '../model/registry.js';
import type { Lwm2mValue } from '../model/values.js';
import { Emitter } from '../util/emitter.js';
import {
  type BootstrapOptions,
  type BootstrapState,
  ClientBootstrap,
  type FactoryBootstrap,
  installFactoryBootstrap,
} from './bootstrap/bootstrap.js';
import type { ClientContext } from './context.js';
import { Lwm2mClientError } from './errors.js';
import { AttributeStore } from './objects/attributes.js';
import { ObjectReader } from './objects/reader.js';
import {
  InstanceStore,
  pathText,
  type ResourceInit,
  type ResourceValue,
  toResourceValue,
  toStoredValue,
} from './objects/store.js';
import { NotificationEngine } from './observe/engine.js';
import { DeviceManagementHandler } from './operations/handler.js';
import { openServerEndpoint } from './registration/endpoints.js';
import { RegistrationLinks } from './registration/links.js';
import {
  type Lwm2mVersion,
  type RegistrationState,
  type RetryOptions,
  resolveServerAccounts,
  type ServerAccount,
  ServerConnection,
  type ServerTransportFactory,
} from './registration/servers.js';
import { sendValues } from './send.js';
import {
  type ClientState,
  type ClientStateStore,
  registrationAlive,
  restoreObjects,
  type StoredRegistration,
  snapshotObjects,
} from './state/state.js';
import type { Lwm2mClientEvents, ResourceStream } from './types.js';

export type { Lwm2mVersion, RegistrationState, RetryOptions } from './registration/servers.js';

export interface Lwm2mClientOptions {
  /** Endpoint Client Name (`ep`). */
  readonly endpointName: string;
  /**
   * A CoAP endpoint (bound to a transport) used both ways with every NoSec server (several servers may
   * share it: requests are told apart by the peer's address). Servers with DTLS or OSCORE, and NoSec servers
   * when this is absent, get an endpoint of their own over a transport from `transports`.
   */
  readonly endpoint?: CoapEndpoint;
  /**
   * Opens the transport towards one server (UDP, DTLS PSK): `nodeServerTransports()` from
   * `@thimble/lwm2m/node` on Node, in-memory transports in tests. Needed for `coaps://` and OSCORE servers.
   */
  readonly transports?: ServerTransportFactory;
  /** Crypto for OSCORE (object 21): `nodeCrypto` from `@thimble/oscore/node` on Node. */
  readonly oscoreCrypto?: CryptoProvider;
  /**
   * Where the bootstrap result (objects 0, 1, 21), the registrations and the OSCORE sequence numbers are
   * kept across restarts (`FileClientStateStore` from `@thimble/lwm2m/node`). On `start()` stored Security,
   * Server and OSCORE instances replace the application's, and a stored registration that is still alive
   * is resumed with an Update.
   */
  readonly stateStore?: ClientStateStore;
  /**
   * Enforce Access Control (object 2, Core §7.3.2). Default: when there is more than one server account.
   */
  readonly accessControl?: boolean;
  /**
   * LwM2M server URI, `coap://host:port`. Without Security instances it makes one NoSec server account
   * (with the first Server instance); with Security instances it replaces the first one's URI. Without it,
   * the accounts come from the Security (0) and Server (1) instances alone.
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
  /**
   * Client-initiated bootstrap (Core §6.1): when the objects hold a bootstrap-server account (a Security
   * instance with Bootstrap-Server = true) or `bootstrap.serverUri` names one, and no LwM2M server account
   * (or `bootstrap.always`), `start()` bootstraps first and then registers with the server it was given.
   */
  readonly bootstrap?: BootstrapOptions;
  /** Factory bootstrap (Core §6.1.2): Security / Server / OSCORE instances installed at construction. */
  readonly factoryBootstrap?: FactoryBootstrap;
}

export type { Lwm2mClientEvents, OperationEvent, ResourceStream, StreamedWriteInfo } from './types.js';

/** One server account and its registration, as `servers()` reports it. */
export interface ServerStatus {
  readonly shortServerId: number;
  readonly uri: string;
  readonly state: RegistrationState;
  /** Location path (`/rd/abc`) while registered. */
  readonly location: string | undefined;
  /** The LwM2M version registered with (after any version fallback). */
  readonly version: Lwm2mVersion;
  /** /0/x/2 Security Mode (3 NoSec, 0 PSK); OSCORE is `oscore: true`. */
  readonly securityMode: number;
  readonly oscore: boolean;
}

const DEFAULT_LIFETIME = 86400;

export class Lwm2mClient extends Emitter<Lwm2mClientEvents> {
  readonly endpointName: string;
  /** The highest LwM2M version the client speaks (each server may get a lower one, see `servers()`). */
  readonly version: Lwm2mVersion;
  readonly model: Lwm2mModel;
  private readonly objects: InstanceStore;
  private readonly attributes = new AttributeStore();

  private readonly clock: Clock;
  private readonly random: Random;
  private readonly options: Lwm2mClientOptions;
  private readonly reader: ObjectReader;
  private readonly links: RegistrationLinks;
  /** What the client's parts may ask of it (see `ClientContext`). */
  private readonly context: ClientContext;
  private readonly observe: NotificationEngine;
  private readonly operations: DeviceManagementHandler;

  /** One connection per server account while started. */
  private connections: ServerConnection[] = [];
  private running = false;
  private runGeneration = 0;
  /** True from `start()` until the accounts were set up (registrationState says 'registering'). */
  private starting = false;
  private asleep = false;
  private sleepTimer: ReturnType<Clock['setTimeout']> | undefined;
  private readonly bootstrapper: ClientBootstrap;
  /** A client-initiated bootstrap runs, or gave up (Core §6.1). */
  private bootstrapStatus: 'none' | 'running' | 'failed' = 'none';

  constructor(options: Lwm2mClientOptions) {
    super({ errorEvent: true });
    this.options = options;
    this.endpointName = options.endpointName;
    this.version = options.version ?? '1.1';
    this.model = options.model ?? new ObjectRegistry(BUILTIN_OBJECTS);
    this.objects = new InstanceStore(this.model, options.maxInstances ?? 1024);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
    this.reader = new ObjectReader(this.model, this.objects);
    this.links = new RegistrationLinks(this.model, this.objects, options.objectVersions);
    if (options.factoryBootstrap !== undefined)
      installFactoryBootstrap(this.objects, options.factoryBootstrap);
    this.context = this.makeContext();
    this.bootstrapper = new ClientBootstrap(this.context, options.bootstrap);
    this.observe = new NotificationEngine(this.context, options.maxObservations ?? 64);
    this.operations = new DeviceManagementHandler(this.context, this.observe, this.bootstrapper);
    if (options.endpoint !== undefined) this.operations.route(options.endpoint);
  }

  /** The endpoint given in the options (the NoSec one shared by servers), or undefined. */
  get sharedEndpoint(): CoapEndpoint | undefined {
    return this.options.endpoint;
  }

  /**
   * The endpoint given in the options, else the endpoint of the first server connection. Throws when
   * there is none yet (a client without `endpoint` opens its endpoints on `start()`).
   */
  get endpoint(): CoapEndpoint {
    const ep = this.options.endpoint ?? this.connections[0]?.endpoint;
    if (ep === undefined) throw new Lwm2mClientError('not-registered', '5.00', 'no endpoint before start()');
    return ep;
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
    if (removed) this.operations.afterDelete([objectId, instanceId]);
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
    this.observe.valueChanged(p, Array.isArray(stored) ? undefined : (stored as Lwm2mValue));
  }

  /**
   * Streams Block1 writes of the resource at `path` (`/o/i/r`, an Opaque writable resource) to `stream`
   * block by block (RFC 7959 §2.5) instead of reassembling them. A write that fits one datagram still
   * reaches the resource's `write` callback whole. Streamed blocks must be `application/octet-stream`
   * (or carry no Content-Format); others get 4.15.
   */
  streamWrites(path: string | Lwm2mPath, stream: ResourceStream): this {
    this.operations.streamWrites(path, stream);
    return this;
  }

  /**
   * Registers anew (a fresh Register, Core §6.2.1), as a device does after a reboot: the server drops
   * what it held for the old registration (observations). Only while registered.
   */
  reregister(): void {
    for (const c of this.connections) c.reregister();
  }

  /** The stored value of `/o/i/r` (callbacks are not called), or undefined. */
  get(path: string | Lwm2mPath): ResourceValue | undefined {
    const p = typeof path === 'string' ? parseLwm2mPath(path) : path;
    const slot = this.objects.get(p[0]!, p[1]!)?.slots[p[2]!];
    return slot?.value === undefined ? undefined : toResourceValue(slot.value);
  }

  /** Tells the client that a callback-backed resource changed, so its observers get a notification. */
  changed(path: string | Lwm2mPath): void {
    this.observe.valueChanged(typeof path === 'string' ? parseLwm2mPath(path) : path, undefined);
  }

  // ================================================================ servers and registration (Core §6.2)

  /**
   * Registration state: 'registered' while registered with at least one server, else the most hopeful
   * state of any server ('registering', 'waiting'), 'failed' when every server gave up.
   */
  get registrationState(): RegistrationState {
    if (this.bootstrapStatus === 'running') return 'bootstrapping';
    let best: RegistrationState = this.starting
      ? 'registering'
      : this.bootstrapStatus === 'failed'
        ? 'failed'
        : 'stopped';
    const rank: { [s in RegistrationState]: number } = {
      stopped: 0,
      failed: 1,
      bootstrapping: 2,
      waiting: 2,
      registering: 3,
      registered: 4,
    };
    for (const c of this.connections) if (rank[c.state] > rank[best]) best = c.state;
    return best;
  }

  /** Location path the (first registered) server gave at registration (`/rd/abc`), or undefined. */
  get registrationLocation(): string | undefined {
    for (const c of this.connections) if (c.state === 'registered') return c.locationPath;
    return undefined;
  }

  /** The server accounts and their registrations (empty before `start()`). */
  servers(): ServerStatus[] {
    return this.connections.map((c) => ({
      shortServerId: c.shortServerId,
      uri: c.account.uri,
      state: c.state,
      location: c.state === 'registered' ? c.locationPath : undefined,
      version: c.version,
      securityMode: c.account.securityMode,
      oscore: c.account.oscore !== undefined,
    }));
  }

  /**
   * The LwM2M Server accounts objects 0, 1 and 21 describe now (what `start()` would register with). A
   * client without any needs bootstrapping; one with accounts never bootstraps again (Core §6.1).
   */
  serverAccounts(): ServerAccount[] {
    return resolveServerAccounts(this.objects, this.options.serverUri);
  }

  /** Starts registering with every server account (and keeps the registrations up to date) until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    // stored objects 0 / 1 / 21 first: a device that has server accounts never bootstraps again (Core §6.1)
    const state = this.loadState();
    if (this.bootstrapper.needed(this.options.serverUri !== undefined)) {
      this.bootstrapStatus = 'running';
      this.bootstrapper.begin();
      return;
    }
    void this.startServers(true, state);
  }

  /** Where a bootstrap stands (`idle` when none runs). */
  get bootstrapState(): BootstrapState {
    return this.bootstrapper.current;
  }

  /**
   * Client-initiated bootstrap now (as Execute on /1/x/9, Bootstrap-Request Trigger, does): de-registers
   * when registered, bootstraps, then registers with the bootstrapped servers.
   */
  async bootstrap(): Promise<void> {
    if (!this.bootstrapper.possible())
      throw new Lwm2mClientError('not-found', '4.04', 'no bootstrap-server account');
    await this.stop();
    this.running = true;
    this.bootstrapStatus = 'running';
    this.bootstrapper.begin();
  }

  /** Bootstrap-Finish was accepted: register with the servers objects 0 / 1 / 21 now name. */
  private afterBootstrap(): void {
    if (this.bootstrapStatus !== 'running') return;
    this.bootstrapStatus = 'none';
    this.emit('bootstrapped');
    void this.restartRegistration({ deregister: false });
  }

  /**
   * De-registers (Core §6.2.3) from every server, then stops all timers. The endpoint given in the options
   * stays open; endpoints the client opened are closed. `{ deregister: false }` stops without de-registering
   * (a device going down that resumes its registrations from the state store on the next start).
   */
  async stop(options: { readonly deregister?: boolean } = {}): Promise<void> {
    this.running = false;
    this.starting = false;
    this.runGeneration++;
    this.bootstrapper.stop();
    this.bootstrapStatus = 'none';
    if (this.sleepTimer !== undefined) this.clock.clearTimeout(this.sleepTimer);
    this.sleepTimer = undefined;
    this.asleep = false;
    this.observe.clear();
    await this.stopServers(options.deregister ?? true);
  }

  /**
   * Registers anew with whatever objects 0, 1 and 21 hold now: after Bootstrap-Finish (Core §6.1.7), or
   * after the application changed the server accounts. Open registrations are de-registered first unless
   * `deregister` is false (after a bootstrap they are gone anyway); stored registrations are forgotten and
   * the objects are saved as the new bootstrap result.
   */
  async restartRegistration(options: { readonly deregister?: boolean } = {}): Promise<void> {
    this.runGeneration++;
    await this.stopServers(options.deregister ?? true);
    this.saveState(true);
    this.running = true;
    void this.startServers(false);
  }

  /** Sends a Registration Update now (Core §6.2.2) to every registered server. */
  async triggerUpdate(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.triggerUpdate()));
  }

  private async startServers(resume: boolean, loaded?: ClientState): Promise<void> {
    const gen = ++this.runGeneration;
    this.starting = true;
    const state = resume ? (loaded ?? this.loadState()) : undefined;
    const accounts = resolveServerAccounts(this.objects, this.options.serverUri);
    if (accounts.length === 0) {
      this.starting = false;
      this.emit(
        'error',
        new Lwm2mClientError(
          'not-registered',
          '5.00',
          'no LwM2M Server account: give serverUri or Security and Server instances',
        ),
      );
      return;
    }
    const now = this.clock.now();
    await Promise.all(
      accounts.map(async (account) => {
        let conn: ServerConnection;
        try {
          const { endpoint, owned } = await this.openEndpoint(account);
          if (gen !== this.runGeneration) {
            if (owned) await endpoint.close();
            return;
          }
          conn = new ServerConnection(this.context, account, endpoint, owned);
          this.connections.push(conn);
          this.operations.route(endpoint);
          await conn.resolvePeer();
        } catch (e) {
          if (gen === this.runGeneration) this.emit('error', e as Error, account.shortServerId);
          return;
        }
        if (gen !== this.runGeneration) return;
        const stored: StoredRegistration | undefined = state?.registrations[String(account.shortServerId)];
        conn.start(
          stored !== undefined && stored.uri === account.uri && registrationAlive(stored, now)
            ? stored
            : undefined,
        );
      }),
    );
    if (gen === this.runGeneration) this.starting = false;
  }

  private async stopServers(deregister: boolean): Promise<void> {
    const conns = this.connections;
    this.connections = [];
    await Promise.all(conns.map((c) => c.stop(deregister)));
    for (const c of conns) {
      if (!c.ownsEndpoint) continue;
      this.operations.unroute(c.endpoint);
      await c.endpoint.close();
    }
    // de-registered: forget the registrations (kept when not de-registering, to resume them)
    if (deregister) this.saveState(true);
  }

  /** The endpoint towards one server (see `openServerEndpoint`). */
  private openEndpoint(account: ServerAccount): Promise<{ endpoint: CoapEndpoint; owned: boolean }> {
    const o = this.options;
    return openServerEndpoint(account, {
      endpoint: o.endpoint,
      transports: o.transports,
      oscoreCrypto: o.oscoreCrypto,
      stateStore: o.stateStore,
      clock: this.clock,
      random: this.random,
    });
  }

  private accessControlActive(): boolean {
    if (this.options.accessControl !== undefined) return this.options.accessControl;
    return this.connections.length > 1;
  }

  /** The one `ClientContext` the client hands to its parts (server connections, bootstrap, operations...). */
  private makeContext(): ClientContext {
    const self = this;
    const o = this.options;
    return {
      endpointName: this.endpointName,
      get endpoint(): CoapEndpoint {
        return self.endpoint;
      },
      version: this.version,
      model: this.model,
      objects: this.objects,
      reader: this.reader,
      attributes: this.attributes,
      clock: this.clock,
      random: this.random,
      requestTimeout: o.requestTimeout,
      defaults: {
        lifetime: o.lifetime,
        binding: o.binding,
        queueMode: o.queueMode,
        retry: o.retry,
        requestTimeout: o.requestTimeout,
      },
      get connections(): readonly ServerConnection[] {
        return self.connections;
      },
      get sleeping(): boolean {
        return self.asleep;
      },
      accessControlActive: () => this.accessControlActive(),
      objectVersion: (oid) => this.objectVersion(oid),
      objectsDidChange: () => this.objectsDidChange(),
      activity: () => this.activity(),
      triggerUpdate: () => this.triggerUpdate(),
      bootstrap: () => this.bootstrap(),
      emit: (event, ...args) => this.emit(event, ...args),
      readNode: (p) => this.reader.readNode(p),
      // registration (ConnectionHost)
      registrationLinks: (version) => this.registrationPayload(version),
      serverResource: (account, rid) => {
        const iid = account.serverInstanceId;
        return iid === undefined ? undefined : this.objects.get(1, iid)?.slots[rid]?.value;
      },
      registered: (c) => {
        this.saveState(false);
        this.emit('registered', c.locationPath!, c.shortServerId);
        this.activity();
      },
      updated: (c) => {
        this.saveState(false);
        this.emit('updated', c.shortServerId);
        this.activity();
      },
      deregistered: (c) => this.emit('deregistered', c.shortServerId),
      failed: (c, e) => this.emit('error', e, c.shortServerId),
      versionFallback: (c, from, to, code) => this.emit('versionFallback', from, to, code, c.shortServerId),
      gaveUp: (c) => {
        // Bootstrap on Registration Failure (/1/x/16, default true, Core Appendix E.2)
        const v =
          c.account.serverInstanceId === undefined
            ? undefined
            : this.objects.get(1, c.account.serverInstanceId)?.slots[16]?.value;
        if (v === false) return;
        this.emit('bootstrapRequired', c.shortServerId);
        if (this.running && this.bootstrapStatus !== 'running' && this.bootstrapper.possible()) {
          this.bootstrapStatus = 'running';
          this.bootstrapper.begin();
        }
      },
      // bootstrap (BootstrapHost)
      operation: (operation, path, code, detail) =>
        this.emit('operation', { operation, path, code: formatCode(code), ...(detail ? { detail } : {}) }),
      changed: (p) => this.emit('changed', p),
      removed: (p) => this.operations.afterDelete(p),
      bootstrapStarted: (uri) => this.emit('bootstrapStarted', uri),
      bootstrapSucceeded: () => this.afterBootstrap(),
      bootstrapFailed: (error, retryIn) => {
        this.emit('bootstrapFailed', error, retryIn);
        this.emit('error', error);
        if (retryIn === undefined && this.bootstrapStatus === 'running') this.bootstrapStatus = 'failed';
      },
    };
  }

  // ---------------------------------------------------------------- persistent state

  /** Loads the stored state; stored Security, Server and OSCORE instances replace the application's. */
  private loadState(): ClientState | undefined {
    const store = this.options.stateStore;
    if (store === undefined) return undefined;
    let state: ClientState | undefined;
    try {
      state = store.load();
    } catch (e) {
      this.emit('error', e as Error);
      return undefined;
    }
    if (state?.objects !== undefined && state.objects.length > 0) {
      try {
        restoreObjects(this.objects, state.objects);
      } catch (e) {
        this.emit('error', e as Error);
      }
    }
    return state;
  }

  /** Saves objects 0/1/21 and the live registrations (`clear`: none, e.g. after de-registering). */
  private saveState(clear: boolean): void {
    const store = this.options.stateStore;
    if (store === undefined) return;
    const objects = snapshotObjects(this.objects);
    const registrations: { [ssid: string]: StoredRegistration } = {};
    if (!clear) {
      for (const c of this.connections) {
        if (c.state !== 'registered' || c.location === undefined) continue;
        registrations[String(c.shortServerId)] = {
          uri: c.account.uri,
          location: c.location.slice(),
          lifetime: c.registeredLifetime,
          binding: c.registeredBinding,
          version: c.version,
          at: c.registeredAt,
        };
      }
    }
    try {
      store.save({ format: 1, objects, registrations });
    } catch (e) {
      this.emit('error', e as Error);
    }
  }

  // ---------------------------------------------------------------- registration content

  /** Lifetime in seconds of the first server: /1/x/1 when present, else the option. */
  get lifetime(): number {
    const c = this.connections[0];
    if (c !== undefined) return c.lifetime;
    const ids = this.objects.instanceIds(1);
    const v = ids.length === 0 ? undefined : this.objects.get(1, ids[0]!)?.slots[1]?.value;
    if (typeof v === 'number' && v > 0) return v;
    return this.options.lifetime ?? DEFAULT_LIFETIME;
  }

  /** Registration links: objects and instances, never Security (0) or OSCORE (21) (Core §6.2.1). */
  registrationLinks(): string {
    return this.links.text(this.connections[0]?.version ?? this.version);
  }

  /**
   * The registration links as the bytes of a Register / Update payload, made once and kept until the
   * objects change or another LwM2M version asks for them (see `RegistrationLinks`).
   */
  private registrationPayload(version: Lwm2mVersion): Uint8Array {
    return this.links.payload(version);
  }

  /** The version of an object this device implements (Core §6.2.1 `ver`). */
  objectVersion(objectId: number): string {
    return this.links.objectVersion(objectId);
  }

  private objectsDidChange(): void {
    for (const c of this.connections) c.objectsDidChange();
  }

  // ================================================================ Send (Core §6.4.3)

  /**
   * Sends the values at `paths` to a server (`POST /dp`, SenML CBOR): the one with `shortServerId`, else
   * the first registered one. LwM2M 1.1 and later.
   */
  send(paths: readonly (string | Lwm2mPath)[], shortServerId?: number): Promise<void> {
    return sendValues(this.context, paths, shortServerId);
  }

  // ================================================================ device management (Core §6.3)

  /**
   * Reads the node at a path (1–4 ids), calling read callbacks. Unreadable resources are left out; so are
   * instances `mayRead` refuses in an object-level read (Access Control, Core §7.3.2).
   */
  readNode(path: Lwm2mPath, mayRead?: (objectId: number, instanceId: number) => boolean): Promise<Lwm2mNode> {
    return this.reader.readNode(path, mayRead);
  }

  // ================================================================ observe / notify (Core §6.4)

  // ================================================================ queue mode (Core §6.5)

  /** True while a queue-mode client is quiet. */
  get sleeping(): boolean {
    return this.asleep;
  }

  /** An exchange with the server happened: a queue-mode client stays awake `queueTimeout` more. */
  private activity(): void {
    if (!this.options.queueMode || this.registrationState !== 'registered') return;
    if (this.asleep) {
      this.asleep = false;
      this.emit('awake');
      this.observe.wake();
    }
    if (this.sleepTimer !== undefined) this.clock.clearTimeout(this.sleepTimer);
    this.sleepTimer = this.clock.setTimeout(() => {
      this.sleepTimer = undefined;
      if (this.registrationState !== 'registered') return;
      this.asleep = true;
      this.emit('sleeping');
    }, this.options.queueTimeout ?? 93_000);
  }
}
