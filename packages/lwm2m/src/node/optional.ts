/**
 * The Node server's dependencies (fastify, @fastify/swagger, better-sqlite3) are optional peer
 * dependencies of @thimble/lwm2m: a device that uses only the client installs none of them (nothing to
 * compile). They are loaded when a server piece is first used; a missing one is an `Error` saying what to
 * install.
 */
import { createRequire } from 'node:module';

function missing(e: unknown, name: string): boolean {
  const code = (e as { code?: unknown }).code;
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    String((e as Error).message).includes(name)
  );
}

function needs(name: string, feature: string, e: unknown): Error {
  return new Error(`${feature} needs the package ${name}: npm install ${name}`, { cause: e });
}

/** Imports an optional dependency (ESM or CommonJS) for `feature`. */
export async function importOptional<T>(name: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    throw missing(e, name) ? needs(name, feature, e) : e;
  }
}

/** Requires an optional CommonJS dependency synchronously for `feature`. */
export function requireOptional<T>(name: string, feature: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (e) {
    throw missing(e, name) ? needs(name, feature, e) : e;
  }
}
