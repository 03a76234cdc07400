/**
 * The client's object instances and their resources (LwM2M TS Core 1.1 §5.1 "Resource Model"). Plain
 * objects keyed by id (integer keys iterate in increasing order), no `Map`/`Set`: this is the client's hot
 * path and must stay ES2015-level for Espruino-class boards.
 */
import type { ResourceDefinition } from '../../model/definitions.js';
import {
  type Lwm2mNode,
  type ObjectInstanceNode,
  type ResourceInstanceNode,
  type ResourceNode,
  resourceInstance,
} from '../../model/nodes.js';
import type { Lwm2mPath } from '../../model/path.js';
import type { Lwm2mModel } from '../../model/registry.js';
import { type Lwm2mValue, Lwm2mValueError, normalizeValue } from '../../model/values.js';
import { Lwm2mClientError } from '../errors.js';

/**
 * A value as the application gives it: one value for a single resource; for a multiple resource an
 * array (instance ids 0, 1, 2…) or an array of `[instanceId, value]` pairs.
 */
export type ResourceValue = Lwm2mValue | readonly Lwm2mValue[] | readonly (readonly [number, Lwm2mValue])[];

/** Callbacks behind a resource; each may be sync or async. */
export interface ResourceHandler {
  /** Returns the current value (Read, Observe). Without it, the last written / set value is read. */
  read?: () => ResourceValue | Promise<ResourceValue>;
  /** Called on a Write from the server, with the decoded (and type-checked) value. */
  write?: (value: ResourceValue) => void | Promise<void>;
  /** Called on Execute with the argument text (TS Core 1.1 §5.4.2 "Execute arguments"), "" when none. */
  execute?: (args: string) => void | Promise<void>;
}

/** What `addInstance` takes per resource id: a value or callbacks. */
export type ResourceInit = ResourceValue | ResourceHandler;

/** One resource of an instance. `value` is a single value or, for a multiple resource, its instances. */
export interface Slot {
  value: Lwm2mValue | ResourceInstanceNode[] | undefined;
  handler: ResourceHandler | undefined;
}

export interface InstanceEntry {
  readonly id: number;
  readonly slots: { [resourceId: number]: Slot | undefined };
}

const isHandler = (v: unknown): v is ResourceHandler =>
  v !== null &&
  typeof v === 'object' &&
  !(v instanceof Uint8Array) &&
  !Array.isArray(v) &&
  (typeof (v as ResourceHandler).read === 'function' ||
    typeof (v as ResourceHandler).write === 'function' ||
    typeof (v as ResourceHandler).execute === 'function');

export const isResourceHandler = isHandler;

/** Checks and normalises an application value against its definition (4.00 / programmer error). */
export function toStoredValue(
  def: ResourceDefinition,
  value: ResourceValue,
): Lwm2mValue | ResourceInstanceNode[] {
  try {
    if (!def.multiple) {
      if (Array.isArray(value))
        throw new Lwm2mValueError('wrong-type', def.type, 'an array for a single resource');
      return normalizeValue(def.type, value);
    }
    if (!Array.isArray(value))
      throw new Lwm2mValueError('wrong-type', def.type, 'a multiple resource needs an array');
    const out: ResourceInstanceNode[] = [];
    for (let i = 0; i < value.length; i++) {
      const item = value[i] as Lwm2mValue | readonly [number, Lwm2mValue];
      if (Array.isArray(item))
        out.push(resourceInstance(item[0] as number, def.type, normalizeValue(def.type, item[1])));
      else out.push(resourceInstance(i, def.type, normalizeValue(def.type, item)));
    }
    out.sort((a, b) => a.id - b.id);
    return out;
  } catch (e) {
    if (e instanceof Lwm2mValueError) {
      throw new Lwm2mClientError('invalid-value', '4.00', `resource ${def.id} (${def.name}): ${e.message}`);
    }
    throw e;
  }
}

/** The application's view of a stored value: a value, or `[id, value]` pairs for a multiple resource. */
export function toResourceValue(value: Lwm2mValue | ResourceInstanceNode[]): ResourceValue {
  if (!Array.isArray(value)) return value as Lwm2mValue;
  const out: (readonly [number, Lwm2mValue])[] = [];
  for (const ri of value as ResourceInstanceNode[]) out.push([ri.id, ri.value]);
  return out;
}

/** A node for a stored value. */
export function resourceNode(
  def: ResourceDefinition,
  value: Lwm2mValue | ResourceInstanceNode[],
): ResourceNode {
  if (def.multiple) {
    return {
      kind: 'multipleResource',
      id: def.id,
      type: def.type,
      instances: value as ResourceInstanceNode[],
    };
  }
  return { kind: 'resource', id: def.id, type: def.type, value: value as Lwm2mValue };
}

/** Stored value of a decoded resource node (the payload of a Write). */
export function valueOfNode(node: Lwm2mNode): Lwm2mValue | ResourceInstanceNode[] {
  if (node.kind === 'multipleResource') return node.instances.slice();
  if (node.kind === 'resource' || node.kind === 'resourceInstance') return node.value;
  throw new Lwm2mClientError('bad-request', '4.00', 'payload is not a resource');
}

const NO_IDS: readonly number[] = Object.freeze([]);

/** Longest `InstanceStore.shape` kept (a few dozen instances' worth). */
const MAX_SHAPE = 256;

/** Object instances held by the client. */
export class InstanceStore {
  private objects: { [objectId: number]: { [instanceId: number]: InstanceEntry | undefined } | undefined } =
    {};
  private count = 0;
  /**
   * Bumped whenever the set of objects or instances changes (add, remove, a newly supported object), so
   * what is derived from it (the registration links) can be cached until then.
   */
  revision = 0;
  /**
   * The structural changes so far (objects declared, instances added and removed) as text, in order, while
   * it stays short (undefined after that): the objects and instances are a function of it, so two stores
   * of the same model with the same `shape` hold the same objects and instances, and what is derived from
   * them alone (the registration links) can be shared between clients (the devices of a fleet).
   */
  shape: string | undefined = '';
  /** Per object, its instance ids in increasing order (copy on write: see `instanceIds`). */
  private ids: { [objectId: number]: readonly number[] | undefined } = {};

  constructor(
    readonly model: Lwm2mModel,
    /** Upper bound on instances (bounded state, docs/ARCHITECTURE.md). */
    readonly maxInstances = 1024,
  ) {}

  objectIds(): number[] {
    const out: number[] = [];
    for (const k of Object.keys(this.objects)) if (this.objects[Number(k)] !== undefined) out.push(Number(k));
    return out;
  }

  hasObject(objectId: number): boolean {
    return this.objects[objectId] !== undefined;
  }

  /** Declares an object the client supports, with no instances yet (listed as `</o>` at registration). */
  supportObject(objectId: number): void {
    if (this.model.getObject(objectId) === undefined) {
      throw new Lwm2mClientError(
        'unknown-object',
        '4.04',
        `object ${objectId} has no definition in the model`,
      );
    }
    if (this.objects[objectId] === undefined) {
      this.objects[objectId] = {};
      this.changed(`${objectId};`);
    }
  }

  /**
   * Instance ids of an object in increasing order. The array is the store's own and never changes (a
   * change makes a new one), so it may be iterated while instances are added or removed.
   */
  instanceIds(objectId: number): readonly number[] {
    return this.ids[objectId] ?? NO_IDS;
  }

  get(objectId: number, instanceId: number): InstanceEntry | undefined {
    return this.objects[objectId]?.[instanceId];
  }

  /** First free instance id of an object (for Create without an id). */
  freeInstanceId(objectId: number): number {
    const o = this.objects[objectId];
    let id = 0;
    while (o !== undefined && o[id] !== undefined) id++;
    return id;
  }

  add(
    objectId: number,
    instanceId: number,
    resources: { [resourceId: number]: ResourceInit },
  ): InstanceEntry {
    const def = this.model.getObject(objectId);
    if (def === undefined) {
      throw new Lwm2mClientError(
        'unknown-object',
        '4.04',
        `object ${objectId} has no definition in the model`,
      );
    }
    if (this.get(objectId, instanceId) !== undefined) {
      throw new Lwm2mClientError('duplicate-instance', '4.00', `/${objectId}/${instanceId} exists already`);
    }
    if (!def.multiple && this.instanceIds(objectId).length > 0) {
      throw new Lwm2mClientError('not-allowed', '4.00', `object ${objectId} is single-instance`);
    }
    if (this.count >= this.maxInstances) {
      throw new Lwm2mClientError('not-allowed', '4.00', `more than ${this.maxInstances} object instances`);
    }
    const slots: { [resourceId: number]: Slot | undefined } = {};
    for (const k of Object.keys(resources)) {
      const rid = Number(k);
      const rdef = this.model.getResource(objectId, rid);
      if (rdef === undefined) {
        throw new Lwm2mClientError('not-found', '4.04', `object ${objectId} has no resource ${rid}`);
      }
      const init = resources[rid]!;
      if (isHandler(init)) slots[rid] = { value: undefined, handler: init };
      else slots[rid] = { value: toStoredValue(rdef, init), handler: undefined };
    }
    const entry: InstanceEntry = { id: instanceId, slots };
    let o = this.objects[objectId];
    if (o === undefined) {
      o = {};
      this.objects[objectId] = o;
    }
    o[instanceId] = entry;
    const ids = this.ids[objectId] ?? NO_IDS;
    let at = ids.length;
    while (at > 0 && ids[at - 1]! > instanceId) at--;
    this.ids[objectId] = [...ids.slice(0, at), instanceId, ...ids.slice(at)];
    this.count++;
    this.changed(`+${objectId}/${instanceId};`);
    return entry;
  }

  remove(objectId: number, instanceId: number): boolean {
    const o = this.objects[objectId];
    if (o === undefined || o[instanceId] === undefined) return false;
    delete o[instanceId];
    this.ids[objectId] = (this.ids[objectId] ?? NO_IDS).filter((id) => id !== instanceId);
    this.count--;
    this.changed(`-${objectId}/${instanceId};`);
    return true;
  }

  private changed(step: string): void {
    this.revision++;
    if (this.shape === undefined) return;
    const shape = this.shape + step;
    this.shape = shape.length <= MAX_SHAPE ? shape : undefined;
  }

  /** Resource ids of an instance in increasing order. */
  resourceIds(entry: InstanceEntry): number[] {
    const out: number[] = [];
    for (const k of Object.keys(entry.slots)) if (entry.slots[Number(k)] !== undefined) out.push(Number(k));
    return out;
  }
}

/** Builds an object-instance node (helper for codecs). */
export function instanceNode(id: number, resources: ResourceNode[]): ObjectInstanceNode {
  return { kind: 'objectInstance', id, resources };
}

export const pathText = (path: Lwm2mPath): string => (path.length === 0 ? '/' : `/${path.join('/')}`);
