/// <reference types="node" />
/** Node-only: loads OMA DDF XML object definitions from files and folders. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DdfError, parseObjectDefinitionXml } from '../model/ddf.js';
import type { ObjectDefinition } from '../model/definitions.js';
import type { ObjectRegistry } from '../model/registry.js';

const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** Reads and parses one DDF file; errors (`DdfError`) name the file. */
export async function loadObjectDefinitionFile(path: string): Promise<ObjectDefinition[]> {
  const info = await stat(path);
  if (info.size > MAX_FILE_BYTES) throw new DdfError('too-large', path, `file is ${info.size} bytes`);
  return parseObjectDefinitionXml(await readFile(path, 'utf8'), path);
}

/** Every `*.xml` in a folder (not recursive), sorted by file name. */
export async function loadObjectDefinitionDirectory(dir: string): Promise<ObjectDefinition[]> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.xml')).sort();
  const out: ObjectDefinition[] = [];
  for (const n of names) out.push(...(await loadObjectDefinitionFile(join(dir, basename(n)))));
  return out;
}

/** Loads DDF files into a registry (`replace` lets them override built-in definitions). */
export async function addObjectDefinitionFiles(
  registry: ObjectRegistry,
  paths: readonly string[],
  replace = false,
): Promise<ObjectDefinition[]> {
  const all: ObjectDefinition[] = [];
  for (const p of paths) {
    const defs = (await stat(p)).isDirectory()
      ? await loadObjectDefinitionDirectory(p)
      : await loadObjectDefinitionFile(p);
    for (const d of defs) registry.add(d, replace);
    all.push(...defs);
  }
  return all;
}
