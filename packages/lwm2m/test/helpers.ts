import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromHex } from '@thimble/coap-core';
import {
  BUILTIN_OBJECTS,
  type Lwm2mNode,
  type ObjectDefinition,
  ObjectRegistry,
  type ResourceType,
} from '@thimble/lwm2m';

export function loadVectors<T>(relativePath: string): T {
  const url = new URL(`../../../test-vectors/${relativePath}`, import.meta.url);
  return JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as T;
}

export const vectorPath = (relativePath: string): string =>
  fileURLToPath(new URL(`../../../test-vectors/${relativePath}`, import.meta.url));

/** JSON node notation of the vector files → nodes ($bigint → bigint, $hex → Uint8Array). */
export function nodeFromJson(json: unknown): Lwm2mNode {
  const revive = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(revive);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.$bigint === 'string') return BigInt(o.$bigint);
      if (typeof o.$hex === 'string') return fromHex(o.$hex);
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o)) out[k] = revive(o[k]);
      return out;
    }
    return v;
  };
  return revive(json) as Lwm2mNode;
}

export interface VectorModel {
  multiple: boolean;
  resources: [number, ResourceType, boolean][];
}

/** The built-in registry plus the example objects the TS defines for its examples. */
export function registryWith(extra: Record<string, VectorModel> = {}): ObjectRegistry {
  const reg = new ObjectRegistry(BUILTIN_OBJECTS);
  for (const [id, m] of Object.entries(extra)) {
    const def: ObjectDefinition = {
      id: Number(id),
      name: `Example ${id}`,
      version: '1.0',
      lwm2mVersion: '1.0',
      multiple: m.multiple,
      mandatory: false,
      resources: m.resources.map(([rid, type, multiple]) => ({
        id: rid,
        name: `r${rid}`,
        operations: 'RW',
        multiple,
        mandatory: false,
        type,
      })),
    };
    reg.add(def);
  }
  return reg;
}
