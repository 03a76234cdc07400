/**
 * `/api/firmware`, `/api/bootstrap` and `/api/security`: thin routes over the `FirmwareService`,
 * `BootstrapConfigStore` and `SecurityStore` contracts. A route whose service was not given answers 501.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { BootstrapConfig, BootstrapConfigStore } from '../../bootstrap/types.js';
import type { CampaignOptions, FirmwareService } from '../../server/firmware/types.js';
import type { EndpointCredentials, SecurityStore } from '../../server/security/types.js';
import { badRequest, HttpError, notFound } from './errors.js';
import { endpointParam, errors, ref } from './schemas.js';

export interface ServiceRouteOptions {
  readonly firmware?: FirmwareService;
  readonly bootstrap?: BootstrapConfigStore;
  readonly security?: SecurityStore;
  /** Largest firmware image accepted, bytes. */
  readonly maxImageBytes: number;
}

function need<T>(service: T | undefined, what: string): T {
  if (service === undefined) throw new HttpError(501, 'not-implemented', `this server has no ${what}`);
  return service;
}

/** A store or service that refused with an `Error`: the caller's request did not fit. */
function refused<T>(status: number, code: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(status, code, (e as Error)?.message ?? String(e));
  }
}

/** The first 8 bytes of the SHA-256 of a hex secret, in hex. */
const fingerprintOf = (hex: string): string =>
  createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 16);

/** Credentials without their secrets (schema `EndpointCredentialsView`): keys are write-only. */
export function credentialsView(c: EndpointCredentials) {
  return {
    endpoint: c.endpoint,
    ...(c.psk === undefined
      ? {}
      : { psk: { identity: c.psk.identity, keyFingerprint: fingerprintOf(c.psk.key) } }),
    // a raw public key is no secret: shown whole
    ...(c.rpk === undefined ? {} : { rpk: { publicKey: c.rpk.publicKey } }),
    ...(c.oscore === undefined
      ? {}
      : {
          oscore: {
            senderId: c.oscore.senderId,
            recipientId: c.oscore.recipientId,
            ...(c.oscore.idContext === undefined ? {} : { idContext: c.oscore.idContext }),
            masterSecretFingerprint: fingerprintOf(c.oscore.masterSecret),
            ...(c.oscore.masterSalt === undefined
              ? {}
              : { masterSaltFingerprint: fingerprintOf(c.oscore.masterSalt) }),
          },
        }),
  };
}

const BINARY_BODY = {
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
};

const byEndpoint = {
  type: 'object',
  required: ['endpoint'],
  properties: { endpoint: endpointParam },
} as const;

export function serviceRoutes(app: FastifyInstance, options: ServiceRouteOptions): void {
  // a scope of their own: only the image upload takes application/octet-stream (elsewhere it is a 415)
  app.register(async (scope) => firmwareRoutes(scope, options));
  firmwareRemovalRoutes(app, options);
  securityRoutes(app, options.security);
  bootstrapRoutes(app, options.bootstrap);
}

function firmwareRoutes(app: FastifyInstance, options: ServiceRouteOptions): void {
  const tags = ['firmware'];
  const firmware = () => need(options.firmware, 'firmware service');
  // image bodies arrive whole (bounded by maxImageBytes); the service gets a plain Uint8Array view of the
  // Buffer (no copy), so `slice()` copies as it does on any Uint8Array (Buffer's would not)
  app.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: options.maxImageBytes },
    (_req, body: Buffer, done) => done(null, new Uint8Array(body.buffer, body.byteOffset, body.length)),
  );

  app.post<{ Querystring: { name?: string }; Body: Uint8Array }>(
    '/api/firmware',
    {
      bodyLimit: options.maxImageBytes,
      config: {
        // the OpenAPI document says what the body is: bytes
        swaggerTransform: ({ schema, url }) => ({ url, schema: { ...schema, body: BINARY_BODY } }),
      },
      schema: {
        summary: 'Upload a firmware image (the raw bytes, application/octet-stream)',
        tags,
        querystring: {
          type: 'object',
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 255, description: 'default "image"' },
          },
        },
        // any bytes: the parsed body is a Buffer, which Ajv's `string` would refuse (see swaggerTransform)
        body: { content: { 'application/octet-stream': { schema: {} } } },
        response: { 201: ref('FirmwareImage'), ...errors(400, 401, 413, 415, 501) },
      },
    },
    async (req, reply) => {
      const service = firmware();
      if (!(req.body instanceof Uint8Array)) throw badRequest('send the image as application/octet-stream');
      if (req.body.length === 0) throw badRequest('the image is empty');
      const info = await service.addImage(req.query.name ?? 'image', req.body);
      return reply.code(201).send(info);
    },
  );

  app.get(
    '/api/firmware',
    {
      schema: {
        summary: 'Firmware images',
        tags,
        response: { 200: { type: 'array', items: ref('FirmwareImage') }, ...errors(401, 501) },
      },
    },
    async () => firmware().images(),
  );

  app.post<{ Body: CampaignOptions }>(
    '/api/firmware/campaigns',
    {
      schema: {
        summary: 'Start a firmware update campaign on some devices (LwM2M object 5, push or pull)',
        tags,
        body: {
          type: 'object',
          required: ['imageId', 'targets', 'method'],
          additionalProperties: false,
          properties: {
            imageId: { type: 'string', minLength: 1 },
            targets: {
              type: 'array',
              minItems: 1,
              maxItems: 100_000,
              uniqueItems: true,
              items: endpointParam,
            },
            method: { type: 'string', enum: ['push', 'pull'] },
            concurrency: { type: 'integer', minimum: 1, maximum: 10_000 },
            retries: { type: 'integer', minimum: 0, maximum: 100 },
            attemptTimeoutMs: { type: 'integer', minimum: 1 },
            packageUri: { type: 'string', minLength: 1, maxLength: 255 },
          },
        },
        response: { 201: ref('Campaign'), ...errors(400, 401, 501) },
      },
    },
    async (req, reply) => {
      const service = firmware();
      const status = refused(400, 'bad-request', () => service.startCampaign(req.body));
      return reply.code(201).send(status);
    },
  );

  app.get(
    '/api/firmware/campaigns',
    {
      schema: {
        summary: 'Firmware campaigns',
        tags,
        response: { 200: { type: 'array', items: ref('Campaign') }, ...errors(401, 501) },
      },
    },
    async () => firmware().campaigns(),
  );

  app.get<{ Params: { id: string } }>(
    '/api/firmware/campaigns/:id',
    {
      schema: {
        summary: 'One firmware campaign and the state of each device',
        tags,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 128 } } },
        response: { 200: ref('Campaign'), ...errors(401, 404, 501) },
      },
    },
    async (req) => {
      const campaign = firmware().campaign(req.params.id);
      if (campaign === undefined) throw notFound(`no campaign "${req.params.id}"`);
      return campaign;
    },
  );
}

function firmwareRemovalRoutes(app: FastifyInstance, options: ServiceRouteOptions): void {
  const tags = ['firmware'];
  const firmware = () => need(options.firmware, 'firmware service');
  const idParams = {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', maxLength: 128 } },
  } as const;
  const optional = <K extends 'cancelCampaign' | 'removeImage' | 'removeCampaign'>(
    name: K,
  ): NonNullable<FirmwareService[K]> => {
    const service = firmware();
    const f = service[name];
    if (f === undefined) throw new HttpError(501, 'not-implemented', `this firmware service has no ${name}`);
    return f.bind(service) as NonNullable<FirmwareService[K]>;
  };

  app.post<{ Params: { id: string } }>(
    '/api/firmware/campaigns/:id/cancel',
    {
      schema: {
        summary:
          'Cancel a running campaign: devices not started fail, attempts in progress are aborted (a finished campaign is answered as it is)',
        tags,
        params: idParams,
        response: { 200: ref('Campaign'), ...errors(401, 404, 501) },
      },
    },
    async (req) => {
      const status = optional('cancelCampaign')(req.params.id);
      if (status === undefined) throw notFound(`no campaign "${req.params.id}"`);
      return status;
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/firmware/campaigns/:id',
    {
      schema: {
        summary: 'Forget a finished campaign (409 while it runs)',
        tags,
        params: idParams,
        response: { 204: { type: 'null' }, ...errors(401, 404, 409, 501) },
      },
    },
    async (req, reply) => {
      const remove = optional('removeCampaign');
      if (!refused(409, 'conflict', () => remove(req.params.id)))
        throw notFound(`no campaign "${req.params.id}"`);
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/firmware/:id',
    {
      schema: {
        summary: 'Remove a firmware image (409 while a running campaign uses it)',
        tags,
        params: idParams,
        response: { 204: { type: 'null' }, ...errors(401, 404, 409, 501) },
      },
    },
    async (req, reply) => {
      const remove = optional('removeImage');
      if (!refused(409, 'conflict', () => remove(req.params.id)))
        throw notFound(`no image "${req.params.id}"`);
      return reply.code(204).send();
    },
  );
}

function securityRoutes(app: FastifyInstance, store: SecurityStore | undefined): void {
  const tags = ['security'];
  const security = () => need(store, 'security store');

  app.get(
    '/api/security',
    {
      schema: {
        summary: 'Credentials of every endpoint: identities and key fingerprints, never keys',
        tags,
        response: { 200: { type: 'array', items: ref('EndpointCredentialsView') }, ...errors(401, 501) },
      },
    },
    async () => security().list().map(credentialsView),
  );

  app.get<{ Params: { endpoint: string } }>(
    '/api/security/:endpoint',
    {
      schema: {
        summary: 'Credentials of one endpoint: identities and key fingerprints, never keys',
        tags,
        params: byEndpoint,
        response: { 200: ref('EndpointCredentialsView'), ...errors(401, 404, 501) },
      },
    },
    async (req) => {
      const credentials = security().get(req.params.endpoint);
      if (credentials === undefined) throw notFound(`no credentials for "${req.params.endpoint}"`);
      return credentialsView(credentials);
    },
  );

  app.put<{
    Params: { endpoint: string };
    Body: Omit<EndpointCredentials, 'endpoint'> & { endpoint?: string };
  }>(
    '/api/security/:endpoint',
    {
      schema: {
        summary:
          'Add or replace (rotate) the credentials of an endpoint (a PSK identity or OSCORE kid is bound to one endpoint); answers them without the keys',
        tags,
        params: byEndpoint,
        body: ref('EndpointCredentials'),
        response: { 200: ref('EndpointCredentialsView'), ...errors(400, 401, 409, 501) },
      },
    },
    async (req) => {
      const store = security();
      const { endpoint } = req.params;
      const body = req.body;
      if (body.endpoint !== undefined && body.endpoint !== endpoint)
        throw badRequest(`the body names endpoint "${body.endpoint}", the path "${endpoint}"`);
      if (body.psk === undefined && body.rpk === undefined && body.oscore === undefined)
        throw badRequest('give psk, rpk and / or oscore');
      const credentials: EndpointCredentials = { ...body, endpoint };
      refused(409, 'conflict', () => store.put(credentials));
      return credentialsView(credentials);
    },
  );

  app.delete<{ Params: { endpoint: string } }>(
    '/api/security/:endpoint',
    {
      schema: {
        summary: 'Remove the credentials of an endpoint',
        tags,
        params: byEndpoint,
        response: { 204: { type: 'null' }, ...errors(401, 404, 501) },
      },
    },
    async (req, reply) => {
      if (!security().remove(req.params.endpoint))
        throw notFound(`no credentials for "${req.params.endpoint}"`);
      return reply.code(204).send();
    },
  );
}

function bootstrapRoutes(app: FastifyInstance, store: BootstrapConfigStore | undefined): void {
  const tags = ['bootstrap'];
  const bootstrap = () => need(store, 'bootstrap configuration store');

  app.get(
    '/api/bootstrap',
    {
      schema: {
        summary: 'Bootstrap configurations of every endpoint',
        tags,
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: { endpoint: { type: 'string' }, config: ref('BootstrapConfig') },
            },
          },
          ...errors(401, 501),
        },
      },
    },
    async () => bootstrap().list(),
  );

  app.get<{ Params: { endpoint: string } }>(
    '/api/bootstrap/:endpoint',
    {
      schema: {
        summary: 'The bootstrap configuration of one endpoint',
        tags,
        params: byEndpoint,
        response: { 200: ref('BootstrapConfig'), ...errors(401, 404, 501) },
      },
    },
    async (req) => {
      const config = bootstrap().get(req.params.endpoint);
      if (config === undefined) throw notFound(`no bootstrap configuration for "${req.params.endpoint}"`);
      return config;
    },
  );

  app.put<{ Params: { endpoint: string }; Body: BootstrapConfig }>(
    '/api/bootstrap/:endpoint',
    {
      schema: {
        summary: 'Add or replace the bootstrap configuration of an endpoint (LwM2M TS Core 1.1 §6.1.7)',
        tags,
        params: byEndpoint,
        body: ref('BootstrapConfig'),
        response: { 200: ref('BootstrapConfig'), ...errors(400, 401, 501) },
      },
    },
    async (req) => {
      const store = bootstrap();
      refused(400, 'bad-request', () => store.set(req.params.endpoint, req.body));
      return req.body;
    },
  );

  app.delete<{ Params: { endpoint: string } }>(
    '/api/bootstrap/:endpoint',
    {
      schema: {
        summary: 'Remove the bootstrap configuration of an endpoint',
        tags,
        params: byEndpoint,
        response: { 204: { type: 'null' }, ...errors(401, 404, 501) },
      },
    },
    async (req, reply) => {
      if (!bootstrap().delete(req.params.endpoint))
        throw notFound(`no bootstrap configuration for "${req.params.endpoint}"`);
      return reply.code(204).send();
    },
  );
}
