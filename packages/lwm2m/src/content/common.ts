/** Helpers shared by the codecs: model look-ups, node ↔ flat leaf lists, value checks. */
import type { ResourceDefinition, ResourceType } from '../model/definitions.js';
import type { Lwm2mNode, ObjectInstanceNode, ResourceInstanceNode, ResourceNode } from '../model/nodes.js';
import { isPathPrefix, isValidId, type Lwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import { type Lwm2mValue, Lwm2mValueError, normalizeValue } from '../model/values.js';
import { encodeError, Lwm2mContentError } from './errors.js';
import { jsonNumber } from './json-text.js';

/** Upper bound on records / entries in one payload: bounds memory for hostile input. */
export const MAX_RECORDS = 65536;

export function resourceDefinition(
  model: Lwm2mModel,
  objectId: number,
  resourceId: number,
  format: number,
): ResourceDefinition {
  if (model.getObject(objectId) === undefined) {
    throw new Lwm2mContentError('unknown-object', `object ${objectId} is not in the model`, { format });
  }
  const r = model.getResource(objectId, resourceId);
  if (r === undefined) {
    throw new Lwm2mContentError(
      'unknown-resource',
      `resource /${objectId}/x/${resourceId} is not in the model`,
      {
        format,
      },
    );
  }
  if (r.type === 'none') {
    throw new Lwm2mContentError('wrong-type', `resource ${resourceId} of object ${objectId} is executable`, {
      format,
    });
  }
  return r;
}

/**
 * The type a self-describing format gives a value (SenML's value field, the CBOR item's major type), or
 * undefined when it cannot tell. Used for objects and resources the model does not know.
 */
export type TypeOf<R> = (raw: R) => ResourceType | undefined;

/**
 * The definition of a resource for decoding: the model's, else (an object the model does not know) one
 * made from the value's own type when the format is self-describing (`typeOf`), so values of vendor
 * objects decode instead of failing; multiplicity then follows the path (4 ids: a resource instance). An
 * unknown resource of a known object stays an error: the model says what the object has.
 */
export function decodingDefinition<R>(
  model: Lwm2mModel,
  path: Lwm2mPath,
  raw: R,
  format: number,
  typeOf: TypeOf<R> | undefined,
): ResourceDefinition {
  const objectId = path[0]!;
  const resourceId = path[2]!;
  if (typeOf !== undefined && model.getObject(objectId) === undefined) {
    const type = typeOf(raw);
    if (type !== undefined) {
      return {
        id: resourceId,
        name: '',
        operations: 'RW',
        multiple: path.length === 4,
        mandatory: false,
        type,
      };
    }
  }
  return resourceDefinition(model, objectId, resourceId, format);
}

/** Converts a value error into a decode error (4.00). */
export function checked<T>(format: number, where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Lwm2mValueError) {
      throw new Lwm2mContentError(
        e.reason === 'wrong-type' ? 'wrong-type' : 'invalid-value',
        `${where}: ${e.message}`,
        {
          format,
        },
      );
    }
    throw e;
  }
}

/** `/3/0/1` (for messages; built only when an error is raised). */
export const pathText = (p: Lwm2mPath): string => `/${p.join('/')}`;

/** Types a raw value with `toValue`, turning value errors into decode errors (4.00). */
export function typedValue<R>(
  format: number,
  type: ResourceType,
  raw: R,
  path: Lwm2mPath,
  toValue: (type: ResourceType, raw: R, path: Lwm2mPath) => Lwm2mValue,
): Lwm2mValue {
  try {
    return toValue(type, raw, path);
  } catch (e) {
    if (e instanceof Lwm2mValueError) {
      throw new Lwm2mContentError(
        e.reason === 'wrong-type' ? 'wrong-type' : 'invalid-value',
        `${pathText(path)}: ${e.message}`,
        { format },
      );
    }
    throw e;
  }
}

/** A single value at a full path (length 3: resource, or 4: resource instance). */
export interface Leaf {
  readonly path: Lwm2mPath;
  readonly type: ResourceType;
  readonly value: Lwm2mValue;
}

function checkNodeAtPath(path: Lwm2mPath, node: Lwm2mNode, format: number): void {
  const depth = { object: 1, objectInstance: 2, resource: 3, multipleResource: 3, resourceInstance: 4 }[
    node.kind
  ];
  if (path.length !== depth) {
    throw encodeError(
      'path-mismatch',
      `a ${node.kind} node cannot be at a path of ${path.length} ids`,
      format,
    );
  }
  if (path[depth - 1] !== node.id) {
    throw encodeError('path-mismatch', `node id ${node.id} does not match the path`, format);
  }
}

/** JSON text of a numeric leaf (Integer, Unsigned Integer, Time, Float), for the JSON formats; −0 stays −0.0. */
export function leafJsonNumber(leaf: Leaf, format: number): string {
  const v = leaf.value;
  const text = Object.is(v, -0) ? '-0.0' : jsonNumber(v as number | bigint);
  if (text === undefined) {
    throw encodeError('invalid-value', `/${leaf.path.join('/')}: ${String(v)} has no JSON form`, format);
  }
  return text;
}

/** Checks a node's value against its declared type (and the model, when given) before encoding. */
export function encodableValue(
  format: number,
  path: Lwm2mPath,
  type: ResourceType,
  value: Lwm2mValue,
  model: Lwm2mModel | undefined,
): Lwm2mValue {
  if (model !== undefined) {
    const def = model.getResource(path[0]!, path[2]!);
    if (def !== undefined && def.type !== type) {
      throw encodeError('wrong-type', `/${path.join('/')} is ${def.type} in the model, not ${type}`, format);
    }
  }
  try {
    return normalizeValue(type, value);
  } catch (e) {
    if (e instanceof Lwm2mValueError)
      throw encodeError('invalid-value', `/${path.join('/')}: ${e.message}`, format);
    throw e;
  }
}

/** Flattens a node at `path` into leaves with full paths, in node order. */
export function flattenNode(
  path: Lwm2mPath,
  node: Lwm2mNode,
  format: number,
  model: Lwm2mModel | undefined,
  out: Leaf[] = [],
): Leaf[] {
  checkNodeAtPath(path, node, format);
  const leaf = (p: Lwm2mPath, type: ResourceType, value: Lwm2mValue): void => {
    for (const id of p)
      if (!isValidId(id)) throw encodeError('invalid-path', `id ${id} is not 0–65534`, format);
    out.push({ path: p, type, value: encodableValue(format, p, type, value, model) });
  };
  const resource = (p: Lwm2mPath, r: ResourceNode): void => {
    if (r.kind === 'resource') leaf(p, r.type, r.value);
    else for (const ri of r.instances) leaf([...p, ri.id], r.type, ri.value);
  };
  const instance = (p: Lwm2mPath, i: ObjectInstanceNode): void => {
    for (const r of i.resources) resource([...p, r.id], r);
  };
  switch (node.kind) {
    case 'object':
      for (const i of node.instances) instance([...path, i.id], i);
      break;
    case 'objectInstance':
      instance(path, node);
      break;
    case 'resource':
    case 'multipleResource':
      resource(path, node);
      break;
    case 'resourceInstance':
      leaf(path, node.type, node.value);
      break;
  }
  return out;
}

/** A decoded value before typing: its full path and the raw value the format carried. */
export interface RawLeaf<R> {
  readonly path: Lwm2mPath;
  readonly raw: R;
}

interface RBuild {
  id: number;
  def: ResourceDefinition;
  value: Lwm2mValue | undefined;
  instances: ResourceInstanceNode[];
  /** Resource instance ids seen (a plain object as a set), made on the first instance. */
  seen: { [riid: number]: true | undefined } | undefined;
}

interface IBuild {
  id: number;
  resources: RBuild[];
  /** Index by resource id, made once the instance has more than a few resources. */
  byId: { [rid: number]: RBuild | undefined } | undefined;
}

/** Beyond this many children, look-ups go through an index object instead of a scan. */
const SCAN_LIMIT = 8;

function findResourceBuild(inst: IBuild, rid: number): RBuild | undefined {
  const list = inst.resources;
  const last = list[list.length - 1];
  if (last !== undefined && last.id === rid) return last; // values of one resource usually come together
  if (inst.byId !== undefined) return inst.byId[rid];
  for (let i = 0; i < list.length; i++) if (list[i]!.id === rid) return list[i];
  return undefined;
}

function addResourceBuild(inst: IBuild, res: RBuild): void {
  inst.resources.push(res);
  if (inst.byId !== undefined) inst.byId[res.id] = res;
  else if (inst.resources.length > SCAN_LIMIT) {
    const index: { [rid: number]: RBuild | undefined } = {};
    for (const r of inst.resources) index[r.id] = r;
    inst.byId = index;
  }
}

function toResourceNode(r: RBuild): ResourceNode {
  return r.def.multiple
    ? { kind: 'multipleResource', id: r.id, type: r.def.type, instances: r.instances }
    : { kind: 'resource', id: r.id, type: r.def.type, value: r.value as Lwm2mValue };
}

function toInstanceNode(i: IBuild): ObjectInstanceNode {
  const resources: ResourceNode[] = [];
  for (const r of i.resources) resources.push(toResourceNode(r));
  return { kind: 'objectInstance', id: i.id, resources };
}

/**
 * Builds the node addressed by `path` (1–4 ids) from leaves, typing each raw value with the model through
 * `toValue`. Every leaf must lie under `path`; duplicates and values at the wrong depth are rejected.
 *
 * Children keep their order of first appearance. Look-ups are O(1) (the previous child, or an index once
 * there are more than a few children), so a hostile 65,536-record payload costs O(n), not O(n²).
 */
export function buildNode<R>(
  path: Lwm2mPath,
  leaves: readonly RawLeaf<R>[],
  model: Lwm2mModel,
  format: number,
  toValue: (type: ResourceType, raw: R, path: Lwm2mPath) => Lwm2mValue,
  typeOf?: TypeOf<R>,
): Lwm2mNode {
  if (path.length === 0) {
    throw new Lwm2mContentError('invalid-path', 'a single node cannot be decoded at the root path', {
      format,
    });
  }
  const instances: IBuild[] = [];
  let instanceById: { [iid: number]: IBuild | undefined } | undefined;
  const objectId = path[0]!;
  for (let k = 0; k < leaves.length; k++) {
    const leaf = leaves[k]!;
    const p = leaf.path;
    if (!isPathPrefix(path, p)) {
      throw new Lwm2mContentError('path-mismatch', `${pathText(p)} is not under ${pathText(path)}`, {
        format,
      });
    }
    if (p.length < 3) {
      throw new Lwm2mContentError('invalid-path', `${pathText(p)} does not address a resource`, { format });
    }
    const iid = p[1]!;
    const rid = p[2]!;
    let inst = instances[instances.length - 1];
    if (inst === undefined || inst.id !== iid) {
      if (instanceById === undefined) {
        instanceById = {};
        for (const i of instances) instanceById[i.id] = i;
      }
      inst = instanceById[iid];
      if (inst === undefined) {
        inst = { id: iid, resources: [], byId: undefined };
        instanceById[iid] = inst;
        instances.push(inst);
      }
    }
    let res = findResourceBuild(inst, rid);
    // a resource the model does not know keeps the definition its first value gave it
    const def = res?.def ?? decodingDefinition(model, p, leaf.raw, format, typeOf);
    if (def.multiple !== (p.length === 4)) {
      const where = pathText(p);
      throw new Lwm2mContentError(
        'invalid-path',
        def.multiple
          ? `${where}: resource ${def.id} is multiple, expected an instance id`
          : `${where}: resource ${def.id} is single`,
        { format },
      );
    }
    const value = typedValue(format, def.type, leaf.raw, p, toValue);
    if (res === undefined) {
      res = { id: rid, def, value: undefined, instances: [], seen: undefined };
      addResourceBuild(inst, res);
    } else if (!def.multiple || res.seen?.[p[3]!]) {
      throw new Lwm2mContentError('duplicate', `${pathText(p)} appears twice`, { format });
    }
    if (def.multiple) {
      if (res.seen === undefined) res.seen = {};
      res.seen[p[3]!] = true;
      res.instances.push({ kind: 'resourceInstance', id: p[3]!, type: def.type, value });
    } else res.value = value;
  }
  switch (path.length) {
    case 1: {
      const out: ObjectInstanceNode[] = [];
      for (const i of instances) out.push(toInstanceNode(i));
      return { kind: 'object', id: objectId, instances: out };
    }
    case 2:
      return toInstanceNode(instances[0] ?? { id: path[1]!, resources: [], byId: undefined });
    case 3: {
      const r = instances[0]?.resources[0];
      if (r === undefined) {
        const def = resourceDefinition(model, objectId, path[2]!, format);
        if (def.multiple) return { kind: 'multipleResource', id: def.id, type: def.type, instances: [] };
        throw new Lwm2mContentError('missing-value', `no value for ${pathText(path)}`, { format });
      }
      return toResourceNode(r);
    }
    default: {
      const ri = instances[0]?.resources[0]?.instances[0];
      if (ri === undefined) {
        throw new Lwm2mContentError('missing-value', `no value for ${pathText(path)}`, { format });
      }
      return ri;
    }
  }
}
