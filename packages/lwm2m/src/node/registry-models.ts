/// <reference types="node" />
/**
 * Node-only: the OMA LwM2M registry's common object definitions shipped with the package as DDF XML
 * (`packages/lwm2m/models/`, with their license), for a server that should read and write the standard
 * objects it has no built-in definition for.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ObjectDefinition } from '../model/definitions.js';
import type { ObjectRegistry } from '../model/registry.js';
import { loadObjectDefinitionDirectory } from './ddf.js';

/** This module's folder, in the ESM and the CJS build alike. */
function here(): string {
  if (typeof __dirname === 'string') return __dirname;
  return dirname(fileURLToPath(import.meta.url));
}

/**
 * The folder of the shipped registry definitions: `models/` of the package, found from this module's
 * folder (`src/node/`, or a `dist/` folder of the build), or undefined when it is not there.
 */
export function registryModelsDirectory(): string | undefined {
  let dir = here();
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'models');
    if (existsSync(join(candidate, 'LICENSE')) && existsSync(join(candidate, '3.xml'))) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * Adds the shipped registry definitions of the objects `registry` does not define yet (built-in and
 * earlier definitions win); returns the definitions added.
 */
export async function loadRegistryModels(registry: ObjectRegistry): Promise<ObjectDefinition[]> {
  const dir = registryModelsDirectory();
  if (dir === undefined) return [];
  const added: ObjectDefinition[] = [];
  for (const def of await loadObjectDefinitionDirectory(dir)) {
    if (registry.has(def.id)) continue;
    registry.add(def);
    added.push(def);
  }
  return added;
}
