/** Helpers shared by the codecs: model look-ups, node ↔ flat leaf lists, value checks. */
import type { ResourceDefinition, ResourceType } from '../model/definitions.js';
import type { Lwm2mNode, ObjectInstanceNode, ResourceInstanceNode, ResourceNode } from '../model/nodes.js';
import { isPathPrefix, isValidId, type Lwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import { type Lwm2mValue, Lwm2mValueError, normalizeValue } from '../model/values.js';
import { encodeError, Lwm2mContentError } from './errors.js';

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

/**
 * Builds the node addressed by `path` (1–4 ids) from leaves, typing each raw value with the model through
 * `toValue`. Every leaf must lie under `path`; duplicates and values at the wrong depth are rejected.
 */
export function buildNode<R>(
  path: Lwm2mPath,
  leaves: readonly RawLeaf<R>[],
  model: Lwm2mModel,
  format: number,
  toValue: (type: ResourceType, raw: R, path: Lwm2mPath) => Lwm2mValue,
): Lwm2mNode {
  if (path.length === 0) {
    throw new Lwm2mContentError('invalid-path', 'a single node cannot be decoded at the root path', {
      format,
    });
  }
  interface RBuild {
    id: number;
    def: ResourceDefinition;
    value?: Lwm2mValue;
    instances: ResourceInstanceNode[];
    /** Resource instance ids seen (plain object as a set: constant-time duplicate checks). */
    seen: { [riid: number]: true | undefined };
  }
  interface IBuild {
    id: number;
    resources: RBuild[];
    byId: { [rid: number]: RBuild | undefined };
  }
  // Children are kept in order of first appearance, and indexed by id so that a payload of n values
  // costs O(n), not O(n²): a hostile 65,536-record payload must not turn into billions of comparisons.
  const instances: IBuild[] = [];
  const instanceById: { [iid: number]: IBuild | undefined } = {};
  const objectId = path[0]!;
  for (const leaf of leaves) {
    const p = leaf.path;
    if (!isPathPrefix(path, p)) {
      const where = pathText(p);
      throw new Lwm2mContentError('path-mismatch', `${where} is not under /${path.join('/')}`, { format });
    }
    if (p.length < 3) {
      throw new Lwm2mContentError('invalid-path', `${pathText(p)} does not address a resource`, { format });
    }
    const def = resourceDefinition(model, objectId, p[2]!, format);
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
    let inst = instanceById[p[1]!];
    if (inst === undefined) {
      inst = { id: p[1]!, resources: [], byId: {} };
      instanceById[p[1]!] = inst;
      instances.push(inst);
    }
    let res = inst.byId[p[2]!];
    if (res === undefined) {
      res = { id: p[2]!, def, instances: [], seen: {} };
      inst.byId[p[2]!] = res;
      inst.resources.push(res);
    } else if (!def.multiple || res.seen[p[3]!]) {
      throw new Lwm2mContentError('duplicate', `${pathText(p)} appears twice`, { format });
    }
    if (def.multiple) {
      res.seen[p[3]!] = true;
      res.instances.push({ kind: 'resourceInstance', id: p[3]!, type: def.type, value });
    } else res.value = value;
  }
  const toResource = (r: RBuild): ResourceNode =>
    r.def.multiple
      ? { kind: 'multipleResource', id: r.id, type: r.def.type, instances: r.instances }
      : { kind: 'resource', id: r.id, type: r.def.type, value: r.value as Lwm2mValue };
  const toInstance = (i: IBuild): ObjectInstanceNode => ({
    kind: 'objectInstance',
    id: i.id,
    resources: i.resources.map(toResource),
  });
  switch (path.length) {
    case 1:
      return { kind: 'object', id: objectId, instances: instances.map(toInstance) };
    case 2:
      return toInstance(instances[0] ?? { id: path[1]!, resources: [], byId: {} });
    case 3: {
      const r = instances[0]?.resources[0];
      if (r === undefined) {
        const def = resourceDefinition(model, objectId, path[2]!, format);
        if (def.multiple) return { kind: 'multipleResource', id: def.id, type: def.type, instances: [] };
        throw new Lwm2mContentError('missing-value', `no value for /${path.join('/')}`, { format });
      }
      return toResource(r);
    }
    default: {
      const r = instances[0]?.resources[0];
      const ri = r?.instances[0];
      if (ri === undefined) {
        throw new Lwm2mContentError('missing-value', `no value for /${path.join('/')}`, { format });
      }
      return ri;
    }
  }
}
