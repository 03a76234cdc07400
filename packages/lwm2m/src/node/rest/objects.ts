/**
 * `/api/objects`: the object definitions of the server's model (built-in, registry and `--models` objects):
 * what a console needs to name, type and offer operations on what a device registered (LwM2M TS Core 1.1
 * Appendix D.1).
 */
import type { FastifyInstance } from 'fastify';
import type { ObjectDefinition } from '../../model/definitions.js';
import type { Lwm2mModel } from '../../model/registry.js';
import { notFound } from './errors.js';
import { errors } from './schemas.js';

const resourceSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    operations: { type: 'string', enum: ['R', 'W', 'RW', 'E', 'none'] },
    multiple: { type: 'boolean' },
    mandatory: { type: 'boolean' },
    type: { type: 'string' },
    range: { type: 'string' },
    units: { type: 'string' },
    description: { type: 'string' },
  },
} as const;

export const ObjectDefinitionSchema = {
  $id: 'ObjectDefinition',
  type: 'object',
  description: 'An LwM2M object definition (TS Core 1.1 Appendix D.1)',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    description: { type: 'string' },
    version: { type: 'string' },
    lwm2mVersion: { type: 'string' },
    multiple: { type: 'boolean' },
    mandatory: { type: 'boolean' },
    resources: { type: 'array', items: resourceSchema },
  },
} as const;

/** A model that can list its objects (`ObjectRegistry` can; a bare `Lwm2mModel` only looks them up). */
const listOf = (model: Lwm2mModel): ObjectDefinition[] | undefined => {
  const list = (model as Lwm2mModel & { list?: () => ObjectDefinition[] }).list;
  return typeof list === 'function' ? list.call(model) : undefined;
};

export function objectRoutes(app: FastifyInstance, model: Lwm2mModel): void {
  app.addSchema(ObjectDefinitionSchema);
  const tags = ['model'];
  app.get<{ Querystring: { ids?: string } }>(
    '/api/objects',
    {
      schema: {
        summary: "Object definitions of the server's model, by id (all of them, or those named by ids)",
        tags,
        querystring: {
          type: 'object',
          properties: {
            ids: {
              type: 'string',
              pattern: '^[0-9]{1,5}(,[0-9]{1,5})*$',
              maxLength: 4096,
              description: 'comma-separated object ids, e.g. 3,5,3303; unknown ids are left out',
            },
          },
        },
        response: { 200: { type: 'array', items: { $ref: 'ObjectDefinition#' } }, ...errors(400, 401) },
      },
    },
    async (req) => {
      if (req.query.ids !== undefined) {
        const out: ObjectDefinition[] = [];
        for (const id of new Set(req.query.ids.split(',').map(Number))) {
          const def = model.getObject(id);
          if (def !== undefined) out.push(def);
        }
        return out;
      }
      return (listOf(model) ?? []).slice().sort((a, b) => a.id - b.id);
    },
  );

  app.get<{ Params: { objectId: number } }>(
    '/api/objects/:objectId',
    {
      schema: {
        summary: 'One object definition',
        tags,
        params: {
          type: 'object',
          required: ['objectId'],
          properties: { objectId: { type: 'integer', minimum: 0, maximum: 65534 } },
        },
        response: { 200: { $ref: 'ObjectDefinition#' }, ...errors(400, 401, 404) },
      },
    },
    async (req) => {
      const def = model.getObject(req.params.objectId);
      if (def === undefined) throw notFound(`the model has no object ${req.params.objectId}`);
      return def;
    },
  );
}
