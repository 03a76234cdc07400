/**
 * LwM2M paths (LwM2M TS Core 1.1, "Identifiers": `/{Object ID}/{Object Instance}/{Resource ID}/{Resource
 * Instance}`). A path is a plain array of 0 to 4 ids; `[]` is the root `/`. Ids are 0–65534: 65535 is
 * reserved (TS Core 1.1, "MAX_ID").
 */
import { Lwm2mError } from '../util/errors.js';

export type Lwm2mPath = readonly number[];

export const MAX_ID = 65534;

export type Lwm2mPathErrorReason = 'syntax' | 'invalid-id' | 'too-long';

export class Lwm2mPathError extends Lwm2mError<Lwm2mPathErrorReason> {
  override readonly name = 'Lwm2mPathError';
}

export type PathLevel = 'root' | 'object' | 'instance' | 'resource' | 'resourceInstance';
const LEVELS: readonly PathLevel[] = ['root', 'object', 'instance', 'resource', 'resourceInstance'];

export const isValidId = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= MAX_ID;

/** Parses `/3/0/1/2`, `/3`, `/` (also accepts a trailing slash and no leading slash, like `3/0/`). */
export function parseLwm2mPath(text: string): Lwm2mPath {
  if (text.length > 32) throw new Lwm2mPathError('too-long', `path "${text.slice(0, 32)}…" is too long`);
  let start = text.charCodeAt(0) === 0x2f ? 1 : 0;
  let end = text.length;
  if (end > start && text.charCodeAt(end - 1) === 0x2f) end--;
  const out: number[] = [];
  if (start >= end) return out;
  // A hand-written scan (no regex, no split): paths are parsed once per SenML record.
  for (;;) {
    let v = 0;
    let i = start;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x2f) break;
      if (c < 0x30 || c > 0x39 || i - start >= 5) {
        throw new Lwm2mPathError('syntax', `path "${text}": "${text.slice(start, i + 1)}" is not an id`);
      }
      v = v * 10 + (c - 0x30);
    }
    if (i === start) throw new Lwm2mPathError('syntax', `path "${text}" has an empty segment`);
    if (v > MAX_ID) throw new Lwm2mPathError('invalid-id', `path "${text}": ${v} is above ${MAX_ID}`);
    if (out.length === 4) throw new Lwm2mPathError('too-long', `path "${text}" has more than 4 segments`);
    out.push(v);
    if (i >= end) return out;
    start = i + 1;
  }
}

/** Throws `Lwm2mPathError` unless `path` has 0–4 ids in 0–65534. */
export function validateLwm2mPath(path: Lwm2mPath): void {
  if (path.length > 4) throw new Lwm2mPathError('too-long', 'a path has at most 4 ids');
  for (const n of path)
    if (!isValidId(n)) throw new Lwm2mPathError('invalid-id', `${n} is not an id 0–65534`);
}

/** `[3, 0, 1]` → `/3/0/1`; `[]` → `/`. */
export function formatLwm2mPath(path: Lwm2mPath): string {
  validateLwm2mPath(path);
  return path.length === 0 ? '/' : `/${path.join('/')}`;
}

export function pathLevel(path: Lwm2mPath): PathLevel {
  validateLwm2mPath(path);
  return LEVELS[path.length]!;
}

/** True when `prefix` is `path` or one of its ancestors. */
export function isPathPrefix(prefix: Lwm2mPath, path: Lwm2mPath): boolean {
  if (prefix.length > path.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== path[i]) return false;
  return true;
}

export function pathsEqual(a: Lwm2mPath, b: Lwm2mPath): boolean {
  return a.length === b.length && isPathPrefix(a, b);
}
