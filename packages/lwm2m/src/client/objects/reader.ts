/**
 * Reading the client's objects (LwM2M TS Core 1.1 §6.3.1): nodes at a path, with the read callbacks of
 * callback-backed resources; shared by device management, notifications, Send and bootstrap.
 */
import { isReadable, type ResourceDefinition } from '../../model/definitions.js';
import type { Lwm2mNode, ObjectInstanceNode, ResourceInstanceNode, ResourceNode } from '../../model/nodes.js';
import type { Lwm2mPath } from '../../model/path.js';
import type { Lwm2mModel } from '../../model/registry.js';
import type { Lwm2mValue } from '../../model/values.js';
import { fail, Lwm2mClientError } from '../errors.js';
import {
  type InstanceEntry,
  type InstanceStore,
  instanceNode,
  pathText,
  type ResourceValue,
  resourceNode,
  type Slot,
  toStoredValue,
} from './store.js';

export type MaybePromise<T> = T | Promise<T>;

export const isPromise = <T>(v: MaybePromise<T>): v is Promise<T> =>
  v !== null && typeof v === 'object' && typeof (v as Promise<T>).then === 'function';

export function findInstance(
  list: readonly ResourceInstanceNode[],
  id: number,
): ResourceInstanceNode | undefined {
  for (const ri of list) if (ri.id === id) return ri;
  return undefined;
}

export class ObjectReader {
  constructor(
    private readonly model: Lwm2mModel,
    private readonly objects: InstanceStore,
  ) {}

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

  async readInstance(oid: number, entry: InstanceEntry): Promise<ObjectInstanceNode> {
    const resources: ResourceNode[] = [];
    for (const rid of this.objects.resourceIds(entry)) {
      const def = this.model.getResource(oid, rid);
      if (def === undefined || !isReadable(def)) continue;
      const value = await this.readSlot(def, entry.slots[rid]!);
      if (value !== undefined) resources.push(resourceNode(def, value));
    }
    return instanceNode(entry.id, resources);
  }

  async readSlot(
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

  instanceOrFail(path: Lwm2mPath): InstanceEntry {
    const entry = this.objects.get(path[0]!, path[1]!);
    if (entry === undefined) fail('not-found', '4.04', `${pathText(path.slice(0, 2))} not found`);
    return entry;
  }

  resourceOrFail(path: Lwm2mPath, entry: InstanceEntry): { def: ResourceDefinition; slot: Slot } {
    const def = this.model.getResource(path[0]!, path[2]!);
    const slot = entry.slots[path[2]!];
    if (def === undefined || slot === undefined)
      fail('not-found', '4.04', `${pathText(path.slice(0, 3))} not found`);
    return { def, slot };
  }
}
