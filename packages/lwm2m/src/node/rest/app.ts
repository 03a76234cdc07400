/**
 * The LwM2M server's REST API on Fastify (Node only): devices, firmware campaigns, bootstrap configurations
 * and credentials, server-sent events, and the OpenAPI document at `/api/openapi.json`. See README.md,
 * "The REST API".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { BootstrapConfigStore } from '../../bootstrap/types.js';
import type { ObjectDefinition } from '../../model/definitions.js';
import { formatLwm2mPath } from '../../model/path.js';
import { type Lwm2mModel, ObjectRegistry } from '../../model/registry.js';
import type { FirmwareEvent, FirmwareService } from '../../server/firmware/types.js';
import type { SecurityStore } from '../../server/security/types.js';
import type { Lwm2mServer, Lwm2mServerEvents } from '../../server/server.js';
import { importOptional } from '../optional.js';
import { clientRoutes, registrationToJson } from './clients.js';
import { consoleRoutes } from './console.js';
import { type ErrorBody, errorResponse } from './errors.js';
import { EventHub, type EventHubOptions } from './events.js';
import { guardOf, guardRestApi, isLoopbackHost, RestApiConfigError } from './guard.js';
import { entriesToJson, nodeToJson } from './json-nodes.js';
import { logRoutes } from './log-routes.js';
import type { CoapMessageLog } from './message-log.js';
import { objectRoutes } from './objects.js';
import { registrationRoutes } from './registrations.js';
import { errors, SHARED_SCHEMAS } from './schemas.js';
import { serviceRoutes } from './services.js';

export interface RestApiOptions {
  readonly server: Lwm2mServer;
  readonly firmware?: FirmwareService;
  readonly bootstrap?: BootstrapConfigStore;
  readonly security?: SecurityStore;
  /**
   * With a token, every request needs `Authorization: Bearer <token>` (else 401). Without one the API
   * answers on loopback only (`startRestApi` refuses another host).
   */
  readonly token?: string;
  /**
   * Names accepted in the Host header besides `localhost`, `127.0.0.1`, `[::1]`, the host the API was started
   * on and the address a connection arrived at (DNS rebinding protection; any port). See guard.ts.
   */
  readonly allowedHosts?: readonly string[];
  /** Origins allowed to call the API from another origin (CORS), e.g. `https://console.example`. */
  readonly corsOrigins?: readonly string[];
  /** Fastify's logger option (default: off). */
  readonly logger?: FastifyServerOptions['logger'];
  /** Server-sent events: heartbeat period and the per-stream buffer bound. */
  readonly events?: EventHubOptions;
  /** Largest firmware image upload, bytes (default 64 MiB). */
  readonly maxImageBytes?: number;
  /** Largest JSON body, bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** A folder with the web console's built files, served at `/` (see `consoleRoutes`). */
  readonly console?: string;
  /**
   * The per-device CoAP message log behind `/api/clients/:endpoint/log` (its `trace` must be the CoAP
   * endpoint's trace hook); without one that route answers 501.
   */
  readonly messageLog?: CoapMessageLog;
}

export interface ListenOptions {
  /** Default 127.0.0.1: the API manages devices, so it is not exposed unless asked. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
}

const STATUS_CODES: { readonly [status: number]: string } = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  406: 'not-acceptable',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  501: 'not-implemented',
  503: 'unavailable',
};

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Builds the API, ready but not listening (use `app.inject` in tests, `startRestApi` or `app.listen` to serve). */
export async function createRestApi(options: RestApiOptions): Promise<FastifyInstance> {
  const { server } = options;
  // optional peer dependencies: a device-only install has neither (see ../optional.ts)
  const { default: Fastify } = await importOptional('fastify', 'createRestApi', () => import('fastify'));
  const { default: swagger } = await importOptional(
    '@fastify/swagger',
    'createRestApi',
    () => import('@fastify/swagger'),
  );
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1 << 20,
    // close() ends every connection: event streams never go idle, and a client may leave a connection open
    // without a request (undici does after an aborted stream), which Node's close() would wait for
    forceCloseConnections: true,
    // a HEAD would run the GET handler: a Read on the device, or an event stream
    exposeHeadRoutes: false,
    // an additional property in a body is an error, not silently dropped
    ajv: { customOptions: { removeAdditional: false, allowUnionTypes: true } },
  });

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Thimble LwM2M server',
        version: '0.1.0',
        description:
          'Devices registered with the LwM2M server, operations on them, firmware campaigns, bootstrap configurations and credentials. ' +
          'Errors are JSON { error, message }. Events: GET /api/events (text/event-stream).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      ...(options.token === undefined ? {} : { security: [{ bearer: [] }] }),
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  // ---- Host allow-list, Origin / CSRF checks and CORS first (a CORS preflight carries no token)
  guardRestApi(app, options);

  // ---- authentication: a bearer token compared in constant time (hashes have the same length)
  if (options.token !== undefined) {
    const expected = digest(options.token);
    app.addHook('onRequest', async (req, reply) => {
      // the console's static files: a browser loads the page before the operator gives the token
      if (req.routeOptions.config.public === true && !req.url.startsWith('/api/')) return;
      const header = req.headers.authorization ?? '';
      const m = /^Bearer +(.+)$/i.exec(header);
      if (m === null || !timingSafeEqual(digest(m[1]!.trim()), expected)) {
        reply.header('www-authenticate', 'Bearer');
        const body: ErrorBody = { error: 'unauthorized', message: 'a bearer token is needed' };
        return reply.code(401).send(body);
      }
    });
  }

  // ---- errors as JSON
  app.setErrorHandler((error: FastifyError, req, reply) => {
    const mapped = errorResponse(error);
    if (mapped !== undefined) return reply.code(mapped.status).send(mapped.body);
    if (error.validation !== undefined)
      return reply.code(400).send({ error: 'bad-request', message: error.message } satisfies ErrorBody);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500)
      return reply
        .code(status)
        .send({ error: STATUS_CODES[status] ?? 'bad-request', message: error.message });
    req.log.error(error);
    return reply.code(500).send({ error: 'internal', message: 'internal error' } satisfies ErrorBody);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: 'not-found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  // ---- events
  const hub = new EventHub(options.events);
  const listeners: Partial<Lwm2mServerEvents> = {
    registered: (r) => hub.publish('registered', registrationToJson(r), r.endpoint),
    updated: (r) => hub.publish('updated', registrationToJson(r), r.endpoint),
    deregistered: (r) => hub.publish('deregistered', registrationToJson(r), r.endpoint),
    expired: (r) => hub.publish('expired', registrationToJson(r), r.endpoint),
    notification: (e) => {
      if (hub.size === 0) return;
      hub.publish(
        'notification',
        { endpoint: e.endpoint, path: formatLwm2mPath(e.path), node: nodeToJson(e.node) },
        e.endpoint,
      );
    },
    compositeNotification: (e) => {
      if (hub.size === 0) return;
      hub.publish(
        'composite-notification',
        { endpoint: e.endpoint, paths: e.paths.map(formatLwm2mPath), entries: entriesToJson(e.entries) },
        e.endpoint,
      );
    },
    send: (e) => {
      if (hub.size === 0) return;
      hub.publish('send', { endpoint: e.endpoint, entries: entriesToJson(e.entries) }, e.endpoint);
    },
  };
  for (const [name, listener] of Object.entries(listeners))
    server.on(name as keyof Lwm2mServerEvents, listener as Lwm2mServerEvents[keyof Lwm2mServerEvents]);
  const unsubscribeFirmware = options.firmware?.subscribe((e: FirmwareEvent) => {
    if (e.type === 'progress') hub.publish('firmware-progress', e, e.endpoint);
    else hub.publish('campaign-finished', e.campaign);
  });
  // open event streams would keep `close()` waiting: end them first
  app.addHook('preClose', async () => hub.close());
  app.addHook('onClose', async () => {
    for (const [name, listener] of Object.entries(listeners))
      server.off(name as keyof Lwm2mServerEvents, listener as Lwm2mServerEvents[keyof Lwm2mServerEvents]);
    unsubscribeFirmware?.();
  });

  app.get<{ Querystring: { endpoint?: string } }>(
    '/api/events',
    {
      schema: {
        summary:
          'Server-sent events: registered, updated, deregistered, expired, notification, composite-notification, send, firmware-progress, campaign-finished (data: JSON)',
        tags: ['events'],
        querystring: {
          type: 'object',
          properties: { endpoint: { type: 'string', maxLength: 128, description: 'only this endpoint' } },
        },
        response: {
          200: { content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errors(400, 401),
        },
      },
    },
    (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(': connected\n\n');
      const remove = hub.add(res, req.query.endpoint === undefined ? {} : { endpoint: req.query.endpoint });
      res.on('close', remove);
    },
  );

  // ---- routes
  clientRoutes(app, server);
  registrationRoutes(app, server, {
    firmware: options.firmware !== undefined,
    bootstrap: options.bootstrap !== undefined,
    security: options.security !== undefined,
    messageLog: options.messageLog !== undefined,
  });
  const detachLog = options.messageLog?.attach(server);
  if (detachLog !== undefined) app.addHook('onClose', async () => detachLog());
  logRoutes(app, options.messageLog);
  objectRoutes(app, server.model);
  serviceRoutes(app, {
    firmware: options.firmware,
    bootstrap: options.bootstrap,
    security: options.security,
    maxImageBytes: options.maxImageBytes ?? 64 << 20,
  });
  app.get(
    '/api/objectspecs',
    {
      schema: {
        summary:
          'The object definitions the server knows (built-in, OMA registry, --models): id, name, version, resources with their types',
        tags: ['meta'],
        response: {
          200: { type: 'array', items: { type: 'object', additionalProperties: true } },
          ...errors(401),
        },
      },
    },
    async () => objectSpecs(server.model),
  );
  app.get(
    '/api/openapi.json',
    {
      schema: {
        summary: 'This document (OpenAPI 3)',
        tags: ['meta'],
        response: { 200: { type: 'object', additionalProperties: true }, ...errors(401) },
      },
    },
    async () => app.swagger(),
  );

  if (options.console !== undefined) consoleRoutes(app, options.console);

  await app.ready();
  return app;
}

/** The definitions of a model that can list them (`ObjectRegistry`), by increasing object id. */
function objectSpecs(model: Lwm2mModel): readonly ObjectDefinition[] {
  return model instanceof ObjectRegistry ? model.list() : [];
}

/**
 * Starts listening (default 127.0.0.1:8080); resolves with the address, e.g. `http://127.0.0.1:8080`. A host
 * other than loopback needs an API built with a token: otherwise it throws `RestApiConfigError`
 * (`token-required`) without listening.
 */
export async function startRestApi(app: FastifyInstance, options: ListenOptions = {}): Promise<string> {
  const host = options.host ?? '127.0.0.1';
  const guard = guardOf(app);
  if (guard !== undefined && !guard.hasToken && !isLoopbackHost(host)) {
    throw new RestApiConfigError(
      'token-required',
      `the REST API needs a token to listen on ${host} (a non-loopback address)`,
    );
  }
  guard?.listeningOn(host);
  return app.listen({ host, port: options.port ?? 8080 });
}
