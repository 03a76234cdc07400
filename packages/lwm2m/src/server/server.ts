/**
 * The LwM2M server: the Registration interface (`/rd`, LwM2M TS Core 1.1 §6.2, TS Transport 1.1 §6.2),
 * the device-management and information-reporting interfaces towards registered devices (Core §6.3,
 * §6.4) and Send (`/dp`, Core §6.4.6), on a `CoapEndpoint`.
 *
 * `Lwm2mServer` only wires services and delegates to them: registration (handler, authorizer, store),
 * requests (sender, queue mode as its decorator, operations), observation (service, store, streams),
 * Send and OSCORE security. docs/ARCHITECTURE.md ("lwm2m") shows how a Register and a Read flow through.
 */
import {
  type Clock,
  CoapEndpoint,
  type CoapEndpointOptions,
  Code,
  cryptoRandom,
  type Handler,
  type Method,
  type Random,
  type ResponseInit,
  type RouteOptions,
  systemClock,
  type Transport,
} from '@thimble/coap-core';
import type { Lwm2mLink } from '../content/link-format.js';
import type { Lwm2mCompositeEntry } from '../content/senml.js';
import { BUILTIN_OBJECTS } from '../model/builtin.js';
import type { Lwm2mNode, ObjectInstanceNode } from '../model/nodes.js';
import type { Lwm2mPath } from '../model/path.js';
import { type Lwm2mModel, ObjectRegistry } from '../model/registry.js';
import { Emitter } from '../util/emitter.js';
import { Lwm2mServerError } from './errors.js';
import type { ServerCompositeObservation, ServerObservation } from './observation/observation.js';
import { ObservationService } from './observation/service.js';
import { MemoryObservationStore, type ObservationStore } from './observation/store.js';
import { RegistrationAuthorizer } from './registration/authorizer.js';
import { RegistrationHandler } from './registration/handler.js';
import { RegistrationError } from './registration/parse.js';
import { type RegistrationPolicyOptions, resolveRegistrationPolicy } from './registration/policy.js';
import { MemoryRegistrationStore, type Registration, type RegistrationStore } from './registration/store.js';
import { DeviceOperations } from './requests/operations.js';
import { QueueModeSender } from './requests/queue-mode.js';
import { CoapDeviceRequestSender } from './requests/sender.js';
import { OscoreContexts, type ServerOscoreOptions } from './security/oscore.js';
import type { SecurityStore } from './security/types.js';
import { SendHandler } from './send.js';
import { type EventStreamOptions, eventStream } from './streams.js';
import {
  type CompositeNotificationEvent,
  type Lwm2mServerEvents,
  type Lwm2mServerLimits,
  type NotificationEvent,
  type ReadOptions,
  type RequestOptionsBase,
  resolveLimits,
  type SendEvent,
  type WriteAttributesInput,
  type WriteOptions,
} from './types.js';

export {
  ServerCompositeObservation,
  ServerObservation,
} from './observation/observation.js';
export type {
  CompositeNotificationEvent,
  Lwm2mServerEvents,
  Lwm2mServerLimits,
  NotificationEvent,
  ReadOptions,
  RequestOptionsBase,
  SendEvent,
  WriteAttributesInput,
  WriteOptions,
} from './types.js';

/** Options of the endpoint a server builds on its `transport` (its security is the server's to set). */
export type Lwm2mServerEndpointOptions = Omit<CoapEndpointOptions, 'transport' | 'serverSecurity'>;

interface Lwm2mServerCommonOptions {
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
   * OSCORE for the endpoints with OSCORE credentials in `security`: the server builds its endpoint (from
   * `transport`) with an OSCORE layer (contexts built from the store by 'kid') and protects
   * device-management requests to devices that registered with OSCORE. Needs a crypto provider (e.g.
   * `nodeCrypto`). Not with `endpoint`: an endpoint's security is fixed when it is built.
   */
  readonly oscore?: ServerOscoreOptions;
  readonly limits?: Lwm2mServerLimits;
  /**
   * Who may register, update and de-register (issue 15): Update and De-register only from the identity
   * that registered (for NoSec the same address and port, else 4.04); a NoSec Register of a live endpoint
   * name from another IP address → 4.03 unless `allowNoSecTakeover`; Registers rate-limited per source
   * address (4.29); `requireSecurity` refuses NoSec altogether. See `RegistrationPolicyOptions`.
   */
  readonly registrationPolicy?: RegistrationPolicyOptions;
}

/**
 * A server runs on a CoAP endpoint: either the caller's (`endpoint`, which stays the caller's to close),
 * or one the server builds on `transport` (with `endpointOptions`, and the OSCORE layer when `oscore` is
 * set, and the amplification limit of RFC 9175 §2.4 on unless `endpointOptions.amplification` is
 * `false`), which `close()` closes. `endpoint` together with `oscore` is refused (`bad-request`).
 */
export type Lwm2mServerOptions = Lwm2mServerCommonOptions &
  (
    | {
        readonly endpoint: CoapEndpoint;
        readonly transport?: undefined;
        readonly endpointOptions?: undefined;
      }
    | {
        readonly transport: Transport;
        readonly endpointOptions?: Lwm2mServerEndpointOptions;
        readonly endpoint?: undefined;
      }
  );

/** The paths of the server's own interfaces: `addRoute` refuses them. */
const RESERVED = /^\/?(rd|dp)(\/|$)/;

export class Lwm2mServer extends Emitter<Lwm2mServerEvents> {
  readonly endpoint: CoapEndpoint;
  readonly model: Lwm2mModel;
  readonly store: RegistrationStore;
  readonly observationStore: ObservationStore;
  readonly security: SecurityStore | undefined;
  private readonly ownsEndpoint: boolean;
  private readonly registrationHandler: RegistrationHandler;
  private readonly queueMode: QueueModeSender;
  private readonly operations: DeviceOperations;
  private readonly observationService: ObservationService;
  /** Ends of the open `notifications` / `sends` streams (ended when the server closes). */
  private readonly streamEnds: ((error?: Error) => void)[] = [];
  private closed = false;

  constructor(options: Lwm2mServerOptions) {
    super({ errorEvent: true });
    this.model = options.model ?? new ObjectRegistry(BUILTIN_OBJECTS);
    this.store = options.store ?? new MemoryRegistrationStore();
    this.observationStore = options.observationStore ?? new MemoryObservationStore();
    this.security = options.security;
    const clock = options.clock ?? systemClock;
    const random = options.random ?? cryptoRandom();
    const limits = resolveLimits(options.limits);

    // security: OSCORE contexts from the security store, installed when the endpoint is built
    let oscore: OscoreContexts | undefined;
    if (options.oscore !== undefined) {
      if (this.security === undefined)
        throw new Lwm2mServerError('bad-request', 'oscore needs a security store');
      if (options.endpoint !== undefined)
        throw new Lwm2mServerError(
          'bad-request',
          'oscore needs a server that builds its own endpoint: give `transport` instead of `endpoint`',
        );
      oscore = new OscoreContexts(this.security, options.oscore, random);
    }
    if (options.endpoint !== undefined) {
      this.endpoint = options.endpoint;
      this.ownsEndpoint = false;
    } else {
      this.endpoint = new CoapEndpoint({
        clock,
        // RFC 9175 §2.4: no amplification towards unverified (spoofable) sources; endpointOptions may turn it off
        amplification: true,
        ...options.endpointOptions,
        transport: options.transport,
        ...(oscore === undefined ? {} : { serverSecurity: oscore.layer }),
      });
      this.ownsEndpoint = true;
    }

    // requests: CoAP sender, queue mode in front of it, the typed operations on top
    this.queueMode = new QueueModeSender(
      new CoapDeviceRequestSender(this.endpoint, oscore, limits),
      clock,
      limits,
    );
    const registrationOf = (endpoint: string) => this.registrationOrFail(endpoint);
    this.operations = new DeviceOperations(this.queueMode, this.model, registrationOf);

    // observation
    this.observationService = new ObservationService(
      this.queueMode,
      this.store,
      this.observationStore,
      {
        notification: (e) => this.emit('notification', e),
        compositeNotification: (e) => this.emit('compositeNotification', e),
      },
      registrationOf,
      this.model,
      clock,
      limits,
    );

    // registration and Send
    const policy = resolveRegistrationPolicy(options.registrationPolicy);
    const authorizer = new RegistrationAuthorizer(this.security, policy.requireSecurity);
    const queue = this.queueMode;
    const observations = this.observationService;
    this.registrationHandler = new RegistrationHandler(
      this.store,
      authorizer,
      {
        registered: (r, replaced) => {
          if (replaced !== undefined) {
            queue.forget(replaced);
            observations.endAll(replaced.id);
          }
          queue.spoke(r);
          this.emit('registered', r, replaced);
          queue.wake(r.endpoint, r);
        },
        updated: (r, previous) => {
          // an Update may leave queue mode (1.0: a binding without Q)
          if (r.queueMode) queue.spoke(r);
          else queue.forget(r);
          this.emit('updated', r, previous);
          queue.wake(r.endpoint, r);
        },
        deregistered: (r) => {
          queue.forget(r);
          observations.endAll(r.id);
          this.emit('deregistered', r);
          queue.wake(
            r.endpoint,
            undefined,
            () => new Lwm2mServerError('unknown-endpoint', `endpoint "${r.endpoint}" de-registered`),
          );
        },
        expired: (r) => {
          queue.forget(r);
          observations.endAll(r.id);
          this.emit('expired', r);
          queue.wake(
            r.endpoint,
            undefined,
            () => new Lwm2mServerError('unknown-endpoint', `endpoint "${r.endpoint}" expired`),
          );
        },
      },
      clock,
      random,
      limits,
      policy,
    );
    const send = new SendHandler(
      this.registrationHandler,
      authorizer,
      {
        sent: (r, entries) => {
          queue.spoke(r);
          this.emit('send', { registration: r, endpoint: r.endpoint, entries });
        },
      },
      this.model,
      limits,
    );

    // routes: Block1 bodies above the limit are refused by the endpoint (4.13); single datagrams by the handlers
    const ep = this.endpoint;
    const handler = this.registrationHandler;
    const maxBodySize = Math.max(limits.maxPayloadSize, limits.maxSendSize);
    ep.route('POST', '/rd', (req) => guard(() => handler.register(req)), { maxBodySize });
    ep.route('POST', '/rd/:id', (req) => guard(() => handler.update(req)), { maxBodySize });
    ep.route('DELETE', '/rd/:id', (req) => guard(() => handler.deregister(req)));
    ep.route('POST', '/dp', (req) => guard(() => send.send(req)), { maxBodySize });

    this.observationService.resumeStored();
  }

  /** The registration of an endpoint name, if registered. */
  registration(endpoint: string): Registration | undefined {
    return this.store.getByEndpoint(endpoint);
  }

  registrations(): Registration[] {
    return this.store.list();
  }

  /**
   * Serves another CoAP resource on the server's endpoint (e.g. a firmware image for pull updates):
   * `pattern` as `CoapEndpoint.route` takes it. The server's own `/rd` and `/dp` are refused (`bad-request`).
   */
  addRoute(
    method: Method | readonly Method[],
    pattern: string,
    handler: Handler,
    options?: RouteOptions,
  ): void {
    if (RESERVED.test(pattern))
      throw new Lwm2mServerError('bad-request', `${pattern} belongs to the LwM2M server's interfaces`);
    this.endpoint.route(method, pattern, handler, options);
  }

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

  /**
   * Stops expiry, ends the streams and the observations (passively: they stay in the `observationStore`,
   * for a server that starts again on it) and fails the requests waiting for queue-mode devices. The
   * endpoint the server built from `transport` is closed too (the returned promise); the caller's
   * `endpoint` stays the caller's to close.
   */
  close(): Promise<void> {
    this.closed = true;
    for (const end of this.streamEnds.slice()) end();
    this.registrationHandler.close();
    this.observationService.close();
    this.queueMode.close();
    return this.ownsEndpoint ? this.endpoint.close() : Promise.resolve();
  }

  private registrationOrFail(endpoint: string): Registration {
    if (this.closed) throw new Lwm2mServerError('closed', 'the server is closed');
    const r = this.store.getByEndpoint(endpoint);
    if (r === undefined)
      throw new Lwm2mServerError('unknown-endpoint', `endpoint "${endpoint}" is not registered`);
    return r;
  }

  // ================================================================ device management (Core §6.3)

  /** Read (Core §6.3.1): the node at `path`, decoded. */
  read(endpoint: string, path: string | Lwm2mPath, options?: ReadOptions): Promise<Lwm2mNode> {
    return this.operations.read(endpoint, path, options);
  }

  /** Write (Core §6.3.3): replace with PUT (default) or partial update with POST. */
  write(endpoint: string, path: string | Lwm2mPath, node: Lwm2mNode, options?: WriteOptions): Promise<void> {
    return this.operations.write(endpoint, path, node, options);
  }

  /** Execute (Core §6.3.5) with optional arguments (Core §5.4.2 syntax, sent as given). */
  execute(
    endpoint: string,
    path: string | Lwm2mPath,
    args?: string,
    options?: RequestOptionsBase,
  ): Promise<void> {
    return this.operations.execute(endpoint, path, args, options);
  }

  /**
   * Create (Core §6.3.7): POST on the object with the new instance. Returns the created instance id
   * (from the Location-Path when the device sends one, else the instance's own id).
   */
  create(
    endpoint: string,
    objectPath: string | Lwm2mPath,
    instance: ObjectInstanceNode,
    options?: ReadOptions,
  ): Promise<number> {
    return this.operations.create(endpoint, objectPath, instance, options);
  }

  /** Delete (Core §6.3.8). */
  delete(endpoint: string, path: string | Lwm2mPath, options?: RequestOptionsBase): Promise<void> {
    return this.operations.delete(endpoint, path, options);
  }

  /** Discover (Core §6.3.4): links with their attributes. */
  discover(endpoint: string, path: string | Lwm2mPath, options?: RequestOptionsBase): Promise<Lwm2mLink[]> {
    return this.operations.discover(endpoint, path, options);
  }

  /** Write-Attributes (Core §6.3.2, §5.1.2): notification attributes as query parameters; `null` clears. */
  writeAttributes(
    endpoint: string,
    path: string | Lwm2mPath,
    attributes: WriteAttributesInput,
    options?: RequestOptionsBase,
  ): Promise<void> {
    return this.operations.writeAttributes(endpoint, path, attributes, options);
  }

  /** Read-Composite (Core §6.3.6, 1.1+): FETCH on / with the path list; one entry per path with values. */
  readComposite(
    endpoint: string,
    paths: readonly (string | Lwm2mPath)[],
    options?: ReadOptions,
  ): Promise<Lwm2mCompositeEntry[]> {
    return this.operations.readComposite(endpoint, paths, options);
  }

  /** Write-Composite (Core §6.3.3, 1.1+): iPATCH on / with SenML values for several paths. */
  writeComposite(
    endpoint: string,
    entries: readonly Lwm2mCompositeEntry[],
    options?: ReadOptions,
  ): Promise<void> {
    return this.operations.writeComposite(endpoint, entries, options);
  }

  // ================================================================ information reporting (Core §6.4)

  /** Observe (Core §6.4.1): resolves with the observation once the device sent the current value. */
  observe(endpoint: string, path: string | Lwm2mPath, options?: ReadOptions): Promise<ServerObservation> {
    return this.observationService.observe(endpoint, path, options);
  }

  /**
   * Observe-Composite (Core §6.4.3, 1.1+; Transport §6.4): FETCH on / with Observe and the SenML path list.
   * Resolves once the device sent the current values; every notification carries the values of all the
   * paths (as `readComposite` returns them), as `notification` events of the observation and
   * `compositeNotification` events of the server.
   */
  observeComposite(
    endpoint: string,
    paths: readonly (string | Lwm2mPath)[],
    options?: ReadOptions,
  ): Promise<ServerCompositeObservation> {
    return this.observationService.observeComposite(endpoint, paths, options);
  }

  /** Observations of one path currently held for an endpoint (all of them without an endpoint). */
  observationsOf(endpoint?: string): ServerObservation[] {
    return this.observationService.observationsOf(endpoint);
  }

  /** Observe-Composite observations currently held for an endpoint (all of them without an endpoint). */
  compositeObservationsOf(endpoint?: string): ServerCompositeObservation[] {
    return this.observationService.compositeObservationsOf(endpoint);
  }

  /** Cancel Observation (Core §6.4.2): cancels every observation of `path` on the endpoint; returns how many. */
  cancelObserve(endpoint: string, path: string | Lwm2mPath): Promise<number> {
    return this.observationService.cancelObserve(endpoint, path);
  }

  /**
   * Cancel Observation-Composite (Core §6.4.4, Transport §6.4: FETCH with Observe=1 and the path list):
   * cancels every composite observation of exactly these paths (in any order); returns how many.
   */
  cancelObserveComposite(endpoint: string, paths: readonly (string | Lwm2mPath)[]): Promise<number> {
    return this.observationService.cancelObserveComposite(endpoint, paths);
  }
}

/** Bad input is normal input: validation errors answer 4.00 with a diagnostic, nothing escapes. */
function guard(f: () => ResponseInit): ResponseInit {
  try {
    return f();
  } catch (e) {
    if (e instanceof RegistrationError) return { code: Code.BadRequest, payload: e.message };
    if (e instanceof Lwm2mServerError && e.reason === 'limit')
      return { code: Code.ServiceUnavailable, payload: e.message };
    return { code: Code.InternalServerError, payload: 'internal error' };
  }
}
