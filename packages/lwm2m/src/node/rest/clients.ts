/**
 * `/api/clients`: registered devices and the device-management and information-reporting operations on
 * them (LwM2M TS Core 1.1 §6.3, §6.4) through `Lwm2mServer`.
 *
 * Per LwM2M path `/api/clients/:endpoint/:objectId[/:instanceId[/:resourceId[/:resourceInstanceId]]]`:
 * GET Read, PUT Write (replace), PATCH Write (partial update), POST Create (on an object) or Execute (on a
 * resource), DELETE Delete; `…/observe` (POST, DELETE), `…/discover` (GET), `…/attributes` (PUT
 * Write-Attributes). `/api/clients/:endpoint/composite` reads (GET) and writes (PUT) several paths at once.
 */
import type { FastifyInstance } from 'fastify';
import { formatLwm2mPath, type Lwm2mPath, Lwm2mPathError, parseLwm2mPath } from '../../model/path.js';
import type { Registration } from '../../server/registration/store.js';
import type { Lwm2mServer } from '../../server/server.js';
import { badRequest, HttpError } from './errors.js';
import { entriesToJson, instanceFromJson, nodeFromJson, nodeToJson } from './json-nodes.js';
import { endpointParam, errors, FORMAT_NAMES, formatQuery, ref, timeoutQuery } from './schemas.js';

/** A registration as the API shows it (schema `Registration`). */
export function registrationToJson(r: Registration) {
  return {
    endpoint: r.endpoint,
    registrationId: r.id,
    lifetime: r.lifetime,
    version: r.version,
    binding: r.binding,
    queueMode: r.queueMode,
    ...(r.sms === undefined ? {} : { sms: r.sms }),
    address: r.peer.address,
    port: r.peer.port,
    rootPath: r.rootPath,
    contentFormats: r.contentFormats,
    objects: r.objects.map((o) => ({
      path: formatLwm2mPath(o.path),
      ...(o.version === undefined ? {} : { version: o.version }),
    })),
    registeredAt: r.registeredAt,
    updatedAt: r.updatedAt,
    expiresAt: r.expiresAt,
  };
}

interface DeviceQuery {
  format?: string;
  timeout?: number;
}

type PathParams = {
  endpoint: string;
  objectId: number;
  instanceId?: number;
  resourceId?: number;
  resourceInstanceId?: number;
};

const LEVELS = ['objectId', 'instanceId', 'resourceId', 'resourceInstanceId'] as const;
const LEVEL_NAMES = ['object', 'object instance', 'resource', 'resource instance'];

const formatOf = (q: DeviceQuery): number | undefined =>
  q.format === undefined ? undefined : (FORMAT_NAMES[q.format] ?? Number(q.format));

/** `format` and `timeout` query parameters as `Lwm2mServer` options. */
function options(q: DeviceQuery): { format?: number; timeout?: number } {
  const format = formatOf(q);
  return {
    ...(format === undefined ? {} : { format }),
    ...(q.timeout === undefined ? {} : { timeout: Math.round(q.timeout * 1000) }),
  };
}

function pathOf(p: PathParams): Lwm2mPath {
  const path: number[] = [];
  for (const level of LEVELS) {
    const id = p[level];
    if (id === undefined) break;
    path.push(id);
  }
  return path;
}

const deviceQuery = { type: 'object', properties: { format: formatQuery, timeout: timeoutQuery } } as const;
const timeoutOnly = { type: 'object', properties: { timeout: timeoutQuery } } as const;

const DEVICE_ERRORS = errors(400, 401, 403, 404, 405, 406, 413, 415, 502, 503, 504);
const NO_CONTENT = { 204: { type: 'null' }, ...DEVICE_ERRORS };

export function clientRoutes(app: FastifyInstance, server: Lwm2mServer): void {
  const registered = (endpoint: string): Registration => {
    const r = server.registration(endpoint);
    if (r === undefined)
      throw new HttpError(404, 'unknown-endpoint', `endpoint "${endpoint}" is not registered`);
    return r;
  };

  // paginated (issue 17): in endpoint-name order, `limit` at a time (default 1000) after `cursor` (the last
  // endpoint of the previous page), only names starting with `prefix`; the next page's cursor is in the
  // `x-next-cursor` header and a `Link: <...>; rel="next"` (RFC 8288), absent on the last page
  app.get<{ Querystring: { limit?: number; cursor?: string; prefix?: string } }>(
    '/api/clients',
    {
      schema: {
        summary: 'Registered devices, by endpoint name, a page at a time',
        tags: ['clients'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: CLIENTS_MAX_LIMIT },
            cursor: { type: 'string', maxLength: 256 },
            prefix: { type: 'string', maxLength: 256 },
          },
        },
        response: { 200: { type: 'array', items: ref('Registration') }, ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const { limit = CLIENTS_DEFAULT_LIMIT, cursor, prefix } = request.query;
      const page = clientsPage(server.registrations(), limit, cursor, prefix);
      if (page.next !== undefined) {
        const query = new URLSearchParams({ limit: String(limit), cursor: page.next });
        if (prefix !== undefined) query.set('prefix', prefix);
        reply.header('x-next-cursor', page.next);
        reply.header('link', `</api/clients?${query}>; rel="next"`);
      }
      return page.items.map(registrationToJson);
    },
  );

  app.get<{ Params: { endpoint: string } }>(
    '/api/clients/:endpoint',
    {
      schema: {
        summary: 'One registered device, with the paths it is observed on',
        tags: ['clients'],
        params: { type: 'object', required: ['endpoint'], properties: { endpoint: endpointParam } },
        response: {
          200: {
            type: 'object',
            properties: {
              registration: ref('Registration'),
              observations: { type: 'array', items: { type: 'string' } },
            },
          },
          ...errors(401, 404),
        },
      },
    },
    async (req) => {
      const r = registered(req.params.endpoint);
      return {
        registration: registrationToJson(r),
        observations: server.observationsOf(r.endpoint).map((o) => formatLwm2mPath(o.path)),
      };
    },
  );

  // ---- operations on one LwM2M path, one route per path depth (1 object … 4 resource instance)
  for (let depth = 1; depth <= 4; depth++) {
    const levels = LEVELS.slice(0, depth);
    const url = `/api/clients/:endpoint/${levels.map((l) => `:${l}`).join('/')}`;
    const params = {
      type: 'object',
      required: ['endpoint', ...levels],
      properties: {
        endpoint: endpointParam,
        ...Object.fromEntries(levels.map((l) => [l, { type: 'integer', minimum: 0, maximum: 65534 }])),
      },
    };
    const what = LEVEL_NAMES[depth - 1]!;
    const tags = ['device management'];

    app.get<{ Params: PathParams; Querystring: DeviceQuery }>(
      url,
      {
        schema: {
          summary: `Read an ${what} (Core §6.3.1)`,
          tags,
          params,
          querystring: deviceQuery,
          response: { 200: ref('Lwm2mNode'), ...DEVICE_ERRORS },
        },
      },
      async (req) =>
        nodeToJson(await server.read(req.params.endpoint, pathOf(req.params), options(req.query))),
    );

    // Write (Core §6.3.3): PUT replaces (CoAP PUT), PATCH updates part (CoAP POST)
    const writeRoute = (method: 'PUT' | 'PATCH', summary: string) =>
      app.route<{ Params: PathParams; Querystring: DeviceQuery; Body: unknown }>({
        method,
        url,
        schema: {
          summary,
          tags,
          params,
          querystring: deviceQuery,
          body: ref('Lwm2mNode'),
          response: NO_CONTENT,
        },
        handler: async (req, reply) => {
          const path = pathOf(req.params);
          const node = nodeFromJson(req.body, path, server.model);
          await server.write(req.params.endpoint, path, node, {
            ...options(req.query),
            replace: method === 'PUT',
          });
          return reply.code(204).send();
        },
      });
    if (depth >= 2) writeRoute('PUT', `Write an ${what}, replacing it (Core §6.3.3)`);
    if (depth === 2 || depth === 3)
      writeRoute(
        'PATCH',
        `Write an ${what} as a partial update: the resources (or resource instances) given change, the others stay (Core §6.3.3)`,
      );

    if (depth === 1) {
      app.post<{ Params: PathParams; Querystring: DeviceQuery; Body: unknown }>(
        url,
        {
          schema: {
            summary:
              'Create an object instance (Core §6.3.7); without an id the lowest free one the device registered is used',
            tags,
            params,
            querystring: deviceQuery,
            body: ref('Lwm2mNode'),
            response: {
              201: {
                type: 'object',
                properties: { path: { type: 'string' }, instanceId: { type: 'integer' } },
              },
              ...DEVICE_ERRORS,
            },
          },
        },
        async (req, reply) => {
          const { endpoint, objectId } = req.params;
          const r = registered(endpoint);
          const instance = instanceFromJson(req.body, objectId, freeInstanceId(r, objectId), server.model);
          const id = await server.create(endpoint, [objectId], instance, options(req.query));
          const path = `/${objectId}/${id}`;
          reply.header('location', `/api/clients/${encodeURIComponent(endpoint)}${path}`);
          return reply.code(201).send({ path, instanceId: id });
        },
      );
    }

    if (depth === 3) {
      app.post<{ Params: PathParams; Querystring: { timeout?: number }; Body: string | { args?: string } }>(
        url,
        {
          schema: {
            summary:
              "Execute a resource (Core §6.3.5); arguments as text/plain (Core §5.4.2: 0='a',1) or JSON { args }",
            tags,
            params,
            querystring: timeoutOnly,
            body: {
              content: {
                'text/plain': { schema: { type: 'string', maxLength: 4096 } },
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { args: { type: 'string', maxLength: 4096 } },
                    additionalProperties: false,
                  },
                },
              },
            },
            response: NO_CONTENT,
          },
        },
        async (req, reply) => {
          const body = req.body;
          const args = typeof body === 'string' ? body : body?.args;
          await server.execute(req.params.endpoint, pathOf(req.params), args, options(req.query));
          return reply.code(204).send();
        },
      );
    }

    app.delete<{ Params: PathParams; Querystring: { timeout?: number } }>(
      url,
      {
        schema: {
          summary: `Delete an ${what} (Core §6.3.8)`,
          tags,
          params,
          querystring: timeoutOnly,
          response: NO_CONTENT,
        },
      },
      async (req, reply) => {
        await server.delete(req.params.endpoint, pathOf(req.params), options(req.query));
        return reply.code(204).send();
      },
    );

    if (depth <= 3) {
      app.get<{ Params: PathParams; Querystring: { timeout?: number } }>(
        `${url}/discover`,
        {
          schema: {
            summary: `Discover an ${what}: links and attributes (Core §6.3.4)`,
            tags,
            params,
            querystring: timeoutOnly,
            response: {
              200: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    path: { type: 'string' },
                    attributes: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
                  },
                },
              },
              ...DEVICE_ERRORS,
            },
          },
        },
        async (req) => {
          const links = await server.discover(req.params.endpoint, pathOf(req.params), options(req.query));
          return links.map((l) => ({ path: formatLwm2mPath(l.path), attributes: l.attributes }));
        },
      );
    }

    const attribute = { type: ['number', 'null'] };
    app.put<{ Params: PathParams; Querystring: { timeout?: number }; Body: { [k: string]: number | null } }>(
      `${url}/attributes`,
      {
        schema: {
          summary: `Write-Attributes on an ${what} (Core §6.3.2, §5.1.2); null removes an attribute`,
          tags,
          params,
          querystring: timeoutOnly,
          body: {
            type: 'object',
            minProperties: 1,
            additionalProperties: false,
            properties: {
              pmin: attribute,
              pmax: attribute,
              gt: attribute,
              lt: attribute,
              st: attribute,
              epmin: attribute,
              epmax: attribute,
            },
          },
          response: NO_CONTENT,
        },
      },
      async (req, reply) => {
        await server.writeAttributes(req.params.endpoint, pathOf(req.params), req.body, options(req.query));
        return reply.code(204).send();
      },
    );

    app.post<{ Params: PathParams; Querystring: DeviceQuery }>(
      `${url}/observe`,
      {
        schema: {
          summary: `Observe an ${what} (Core §6.4.1): answers the current value; notifications go to /api/events`,
          tags: ['information reporting'],
          params,
          querystring: deviceQuery,
          response: {
            200: {
              type: 'object',
              properties: { endpoint: { type: 'string' }, path: { type: 'string' }, node: ref('Lwm2mNode') },
            },
            ...DEVICE_ERRORS,
          },
        },
      },
      async (req) => {
        const { endpoint } = req.params;
        const path = pathOf(req.params);
        const key = formatLwm2mPath(path);
        // observing twice would only double the notifications: the running observation answers
        const running = server
          .observationsOf(endpoint)
          .find((o) => !o.done && formatLwm2mPath(o.path) === key);
        const observation = running ?? (await server.observe(endpoint, path, options(req.query)));
        // an observation taken up again after a restart has no value until its first notification
        const latest = observation.latest;
        return { endpoint, path: key, ...(latest === undefined ? {} : { node: nodeToJson(latest) }) };
      },
    );

    app.delete<{ Params: PathParams }>(
      `${url}/observe`,
      {
        schema: {
          summary: `Cancel the observation of an ${what} (Core §6.4.2)`,
          tags: ['information reporting'],
          params,
          response: {
            200: { type: 'object', properties: { cancelled: { type: 'integer' } } },
            ...errors(400, 401, 404),
          },
        },
      },
      async (req) => {
        const { endpoint } = req.params;
        registered(endpoint);
        const path = pathOf(req.params);
        const cancelled = await server.cancelObserve(endpoint, path);
        if (cancelled === 0)
          throw new HttpError(404, 'not-observed', `${formatLwm2mPath(path)} is not observed`);
        return { cancelled };
      },
    );
  }

  // ---- composite operations (Core §6.3.6 Read-Composite, §6.3.3 Write-Composite; LwM2M 1.1+)
  const compositeEntry = {
    type: 'object',
    required: ['path', 'node'],
    properties: { path: { type: 'string', maxLength: 64 }, node: ref('Lwm2mNode'), time: { type: 'number' } },
  };
  const endpointOnly = { type: 'object', required: ['endpoint'], properties: { endpoint: endpointParam } };
  app.get<{ Params: { endpoint: string }; Querystring: DeviceQuery & { paths: string } }>(
    '/api/clients/:endpoint/composite',
    {
      schema: {
        summary: 'Read-Composite (Core §6.3.6): several paths at once, SenML',
        tags: ['device management'],
        params: endpointOnly,
        querystring: {
          type: 'object',
          required: ['paths'],
          properties: {
            paths: { type: 'string', maxLength: 4096, description: 'comma-separated paths: /3/0/0,/3303/0' },
            format: formatQuery,
            timeout: timeoutQuery,
          },
        },
        response: { 200: { type: 'array', items: compositeEntry }, ...DEVICE_ERRORS },
      },
    },
    async (req) => {
      const paths = req.query.paths.split(',').map((p) => parsePath(p.trim()));
      return entriesToJson(await server.readComposite(req.params.endpoint, paths, options(req.query)));
    },
  );

  // Observe-Composite (Core §6.4.3, LwM2M 1.1+): notifications go to /api/events as composite-notification
  const pathsQuery = {
    type: 'string',
    maxLength: 4096,
    description: 'comma-separated paths: /3/0/0,/3303/0',
  } as const;
  const sameKey = (paths: readonly Lwm2mPath[]) => paths.map(formatLwm2mPath).join(',');
  app.post<{ Params: { endpoint: string }; Querystring: DeviceQuery & { paths: string } }>(
    '/api/clients/:endpoint/composite/observe',
    {
      schema: {
        summary:
          'Observe-Composite (Core §6.4.3): answers the current values; notifications go to /api/events (composite-notification)',
        tags: ['information reporting'],
        params: endpointOnly,
        querystring: {
          type: 'object',
          required: ['paths'],
          properties: { paths: pathsQuery, format: formatQuery, timeout: timeoutQuery },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              endpoint: { type: 'string' },
              paths: { type: 'array', items: { type: 'string' } },
              entries: { type: 'array', items: compositeEntry },
            },
          },
          ...DEVICE_ERRORS,
        },
      },
    },
    async (req) => {
      const { endpoint } = req.params;
      const paths = req.query.paths.split(',').map((p) => parsePath(p.trim()));
      const key = sameKey(paths);
      // observing the same paths twice would only double the notifications: the running observation answers
      const running = server
        .compositeObservationsOf(endpoint)
        .find((o) => !o.done && sameKey(o.paths) === key);
      const observation = running ?? (await server.observeComposite(endpoint, paths, options(req.query)));
      const latest = observation.latest;
      return {
        endpoint,
        paths: paths.map(formatLwm2mPath),
        ...(latest === undefined ? {} : { entries: entriesToJson(latest) }),
      };
    },
  );

  app.delete<{ Params: { endpoint: string }; Querystring: { paths: string } }>(
    '/api/clients/:endpoint/composite/observe',
    {
      schema: {
        summary: 'Cancel an Observe-Composite (Core §6.4.2) of exactly these paths',
        tags: ['information reporting'],
        params: endpointOnly,
        querystring: { type: 'object', required: ['paths'], properties: { paths: pathsQuery } },
        response: {
          200: { type: 'object', properties: { cancelled: { type: 'integer' } } },
          ...errors(400, 401, 404),
        },
      },
    },
    async (req) => {
      const { endpoint } = req.params;
      registered(endpoint);
      const paths = req.query.paths.split(',').map((p) => parsePath(p.trim()));
      const cancelled = await server.cancelObserveComposite(endpoint, paths);
      if (cancelled === 0) throw new HttpError(404, 'not-observed', `${sameKey(paths)} is not observed`);
      return { cancelled };
    },
  );

  app.put<{
    Params: { endpoint: string };
    Querystring: DeviceQuery;
    Body: { path: string; node: unknown }[];
  }>(
    '/api/clients/:endpoint/composite',
    {
      schema: {
        summary: 'Write-Composite (Core §6.3.3): values for several paths at once, SenML',
        tags: ['device management'],
        params: endpointOnly,
        querystring: deviceQuery,
        body: { type: 'array', minItems: 1, maxItems: 1024, items: compositeEntry },
        response: NO_CONTENT,
      },
    },
    async (req, reply) => {
      const entries = req.body.map((e) => {
        const path = parsePath(e.path);
        return { path, node: nodeFromJson(e.node, path, server.model) };
      });
      await server.writeComposite(req.params.endpoint, entries, options(req.query));
      return reply.code(204).send();
    },
  );
}

function parsePath(text: string): Lwm2mPath {
  try {
    return parseLwm2mPath(text);
  } catch (e) {
    if (e instanceof Lwm2mPathError) throw badRequest(`path "${text.slice(0, 40)}": ${e.message}`);
    throw e;
  }
}

/** The lowest instance id of `objectId` the device did not list in its registration. */
function freeInstanceId(r: Registration, objectId: number): number {
  const used = new Set<number>();
  for (const o of r.objects) if (o.path[0] === objectId && o.path.length === 2) used.add(o.path[1]!);
  let id = 0;
  while (used.has(id)) id++;
  return id;
}

const CLIENTS_DEFAULT_LIMIT = 1000;
const CLIENTS_MAX_LIMIT = 10_000;

/** One page of registrations by endpoint name: those after `cursor` starting with `prefix`, at most `limit`. */
export function clientsPage<T extends { readonly endpoint: string }>(
  all: readonly T[],
  limit: number,
  cursor?: string,
  prefix?: string,
): { items: T[]; next?: string } {
  const matching = all
    .filter(
      (r) =>
        (prefix === undefined || r.endpoint.startsWith(prefix)) &&
        (cursor === undefined || r.endpoint > cursor),
    )
    .sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  const items = matching.slice(0, limit);
  return matching.length > limit ? { items, next: items[items.length - 1]!.endpoint } : { items };
}
