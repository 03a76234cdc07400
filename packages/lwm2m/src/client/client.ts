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
  CoapStatusError,
  Code,
  ContentFormat,
  cryptoRandom,
  formatCode,
  OptionNumber,
  type Peer,
  peerKey,
  type Random,
  type ResponseInit,
  systemClock,
  utf8Encode,
} from '@thimble/coap-core';
import { type CryptoProvider, OSCORE_KIND } from '@thimble/oscore';
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
import {
  isExecutable,
  isReadable,
  isWritable,
  type ObjectDefinition,
  type ResourceDefinition,
} from '../model/definitions.js';
import type { Lwm2mNode, ObjectInstanceNode, ResourceInstanceNode, ResourceNode } from '../model/nodes.js';
import { isPathPrefix, isValidId, type Lwm2mPath, Lwm2mPathError, parseLwm2mPath } from '../model/path.js';
import { type Lwm2mModel, ObjectRegistry } from '../model/registry.js';
import { type Lwm2mValue, Lwm2mValueError } from '../model/values.js';
import { Emitter } from '../util/emitter.js';
import {
  type BootstrapOptions,
  type BootstrapState,
  ClientBootstrap,
  type FactoryBootstrap,
  installFactoryBootstrap,
} from './bootstrap/bootstrap.js';
import { codeFromText, Lwm2mClientError } from './errors.js';
import {
  type AccessOperation,
  aclAfterCreate,
  aclAfterDelete,
  checkAccess,
  mayRead,
} from './objects/access-control.js';
import {
  AttributeStore,
  applyAttributeQuery,
  conditionsMet,
  type NotificationAttributes,
} from './objects/attributes.js';
import {
  compositeKey,
  entryAt,
  nodeValue,
  notified,
  type ObservedPath,
  observedPath,
} from './objects/composite.js';
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
} from './objects/store.js';
import { openServerEndpoint } from './registration/endpoints.js';
import {
  type ConnectionHost,
  type Lwm2mVersion,
  type RegistrationState,
  type RetryOptions,
  resolveServerAccounts,
  type ServerAccount,
  ServerConnection,
  type ServerTransportFactory,
} from './registration/servers.js';
import {
  type ClientState,
  type ClientStateStore,
  registrationAlive,
  restoreObjects,
  type StoredRegistration,
  snapshotObjects,
} from './state/state.js';

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

/** What a streamed write's block comes with (see `Lwm2mClient.streamWrites`). */
export interface StreamedWriteInfo {
  /** PUT (replace) or POST. */
  readonly method: 'PUT' | 'POST';
  readonly contentFormat: number | undefined;
  /** Size1 of the first block: the whole body's size, when the server said it (RFC 7959 §4). */
  readonly size: number | undefined;
  readonly peer: Peer;
}

/**
 * A resource that takes Block1 writes block by block instead of reassembled (e.g. the Package resource
 * /5/0/0 of Firmware Update): the image never sits whole in memory.
 */
export interface ResourceStream {
  /**
   * One block of a Block1 Write, in order: `offset` 0 starts a transfer (a new one replaces an unfinished
   * one), `more` false ends it. Resolving answers 2.31 Continue (2.04 Changed after the last block);
   * throwing an `Lwm2mClientError` answers its code (e.g. 4.13 when out of space) and ends the transfer.
   */
  block(chunk: Uint8Array, offset: number, more: boolean, info: StreamedWriteInfo): void | Promise<void>;
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
  /** Registered with one server (its Short Server ID second). */
  registered: (location: string, shortServerId: number) => void;
  updated: (shortServerId: number) => void;
  deregistered: (shortServerId: number) => void;
  /** Queue mode: the client went quiet / woke up with an Update (Core §6.5). */
  sleeping: () => void;
  awake: () => void;
  /**
   * A server's registration failed for good (retries exhausted) and its Server instance asks for a
   * bootstrap then (/1/x/16 Bootstrap on Registration Failure, true by default): the bootstrap code
   * listens to this.
   */
  bootstrapRequired: (shortServerId: number) => void;
  /** Errors of registration (with the server's Short Server ID) and of the client. */
  error: (error: Error, shortServerId?: number) => void;
  operation: (event: OperationEvent) => void;
  /** Written by the server (Write, Create, Write-Composite): path of the changed resource or instance. */
  changed: (path: Lwm2mPath) => void;
  /** A Bootstrap-Request goes to the bootstrap server (Core §6.1.3). */
  bootstrapStarted: (serverUri: string) => void;
  /** Bootstrap-Finish accepted: registration with the bootstrapped server follows. */
  bootstrapped: () => void;
  /** A bootstrap failed; the next one starts in `retryIn` ms (undefined: the client gave up). */
  bootstrapFailed: (error: Error, retryIn: number | undefined) => void;
};

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

/**
 * An observation (Core §6.4.1) of one path, itself its only observed path, or an Observe-Composite
 * (Core §6.4.3) of the paths in `members` (its own `path` is then `[]`, the root the FETCH went to).
 */
interface Observation extends ObservedPath {
  readonly key: string;
  readonly pathKey: string;
  readonly request: CoapRequest;
  /** The endpoint the Observe came on, and the server (Short Server ID) that sent it. */
  readonly endpoint: CoapEndpoint;
  readonly shortServerId: number | undefined;
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

/** A few recent entries, searched in order, the oldest replaced when full (no Map: Espruino). */
class RecentEntries<T> {
  private readonly entries: T[] = [];
  private next = 0;
  constructor(private readonly max: number) {}

  find(match: (e: T) => boolean): T | undefined {
    for (let i = 0; i < this.entries.length; i++) if (match(this.entries[i]!)) return this.entries[i];
    return undefined;
  }

  /** Puts `e` in the place of the entry `same` picks, else adds it (in the oldest's place when full). */
  remember(e: T, same: (o: T) => boolean): void {
    for (let i = 0; i < this.entries.length; i++) {
      if (same(this.entries[i]!)) {
        this.entries[i] = e;
        return;
      }
    }
    if (this.entries.length < this.max) this.entries.push(e);
    else {
      this.entries[this.next] = e;
      this.next = (this.next + 1) % this.max;
    }
  }
}

type LinksPayload = { readonly text: string; readonly bytes: Uint8Array };

/**
 * The UTF-8 bytes of registration link payloads, shared by every client of the process that registers the
 * same links (the devices of a fleet). The bytes are only ever read (copied into the CoAP message).
 */
const LINK_BYTES = new RecentEntries<LinksPayload>(8);

/** The shared entry for `text` (its string is shared too: a device keeps no copy of its own). */
function sharedLinks(text: string): LinksPayload {
  const found = LINK_BYTES.find((e) => e.text === text);
  if (found !== undefined) return found;
  const e = { text, bytes: utf8Encode(text) };
  LINK_BYTES.remember(e, () => false);
  return e;
}

/**
 * Registration links by the shape of the objects (`InstanceStore.shape`), the model and the LwM2M version:
 * the devices of a fleet build the same objects in the same order, so all but the first find their links
 * here instead of listing and formatting them. Each entry keeps the definitions of the objects it lists
 * and is used only while the model still has those (a model may get a newer version of an object).
 */
interface ShapeLinks {
  readonly model: Lwm2mModel;
  readonly version: Lwm2mVersion;
  readonly shape: string;
  readonly definitions: readonly (ObjectDefinition | undefined)[];
  readonly objectIds: readonly number[];
  readonly links: LinksPayload;
}
const SHAPE_LINKS = new RecentEntries<ShapeLinks>(8);

function findShapeLinks(model: Lwm2mModel, version: Lwm2mVersion, shape: string): LinksPayload | undefined {
  const e = SHAPE_LINKS.find((o) => o.model === model && o.version === version && o.shape === shape);
  if (e === undefined) return undefined;
  for (let k = 0; k < e.objectIds.length; k++)
    if (model.getObject(e.objectIds[k]!) !== e.definitions[k]) return undefined;
  return e.links;
}

function rememberShapeLinks(
  model: Lwm2mModel,
  version: Lwm2mVersion,
  shape: string,
  objectIds: readonly number[],
  links: LinksPayload,
): void {
  const definitions = objectIds.map((id) => model.getObject(id));
  // an entry for the same shape is outdated (the model changed since): replaced
  SHAPE_LINKS.remember(
    { model, version, shape, definitions, objectIds, links },
    (o) => o.model === model && o.version === version && o.shape === shape,
  );
}

const isPromise = <T>(v: MaybePromise<T>): v is Promise<T> =>
  v !== null && typeof v === 'object' && typeof (v as Promise<T>).then === 'function';

function fail(
  reason: ConstructorParameters<typeof Lwm2mClientError>[0],
  code: ConstructorParameters<typeof Lwm2mClientError>[1],
  message: string,
): never {
  throw new Lwm2mClientError(reason, code, message);
}

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
  private readonly maxObservations: number;
  private observations: Observation[] = [];

  /** One connection per server account while started. */
  private connections: ServerConnection[] = [];
  /** Endpoints whose routes lead to this client. */
  private routed: CoapEndpoint[] = [];
  private running = false;
  private runGeneration = 0;
  /** True from `start()` until the accounts were set up (registrationState says 'registering'). */
  private starting = false;
  private readonly host: ConnectionHost;
  /** The registration links last made (see `registrationPayload`). */
  private linksCache:
    | {
        revision: number;
        version: Lwm2mVersion;
        links: LinksPayload;
      }
    | undefined;
  private asleep = false;
  private sleepTimer: ReturnType<Clock['setTimeout']> | undefined;
  private readonly bootstrapper: ClientBootstrap;
  /** A client-initiated bootstrap runs, or gave up (Core §6.1). */
  private bootstrapStatus: 'none' | 'running' | 'failed' = 'none';
  /** Paths (`5/0/0`) whose Block1 writes are streamed (see `streamWrites`). */
  private readonly streams: { [path: string]: ResourceStream | undefined } = {};

  constructor(options: Lwm2mClientOptions) {
    super();
    this.options = options;
    this.endpointName = options.endpointName;
    this.version = options.version ?? '1.1';
    this.model = options.model ?? new ObjectRegistry(BUILTIN_OBJECTS);
    this.objects = new InstanceStore(this.model, options.maxInstances ?? 1024);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
    this.maxObservations = options.maxObservations ?? 64;
    const self = this;
    if (options.factoryBootstrap !== undefined)
      installFactoryBootstrap(this.objects, options.factoryBootstrap);
    this.bootstrapper = new ClientBootstrap(
      {
        endpointName: this.endpointName,
        get endpoint(): CoapEndpoint {
          return self.endpoint;
        },
        version: this.version,
        model: this.model,
        objects: this.objects,
        clock: this.clock,
        random: this.random,
        requestTimeout: options.requestTimeout,
        objectVersion: (oid) => this.objectVersion(oid),
        readNode: (p) => this.readNode(p),
        operation: (operation, path, code, detail) =>
          this.emit('operation', { operation, path, code: formatCode(code), ...(detail ? { detail } : {}) }),
        changed: (p) => this.emit('changed', p),
        removed: (p) => this.afterDelete(p),
        started: (uri) => this.emit('bootstrapStarted', uri),
        succeeded: () => this.afterBootstrap(),
        failedOnce: (error, retryIn) => {
          this.emit('bootstrapFailed', error, retryIn);
          this.emit('error', error);
          if (retryIn === undefined && this.bootstrapStatus === 'running') this.bootstrapStatus = 'failed';
        },
      },
      options.bootstrap,
    );
    this.host = this.connectionHost();
    if (options.endpoint !== undefined) this.route(options.endpoint);
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

  /**
   * Streams Block1 writes of the resource at `path` (`/o/i/r`, an Opaque writable resource) to `stream`
   * block by block (RFC 7959 §2.5) instead of reassembling them. A write that fits one datagram still
   * reaches the resource's `write` callback whole. Streamed blocks must be `application/octet-stream`
   * (or carry no Content-Format); others get 4.15.
   */
  streamWrites(path: string | Lwm2mPath, stream: ResourceStream): this {
    const p = typeof path === 'string' ? parseLwm2mPath(path) : path;
    if (p.length !== 3)
      throw new Lwm2mClientError('bad-request', '4.00', `streamWrites needs /o/i/r, got ${pathText(p)}`);
    const def = this.model.getResource(p[0]!, p[2]!);
    if (def === undefined || !isWritable(def) || def.type !== 'Opaque' || def.multiple)
      throw new Lwm2mClientError(
        'bad-request',
        '4.00',
        `${pathText(p)} is not a single writable Opaque resource`,
      );
    const key = p.join('/');
    const fresh = this.streams[key] === undefined;
    this.streams[key] = stream;
    if (!fresh) return this;
    for (const ep of this.routed) this.routeStream(ep, p);
    return this;
  }

  /** The routes of one streamed resource on one endpoint (see `streamWrites`). */
  private routeStream(ep: CoapEndpoint, p: Lwm2mPath): void {
    // a literal route wins over /:o/:i/:r for this one path (PUT / POST stream, the rest as usual)
    const key = p.join('/');
    const handler = (req: CoapRequest) => this.handle(req, ep);
    ep.route(['GET', 'DELETE'], `/${key}`, handler, { observable: true });
    ep.route(['PUT', 'POST'], `/${key}`, handler, {
      blockSink: (req, chunk, offset, more) => this.streamBlock(req, p, chunk, offset, more),
    });
  }

  private streamBlock(
    req: CoapRequest,
    path: Lwm2mPath,
    chunk: Uint8Array,
    offset: number,
    more: boolean,
  ): void | Promise<void> {
    this.activity();
    const refuse = (e: unknown): never => {
      const r = errorResponse(e);
      this.emit('operation', {
        operation: 'Write',
        path: pathText(path),
        code: formatCode(r.code),
        detail: e instanceof Error ? e.message : String(e),
      });
      throw new CoapStatusError(r.code, e instanceof Error ? e.message : String(e));
    };
    try {
      const stream = this.streams[path.join('/')];
      if (stream === undefined) fail('not-found', '4.04', `${pathText(path)} not found`);
      this.instanceOrFail(path);
      const format = req.contentFormat;
      if (format !== undefined && format !== ContentFormat.OctetStream)
        fail('unsupported-format', '4.15', 'a streamed write must be application/octet-stream');
      const r = stream.block(chunk, offset, more, {
        method: req.method === Code.POST ? 'POST' : 'PUT',
        contentFormat: format,
        size: req.message.getUint(OptionNumber.Size1),
        peer: req.peer,
      });
      if (isPromise(r)) return r.then(undefined, refuse);
    } catch (e) {
      refuse(e);
    }
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
    this.valueChanged(typeof path === 'string' ? parseLwm2mPath(path) : path, undefined);
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
    for (const o of this.observations) this.clearObservationTimers(o);
    this.observations = [];
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
          conn = new ServerConnection(this.host, account, endpoint, owned);
          this.connections.push(conn);
          this.route(endpoint);
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
      const i = this.routed.indexOf(c.endpoint);
      if (i >= 0) this.routed.splice(i, 1);
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

  /** Installs the device-management routes on an endpoint (once). */
  private route(ep: CoapEndpoint): void {
    if (this.routed.indexOf(ep) >= 0) return;
    this.routed.push(ep);
    this.installRoutes(ep);
  }

  /**
   * The server a request comes from: the one whose own endpoint (DTLS session, OSCORE context) it came on,
   * or on a shared endpoint the one at the peer's address. Undefined for an unknown peer.
   */
  private connectionFor(ep: CoapEndpoint, peer: Peer): ServerConnection | undefined {
    let match: ServerConnection | undefined;
    for (const c of this.connections) {
      if (c.endpoint !== ep) continue;
      if (c.ownsEndpoint || c.isPeer(peer)) {
        if (match !== undefined) return c.isPeer(peer) ? c : match;
        match = c;
      }
    }
    return match;
  }

  private accessControlActive(): boolean {
    if (this.options.accessControl !== undefined) return this.options.accessControl;
    return this.connections.length > 1;
  }

  private connectionHost(): ConnectionHost {
    const o = this.options;
    return {
      endpointName: this.endpointName,
      clock: this.clock,
      random: this.random,
      version: this.version,
      defaults: {
        lifetime: o.lifetime,
        binding: o.binding,
        queueMode: o.queueMode,
        retry: o.retry,
        requestTimeout: o.requestTimeout,
      },
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
    return this.registrationLinksFor(this.connections[0]?.version ?? this.version);
  }

  /**
   * The registration links as text and as the bytes of a Register / Update payload, made once and kept
   * until the objects change (`InstanceStore.revision`) or another LwM2M version asks for them (the
   * content formats are listed from 1.1 on). A device registers, re-registers and updates with the same
   * links, so this is usually one formatting and one UTF-8 encoding per device.
   */
  private registrationPayload(version: Lwm2mVersion): Uint8Array {
    return this.linksOf(version).bytes;
  }

  private registrationLinksFor(version: Lwm2mVersion): string {
    return this.linksOf(version).text;
  }

  /**
   * The links of this client's objects, from its own cache, else from the clients with the same model,
   * objects and instances (`InstanceStore.shape`), else formatted.
   */
  private linksOf(version: Lwm2mVersion): LinksPayload {
    const c = this.linksCache;
    if (c !== undefined && c.revision === this.objects.revision && c.version === version) return c.links;
    const revision = this.objects.revision;
    // object versions given in the options are this client's own: no sharing then
    const shape = this.options.objectVersions === undefined ? this.objects.shape : undefined;
    let links = shape === undefined ? undefined : findShapeLinks(this.model, version, shape);
    if (links === undefined) {
      links = sharedLinks(this.formatLinks(version));
      if (shape !== undefined)
        rememberShapeLinks(this.model, version, shape, this.objects.objectIds(), links);
    }
    this.linksCache = { revision, version, links };
    return links;
  }

  private formatLinks(version: Lwm2mVersion): string {
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
      contentFormats: version === '1.0' ? [] : SUPPORTED_FORMATS,
      objects,
    });
  }

  /** The version of an object this device implements (Core §6.2.1 `ver`). */
  objectVersion(objectId: number): string {
    return this.options.objectVersions?.[objectId] ?? this.model.getObject(objectId)?.version ?? '1.0';
  }

  private objectsDidChange(): void {
    for (const c of this.connections) c.objectsDidChange();
  }

  /** The Server (1) instance with /1/x/0 = `shortServerId` (else the first one, for a lone server). */
  private serverInstanceOf(shortServerId: number | undefined): InstanceEntry | undefined {
    const ids = this.objects.instanceIds(1);
    for (const id of ids) {
      const e = this.objects.get(1, id)!;
      if (shortServerId !== undefined && e.slots[0]?.value === shortServerId) return e;
    }
    return ids.length === 0 ? undefined : this.objects.get(1, ids[0]!);
  }

  // ================================================================ Send (Core §6.4.3)

  /**
   * Sends the values at `paths` to a server (`POST /dp`, SenML CBOR): the one with `shortServerId`, else
   * the first registered one. LwM2M 1.1 and later.
   */
  async send(paths: readonly (string | Lwm2mPath)[], shortServerId?: number): Promise<void> {
    if (this.version === '1.0')
      throw new Lwm2mClientError('not-allowed', '4.05', 'Send needs LwM2M 1.1 or later');
    let conn: ServerConnection | undefined;
    for (const c of this.connections)
      if (c.state === 'registered' && (shortServerId === undefined || c.shortServerId === shortServerId)) {
        conn = c;
        break;
      }
    if (conn === undefined) throw new Lwm2mClientError('not-registered', '5.00', 'not registered');
    if (conn.version === '1.0')
      throw new Lwm2mClientError('not-allowed', '4.05', 'Send needs LwM2M 1.1 or later');
    const entries: Lwm2mCompositeEntry[] = [];
    for (const p of paths) {
      const path = typeof p === 'string' ? parseLwm2mPath(p) : p;
      entries.push({ path, node: await this.readNode(path) } as Lwm2mCompositeEntry);
    }
    const res = await conn.endpoint.request({
      method: 'POST',
      uri: conn.uri(['dp']),
      payload: encodeComposite(SENML_CBOR, entries, this.model),
      contentFormat: SENML_CBOR,
      timeout: this.options.requestTimeout,
    });
    if (res.code !== Code.Changed) {
      throw new Lwm2mClientError('application', '5.00', `Send answered ${formatCode(res.code)}`);
    }
  }

  // ================================================================ device management (Core §6.3)

  private installRoutes(ep: CoapEndpoint): void {
    const handler = (req: CoapRequest) => this.handle(req, ep);
    // observable for Observe-Composite (FETCH with Observe, Transport §6.4)
    ep.route(['FETCH', 'iPATCH', 'GET', 'PUT', 'POST', 'DELETE'], '/', handler, { observable: true });
    // Bootstrap-Finish (Core §6.1, Transport §6.1); the other bootstrap operations come through handle()
    ep.route('POST', '/bs', (req) => this.bootstrapper.finish(req));
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i/:r', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i/:r/:ri', handler, { observable: true });
    for (const key in this.streams)
      if (this.streams[key] !== undefined) this.routeStream(ep, parseLwm2mPath(key));
  }

  private handle(req: CoapRequest, ep: CoapEndpoint): Promise<ResponseInit> {
    const bootstrap = this.bootstrapper.intercept(req);
    if (bootstrap !== undefined) return bootstrap;
    let op = 'request';
    let path: Lwm2mPath = [];
    const notification = this.isNotification(req);
    // the server the request comes from (authenticated by its DTLS session or OSCORE context)
    const conn = this.connectionFor(ep, req.peer);
    const ssid = conn?.shortServerId;
    const acl = this.accessControlActive();
    const via: Via = {
      endpoint: ep,
      shortServerId: ssid,
      mayRead: acl ? (oid, iid) => mayRead(this.objects, ssid, oid, iid) : undefined,
      mayWrite: acl ? (oid, iid) => checkAccess(this.objects, ssid, 'write', oid, iid) : undefined,
    };
    /** Access Control (Core §7.3.2) of an operation on /o or /o/i (a missing instance answers 4.04 later). */
    const guard = (operation: AccessOperation): void => {
      if (!acl || path.length === 0) return;
      const iid = path.length >= 2 ? path[1]! : undefined;
      if (iid !== undefined && this.objects.get(path[0]!, iid) === undefined) return;
      checkAccess(this.objects, ssid, operation, path[0]!, iid);
    };
    const run = async (): Promise<ResponseInit> => {
      path = parseRequestPath(req.path);
      // Core §E.1 / §6.3: the Security (0) and OSCORE (21) objects belong to the Bootstrap interface
      if (path.length > 0 && (path[0] === 0 || path[0] === 21))
        fail('not-allowed', '4.01', 'Security objects are not accessible');
      // a server set up with OSCORE is only heard through it (RFC 8613 §8.2: unprotected → unauthorized)
      if (conn?.account.oscore !== undefined && req.security?.kind !== OSCORE_KIND)
        fail('not-allowed', '4.01', 'this server must use OSCORE');
      switch (req.method) {
        case Code.GET:
          if (req.accept === LINK_FORMAT) {
            op = 'Discover';
            if (path.length >= 2) guard('read');
            return this.discover(path, via);
          }
          op = readOperation(notification, req.observe, '');
          if (path.length >= 2) guard('read');
          return this.read(req, path, notification, via);
        case Code.PUT:
          if (req.payload.length === 0 && req.query.length > 0) {
            op = 'Write-Attributes';
            guard('read');
            return this.writeAttributes(req, path);
          }
          op = 'Write';
          guard('write');
          return this.write(req, path, true);
        case Code.POST:
          if (path.length === 1) {
            op = 'Create';
            guard('create');
            const created = await this.create(req, path);
            // the creating server owns the new instance's Access Control (Core §7.3.2)
            if (acl && ssid !== undefined) aclAfterCreate(this.objects, ssid, path[0]!, createdId(created));
            return created;
          }
          if (path.length === 3) {
            const def = this.model.getResource(path[0]!, path[2]!);
            if (def !== undefined && isExecutable(def)) {
              op = 'Execute';
              guard('execute');
              return this.execute(req, path, def, conn);
            }
          }
          op = 'Write';
          guard('write');
          return this.write(req, path, false);
        case Code.DELETE:
          op = 'Delete';
          guard('delete');
          return this.delete(path);
        case Code.FETCH:
          op = readOperation(notification, req.observe, '-Composite');
          return this.readComposite(req, via, notification);
        case Code.iPATCH:
          op = 'Write-Composite';
          return this.writeComposite(req, via);
      }
      return fail('not-allowed', '4.05', 'method not allowed');
    };
    if (!notification) this.activity();
    return run().then(
      (r) => {
        this.emit('operation', { operation: op, path: pathText(path), code: formatCode(r.code) });
        return r;
      },
      (e: unknown) => {
        const r = errorResponse(e);
        this.emit('operation', {
          operation: op,
          path: req.path.length === 0 ? '/' : `/${req.path.join('/')}`,
          code: formatCode(r.code),
          detail: e instanceof Error ? e.message : String(e),
        });
        return r;
      },
    );
  }

  /**
   * Format for a response: the Accept option, else TLV for 1.0 and SenML CBOR from 1.1 (Core §7.4), by the
   * version registered with the requesting server.
   */
  private responseFormat(req: CoapRequest, via: Via): number {
    if (req.accept !== undefined) return req.accept;
    let version = this.version;
    for (const c of this.connections) if (c.shortServerId === via.shortServerId) version = c.version;
    return version === '1.0' ? TLV : SENML_CBOR;
  }

  private async read(
    req: CoapRequest,
    path: Lwm2mPath,
    notification: boolean,
    via: Via,
  ): Promise<ResponseInit> {
    if (path.length === 0) fail('not-allowed', '4.05', 'Read on / is not an LwM2M operation');
    const node = await this.readNode(path, via.mayRead);
    const format = this.responseFormat(req, via);
    const payload = encodeNode(format, path, node, this.model);
    if (!notification) {
      if (req.observe === 0) this.addObservation(req, path, node, via);
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

  /**
   * Reads the node at a path (1–4 ids), calling read callbacks. Unreadable resources are left out; so are
   * instances `mayRead` refuses in an object-level read (Access Control, Core §7.3.2).
   */
  async readNode(
    path: Lwm2mPath,
    mayRead?: (objectId: number, instanceId: number) => boolean,
  ): Promise<Lwm2mNode> {
    const oid = path[0]!;
    if (path.length === 1) {
      if (!this.objects.hasObject(oid)) fail('not-found', '4.04', `object ${oid} not found`);
      const instances: ObjectInstanceNode[] = [];
      for (const iid of this.objects.instanceIds(oid))
        if (mayRead === undefined || mayRead(oid, iid))
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
    // the blocks of a streamed write went to the resource's stream: the last one arrived and was taken
    if (req.message.hasOption(OptionNumber.Block1) && this.streams[path.join('/')] !== undefined)
      return { code: Code.Changed };
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
    if (path[0] === 1 && (def.id === 1 || def.id === 7))
      for (const c of this.connections) if (c.account.serverInstanceId === path[1]) void c.triggerUpdate();
  }

  /** Execute (Core §6.3.5): POST on an Executable resource, the payload being the arguments text. */
  private async execute(
    req: CoapRequest,
    path: Lwm2mPath,
    def: ResourceDefinition,
    from?: ServerConnection,
  ): Promise<ResponseInit> {
    const entry = this.instanceOrFail(path);
    const args = req.text();
    const slot = entry.slots[def.id];
    const exec = slot?.handler?.execute;
    if (exec === undefined) {
      // Registration Update Trigger (/1/x/8) is the client's own business
      if (path[0] === 1 && def.id === 8) {
        // the Update goes to the server whose Server instance this is (else the requester)
        let target = from;
        for (const c of this.connections) if (c.account.serverInstanceId === path[1]) target = c;
        if (target !== undefined) void target.triggerUpdate();
        return { code: Code.Changed };
      }
      // Bootstrap-Request Trigger (/1/x/9): answer first, then bootstrap
      if (path[0] === 1 && def.id === 9 && this.bootstrapper.possible()) {
        this.clock.setTimeout(() => void this.bootstrap().catch((e: Error) => this.emit('error', e)), 0);
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
    aclAfterDelete(this.objects, path[0]!, path[1]!);
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
    for (const key of gone) for (const ep of this.routed) ep.notify(key);
    this.valueChanged([path[0]!], undefined);
    this.objectsDidChange();
  }

  /** Discover (Core §6.3.4): GET with Accept link-format; attributes as written, `dim`, object `ver`. */
  private discover(path: Lwm2mPath, via: Via): ResponseInit {
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
        if (via.mayRead !== undefined && !via.mayRead(oid, iid)) continue;
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
  private async readComposite(req: CoapRequest, via: Via, notification: boolean): Promise<ResponseInit> {
    if (req.path.length !== 0) fail('not-allowed', '4.05', 'Read-Composite goes to /');
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Read-Composite without Content-Format');
    const paths = decodeCompositePaths(format, req.payload);
    const entries: Lwm2mCompositeEntry[] = [];
    for (const p of paths) {
      if (p.length > 0 && (p[0] === 0 || p[0] === 21)) continue;
      // paths the server may not read are left out like missing ones (Access Control, Core §7.3.2)
      if (p.length >= 2 && via.mayRead !== undefined && !via.mayRead(p[0]!, p[1]!)) continue;
      try {
        entries.push({ path: p, node: await this.readNode(p, via.mayRead) } as Lwm2mCompositeEntry);
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
    } else if (req.observe === 0) this.addCompositeObservation(req, paths, entries, via);
    else if (req.observe === 1) this.removeObservation(compositeKey(req));
    return { code: Code.Content, contentFormat: accept, payload };
  }

  /** Write-Composite (Core §6.3.3, Transport §6.3): iPATCH / with a SenML payload of resources. */
  private async writeComposite(req: CoapRequest, via: Via): Promise<ResponseInit> {
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
      via.mayWrite?.(p[0]!, p[1]!);
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

  private addObservation(req: CoapRequest, path: Lwm2mPath, node: Lwm2mNode, via: Via): void {
    this.startObservation(
      observationKey(req, path),
      req,
      observedPath(path, node, this.clock.now()),
      undefined,
      via,
    );
  }

  /** Observe-Composite (Core §6.4.3): one observation of several paths, keyed by server and path list. */
  private addCompositeObservation(
    req: CoapRequest,
    paths: readonly Lwm2mPath[],
    entries: readonly Lwm2mCompositeEntry[],
    via: Via,
  ): void {
    const now = this.clock.now();
    const members: ObservedPath[] = [];
    for (const p of paths) members.push(observedPath(p, entryAt(entries, p)?.node, now));
    this.startObservation(compositeKey(req), req, observedPath([], undefined, now), members, via);
  }

  private startObservation(
    key: string,
    req: CoapRequest,
    self: ObservedPath,
    members: ObservedPath[] | undefined,
    via: Via,
  ): void {
    this.removeObservation(key);
    if (this.observations.length >= this.maxObservations) return;
    const o: Observation = {
      ...self,
      key,
      pathKey: self.path.join('/'),
      request: req,
      endpoint: via.endpoint,
      shortServerId: via.shortServerId,
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
    if (o.endpoint.observerTotal(o.pathKey, this.observerFilter(o)) > 0) return true;
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

  private defaults(o: Observation): NotificationAttributes {
    // Default Minimum / Maximum Period of the observing server's Server instance (/1/x/2, /1/x/3)
    const server = this.serverInstanceOf(o.shortServerId);
    const pmin = server?.slots[2]?.value;
    const pmax = server?.slots[3]?.value;
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
      const a = this.attributes.effective(m.path, this.defaults(o));
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
      const a = this.attributes.effective(m.path, this.defaults(o));
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
    o.endpoint.notify(o.pathKey, {
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
    if (!this.options.queueMode || this.registrationState !== 'registered') return;
    if (this.asleep) {
      this.asleep = false;
      this.emit('awake');
      for (const o of this.observations.slice())
        if (o.held && this.alive(o)) this.sendNotification(o, undefined);
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

// ================================================================ helpers

/** How a device-management request reached the client: endpoint, server, and its Access Control. */
interface Via {
  readonly endpoint: CoapEndpoint;
  readonly shortServerId: number | undefined;
  /** Access Control: may the server read this instance (undefined: not enforced). */
  readonly mayRead: ((objectId: number, instanceId: number) => boolean) | undefined;
  /** Access Control: throws 4.01 unless the server may write this instance. */
  readonly mayWrite: ((objectId: number, instanceId: number) => void) | undefined;
}

/** The instance id of a Create response's Location-Path (`/o/i`). */
function createdId(r: ResponseInit): number {
  const loc = (r.options ?? []).filter((o) => o.number === OptionNumber.LocationPath);
  return Number(loc[loc.length - 1]?.value);
}

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
