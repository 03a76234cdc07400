import { Lwm2mError } from '../util/errors.js';
import type { ObjectDefinition, ResourceDefinition } from './definitions.js';
import { findResource } from './definitions.js';

export type ObjectRegistryErrorReason = 'invalid-definition' | 'duplicate-object';

export class ObjectRegistryError extends Lwm2mError<ObjectRegistryErrorReason> {
  override readonly name = 'ObjectRegistryError';
}

/** What codecs need from a model: object and resource definitions by id. */
export interface Lwm2mModel {
  getObject(objectId: number): ObjectDefinition | undefined;
  getResource(objectId: number, resourceId: number): ResourceDefinition | undefined;
}

const isId = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 65534;

/** Throws `ObjectRegistryError` when a definition is not usable (bad ids, duplicate resource ids). */
export function validateObjectDefinition(def: ObjectDefinition): void {
  if (!isId(def.id))
    throw new ObjectRegistryError('invalid-definition', `object id ${def.id} is not 0–65534`);
  const seen: number[] = [];
  for (const r of def.resources) {
    if (!isId(r.id)) {
      throw new ObjectRegistryError(
        'invalid-definition',
        `object ${def.id}: resource id ${r.id} is not 0–65534`,
      );
    }
    if (seen.indexOf(r.id) >= 0) {
      throw new ObjectRegistryError('invalid-definition', `object ${def.id}: resource ${r.id} defined twice`);
    }
    seen.push(r.id);
  }
}

/**
 * Object definitions by id. Starts with whatever definitions it is given (usually `BUILTIN_OBJECTS`);
 * users add their own with `add` (for example loaded from DDF XML). Plain object lookup, no Map, so the
 * client side stays ES2015-friendly.
 */
export class ObjectRegistry implements Lwm2mModel {
  private readonly objects: { [id: number]: ObjectDefinition | undefined } = {};

  constructor(definitions: readonly ObjectDefinition[] = []) {
    for (const d of definitions) this.add(d);
  }

  /**
   * Adds a definition. A second definition for the same object id throws, unless `replace` is true
   * (a newer object version, say).
   */
  add(def: ObjectDefinition, replace = false): void {
    validateObjectDefinition(def);
    if (!replace && this.objects[def.id] !== undefined) {
      throw new ObjectRegistryError('duplicate-object', `object ${def.id} is already defined`);
    }
    this.objects[def.id] = def;
  }

  getObject(objectId: number): ObjectDefinition | undefined {
    return this.objects[objectId];
  }

  getResource(objectId: number, resourceId: number): ResourceDefinition | undefined {
    const o = this.objects[objectId];
    return o === undefined ? undefined : findResource(o, resourceId);
  }

  has(objectId: number): boolean {
    return this.objects[objectId] !== undefined;
  }

  /** Every definition, by increasing object id. */
  list(): ObjectDefinition[] {
    const out: ObjectDefinition[] = [];
    for (const k of Object.keys(this.objects)) {
      const d = this.objects[Number(k)];
      if (d !== undefined) out.push(d);
    }
    return out.sort((a, b) => a.id - b.id);
  }
}
