/**
 * LwM2M nodes as JSON for the REST API (responses, write and create bodies, events).
 *
 * A node is `{ kind, id, type, value }` for a single resource or a resource instance, `{ kind, id, type,
 * instances: [resource instances] }` for a multiple resource, `{ kind, id, resources: [...] }` for an object
 * instance and `{ kind, id, instances: [object instances] }` for an object (`kind` as in `Lwm2mNode`).
 * Values by type (LwM2M TS Core 1.1 Appendix C):
 *
 * | Type                       | JSON                                                                   |
 * |----------------------------|------------------------------------------------------------------------|
 * | String, Corelnk            | string                                                                 |
 * | Integer, Unsigned Integer  | number; a decimal string beyond ±2^53 (64-bit values survive)          |
 * | Float                      | number; `"NaN"`, `"Infinity"`, `"-Infinity"` for the non-finite ones   |
 * | Boolean                    | boolean                                                                |
 * | Opaque                     | base64 string (RFC 4648 §4, padded; base64url is accepted on input)    |
 * | Time                       | integer seconds since 1970 (input: also an ISO 8601 date-time string)  |
 * | Objlnk                     | `{ "objectId": 3, "instanceId": 0 }` (input: also `"3:0"`)             |
 *
 * On input `kind` may be left out (the path's depth and the presence of `instances` say it), `id` may be
 * left out where the path gives it, and `type` may be left out when the model knows the resource.
 */
import type { Lwm2mCompositeEntry } from '../../content/senml.js';
import type { ResourceType } from '../../model/definitions.js';
import type { Lwm2mNode, ObjectInstanceNode, ResourceInstanceNode, ResourceNode } from '../../model/nodes.js';
import { formatLwm2mPath, isValidId, type Lwm2mPath } from '../../model/path.js';
import type { Lwm2mModel } from '../../model/registry.js';
import {
  base64Decode,
  base64Encode,
  type Lwm2mValue,
  Lwm2mValueError,
  normalizeValue,
  type ObjectLink,
  valueFromText,
} from '../../model/values.js';

export type JsonValue =
  | string
  | number
  | boolean
  | { readonly objectId: number; readonly instanceId: number };

export interface JsonNode {
  readonly kind: Lwm2mNode['kind'];
  readonly id: number;
  readonly type?: ResourceType;
  readonly value?: JsonValue;
  readonly instances?: readonly JsonNode[];
  readonly resources?: readonly JsonNode[];
}

/** A JSON body that is not a valid node for its path. */
export class JsonNodeError extends Error {
  override readonly name = 'JsonNodeError';
}

/** A value as JSON (see the table above). */
export function valueToJson(type: ResourceType, value: Lwm2mValue): JsonValue {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return base64Encode(value);
  if (typeof value === 'number' && type === 'Float' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'object') return { objectId: value.objectId, instanceId: value.instanceId };
  return value;
}

export function nodeToJson(node: Lwm2mNode): JsonNode {
  switch (node.kind) {
    case 'object':
      return { kind: node.kind, id: node.id, instances: node.instances.map(nodeToJson) };
    case 'objectInstance':
      return { kind: node.kind, id: node.id, resources: node.resources.map(nodeToJson) };
    case 'multipleResource':
      return { kind: node.kind, id: node.id, type: node.type, instances: node.instances.map(nodeToJson) };
    default:
      return { kind: node.kind, id: node.id, type: node.type, value: valueToJson(node.type, node.value) };
  }
}

/** Composite entries (Read-Composite, Send) as `[{ path, node, time? }]`. */
export function entriesToJson(entries: readonly Lwm2mCompositeEntry[]) {
  return entries.map((e) => ({
    path: formatLwm2mPath(e.path),
    node: nodeToJson(e.node),
    ...(e.time === undefined ? {} : { time: e.time }),
  }));
}

const INTEGER_TEXT = /^[+-]?[0-9]{1,20}$/;

/** A JSON value as a value of `type`; throws `Lwm2mValueError` when it does not fit. */
export function valueFromJson(type: ResourceType, json: unknown): Lwm2mValue {
  switch (type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Time':
      if (typeof json === 'string') {
        if (INTEGER_TEXT.test(json)) return normalizeValue(type, BigInt(json));
        const ms = type === 'Time' ? Date.parse(json) : Number.NaN;
        if (Number.isNaN(ms)) throw new Lwm2mValueError('syntax', type, `"${clip(json)}" is not an integer`);
        return Math.floor(ms / 1000);
      }
      return normalizeValue(type, json);
    case 'Float':
      if (json === 'NaN' || json === 'Infinity' || json === '-Infinity') return Number(json);
      return normalizeValue(type, json);
    case 'Opaque':
      if (typeof json !== 'string')
        throw new Lwm2mValueError('wrong-type', type, 'Opaque expects a base64 string');
      return base64Decode(json);
    case 'Objlnk':
      if (typeof json === 'string') return valueFromText(type, json);
      return normalizeValue(type, json as ObjectLink);
    default:
      return normalizeValue(type, json);
  }
}

const clip = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

type JsonObject = { readonly [key: string]: unknown };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(path: Lwm2mPath, message: string): never {
  throw new JsonNodeError(`${formatLwm2mPath(path)}: ${message}`);
}

function expectKind(json: JsonObject, path: Lwm2mPath, kinds: readonly string[]): void {
  if (json.kind !== undefined && !kinds.includes(json.kind as string))
    fail(path, `kind "${String(json.kind)}" does not fit this path (${kinds.join(' or ')})`);
}

/** The id a child gives for itself, which must fit the parent's path (or the path's own last id). */
function idOf(json: JsonObject, path: Lwm2mPath, given: number | undefined): number {
  const id = json.id;
  if (id === undefined) {
    if (given === undefined) fail(path, 'id is missing');
    return given;
  }
  if (typeof id !== 'number' || !isValidId(id)) fail(path, 'id must be an integer 0–65534');
  if (given !== undefined && id !== given) fail(path, `id ${id} does not match the path`);
  return id;
}

function list(json: JsonObject, key: 'instances' | 'resources', path: Lwm2mPath): JsonObject[] {
  const items = json[key];
  if (!Array.isArray(items)) fail(path, `${key} must be an array`);
  for (const item of items) if (!isObject(item)) fail(path, `${key} must hold objects`);
  return items as JsonObject[];
}

function noDuplicates(ids: readonly number[], path: Lwm2mPath, what: string): void {
  const seen = new Set<number>();
  for (const id of ids) {
    if (seen.has(id)) fail(path, `${what} ${id} is given twice`);
    seen.add(id);
  }
}

function resourceType(json: JsonObject, path: Lwm2mPath, model: Lwm2mModel): ResourceType {
  const given = json.type as ResourceType | undefined;
  const type = given ?? model.getResource(path[0]!, path[2]!)?.type;
  if (type === undefined) fail(path, 'type is needed (the resource is not in the model)');
  if (type === 'none') fail(path, 'an executable resource has no value');
  return type;
}

function value(type: ResourceType, json: JsonObject, path: Lwm2mPath): Lwm2mValue {
  if (!('value' in json)) fail(path, 'value is missing');
  try {
    return valueFromJson(type, json.value);
  } catch (e) {
    if (e instanceof Lwm2mValueError) fail(path, e.message);
    throw e;
  }
}

function resourceInstance(
  json: JsonObject,
  path: Lwm2mPath,
  type: ResourceType,
  id: number | undefined,
): ResourceInstanceNode {
  expectKind(json, path, ['resourceInstance']);
  const riid = idOf(json, path, id);
  const at = [...path.slice(0, 3), riid];
  if (json.type !== undefined && json.type !== type) fail(at, `type ${String(json.type)} is not ${type}`);
  return { kind: 'resourceInstance', id: riid, type, value: value(type, json, at) };
}

function resource(
  json: JsonObject,
  path: Lwm2mPath,
  model: Lwm2mModel,
  id: number | undefined,
): ResourceNode {
  const rid = idOf(json, path, id);
  const at = [path[0]!, path[1]!, rid];
  const type = resourceType(json, at, model);
  const multiple = json.kind === 'multipleResource' || (json.kind === undefined && 'instances' in json);
  if (!multiple) {
    expectKind(json, at, ['resource']);
    return { kind: 'resource', id: rid, type, value: value(type, json, at) };
  }
  expectKind(json, at, ['multipleResource']);
  const instances = list(json, 'instances', at).map((i) => resourceInstance(i, at, type, undefined));
  noDuplicates(
    instances.map((i) => i.id),
    at,
    'resource instance',
  );
  return { kind: 'multipleResource', id: rid, type, instances };
}

function objectInstance(
  json: JsonObject,
  path: Lwm2mPath,
  model: Lwm2mModel,
  id: number | undefined,
): ObjectInstanceNode {
  expectKind(json, path, ['objectInstance']);
  const iid = idOf(json, path, id);
  const at = [path[0]!, iid];
  const resources = list(json, 'resources', at).map((r) => resource(r, at, model, undefined));
  noDuplicates(
    resources.map((r) => r.id),
    at,
    'resource',
  );
  return { kind: 'objectInstance', id: iid, resources };
}

/**
 * The node a JSON body describes at `path` (an object instance, resource or resource instance path);
 * throws `JsonNodeError` with the path and the reason when it does not fit.
 */
export function nodeFromJson(json: unknown, path: Lwm2mPath, model: Lwm2mModel): Lwm2mNode {
  if (!isObject(json)) fail(path, 'a node must be a JSON object');
  switch (path.length) {
    case 2:
      return objectInstance(json, path, model, path[1]);
    case 3:
      return resource(json, path, model, path[2]);
    case 4: {
      const type = resourceType(json, path, model);
      return resourceInstance(json, path, type, path[3]);
    }
    default:
      return fail(path, 'a node body needs an object instance, resource or resource instance path');
  }
}

/** An object instance for Create on `/objectId`: `id` as given in the body, else `defaultId`. */
export function instanceFromJson(
  json: unknown,
  objectId: number,
  defaultId: number,
  model: Lwm2mModel,
): ObjectInstanceNode {
  if (!isObject(json)) fail([objectId], 'a node must be a JSON object');
  return objectInstance(json, [objectId], model, typeof json.id === 'number' ? json.id : defaultId);
}
