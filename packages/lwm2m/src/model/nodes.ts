/**
 * LwM2M nodes as plain typed data (LwM2M TS Core 1.1, "Resource Model": Object → Object Instance → Resource →
 * Resource Instance). Children are arrays in id order as read; nothing here needs `Map`.
 */
import type { ResourceType } from './definitions.js';
import type { Lwm2mValue } from './values.js';

export interface ResourceInstanceNode {
  readonly kind: 'resourceInstance';
  readonly id: number;
  readonly type: ResourceType;
  readonly value: Lwm2mValue;
}

export interface SingleResourceNode {
  readonly kind: 'resource';
  readonly id: number;
  readonly type: ResourceType;
  readonly value: Lwm2mValue;
}

export interface MultipleResourceNode {
  readonly kind: 'multipleResource';
  readonly id: number;
  readonly type: ResourceType;
  readonly instances: readonly ResourceInstanceNode[];
}

export type ResourceNode = SingleResourceNode | MultipleResourceNode;

export interface ObjectInstanceNode {
  readonly kind: 'objectInstance';
  readonly id: number;
  readonly resources: readonly ResourceNode[];
}

export interface ObjectNode {
  readonly kind: 'object';
  readonly id: number;
  readonly instances: readonly ObjectInstanceNode[];
}

export type Lwm2mNode =
  | ObjectNode
  | ObjectInstanceNode
  | SingleResourceNode
  | MultipleResourceNode
  | ResourceInstanceNode;

export const resourceInstance = (
  id: number,
  type: ResourceType,
  value: Lwm2mValue,
): ResourceInstanceNode => ({
  kind: 'resourceInstance',
  id,
  type,
  value,
});

export const singleResource = (id: number, type: ResourceType, value: Lwm2mValue): SingleResourceNode => ({
  kind: 'resource',
  id,
  type,
  value,
});

/** A multiple resource; `values` is an array (instance ids 0, 1, 2…) or explicit `[id, value]` pairs. */
export function multipleResource(
  id: number,
  type: ResourceType,
  values: readonly Lwm2mValue[] | readonly (readonly [number, Lwm2mValue])[],
  explicitIds = false,
): MultipleResourceNode {
  const instances: ResourceInstanceNode[] = [];
  for (let i = 0; i < values.length; i++) {
    if (explicitIds) {
      const [riid, v] = values[i] as readonly [number, Lwm2mValue];
      instances.push(resourceInstance(riid, type, v));
    } else instances.push(resourceInstance(i, type, values[i] as Lwm2mValue));
  }
  return { kind: 'multipleResource', id, type, instances };
}

export const objectInstance = (id: number, resources: readonly ResourceNode[]): ObjectInstanceNode => ({
  kind: 'objectInstance',
  id,
  resources,
});

export const objectNode = (id: number, instances: readonly ObjectInstanceNode[]): ObjectNode => ({
  kind: 'object',
  id,
  instances,
});

/** Number of path ids that address a node of this kind (object 1, instance 2, resource 3, r. instance 4). */
export function nodeDepth(node: Lwm2mNode): number {
  switch (node.kind) {
    case 'object':
      return 1;
    case 'objectInstance':
      return 2;
    case 'resource':
    case 'multipleResource':
      return 3;
    case 'resourceInstance':
      return 4;
  }
}
