/**
 * LwM2M object and resource definitions (LwM2M TS Core 1.1, "Resource Model" and the appendix on Object and
 * Resource definitions and the OMA DDF schema LWM2M.xsd).
 */

/** Data types of LwM2M TS Core 1.1 Appendix C ("none" is the type of Executable resources). */
export type ResourceType =
  | 'String'
  | 'Integer'
  | 'Unsigned Integer'
  | 'Float'
  | 'Boolean'
  | 'Opaque'
  | 'Time'
  | 'Objlnk'
  | 'Corelnk'
  | 'none';

export const RESOURCE_TYPES: readonly ResourceType[] = [
  'String',
  'Integer',
  'Unsigned Integer',
  'Float',
  'Boolean',
  'Opaque',
  'Time',
  'Objlnk',
  'Corelnk',
  'none',
];

/** Operations of a resource: Read, Write, Read+Write, Execute, or none (TS Core 1.1 Appendix D.1). */
export type ResourceOperations = 'R' | 'W' | 'RW' | 'E' | 'none';

export interface ResourceDefinition {
  readonly id: number;
  readonly name: string;
  readonly operations: ResourceOperations;
  /** Multiple-instance resource (`MultipleInstances` = Multiple). */
  readonly multiple: boolean;
  readonly mandatory: boolean;
  readonly type: ResourceType;
  /** `RangeEnumeration` as written in the definition (e.g. `0..100`, `1..255`), or "" when none. */
  readonly range?: string;
  readonly units?: string;
  readonly description?: string;
}

export interface ObjectDefinition {
  readonly id: number;
  readonly name: string;
  readonly description?: string;
  /** Object version (`ObjectVersion`), "1.0" when the definition does not say. */
  readonly version: string;
  /** LwM2M enabler version the object targets (`LWM2MVersion`), "1.0" when the definition does not say. */
  readonly lwm2mVersion: string;
  readonly multiple: boolean;
  readonly mandatory: boolean;
  readonly resources: readonly ResourceDefinition[];
}

/** True when the operations allow Read. */
export const isReadable = (r: ResourceDefinition): boolean => r.operations === 'R' || r.operations === 'RW';
/** True when the operations allow Write. */
export const isWritable = (r: ResourceDefinition): boolean => r.operations === 'W' || r.operations === 'RW';
/** True for an Executable resource. */
export const isExecutable = (r: ResourceDefinition): boolean => r.operations === 'E';

/** Looks up a resource definition in an object definition (linear: objects have tens of resources). */
export function findResource(object: ObjectDefinition, resourceId: number): ResourceDefinition | undefined {
  const list = object.resources;
  for (let i = 0; i < list.length; i++) if (list[i]!.id === resourceId) return list[i];
  return undefined;
}
