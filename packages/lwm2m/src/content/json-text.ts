/**
 * A small, bounded JSON reader and writer (RFC 8259) for the JSON content formats. Unlike `JSON.parse`
 * it keeps integers outside the safe range exact (as `bigint`, so 64-bit LwM2M integers survive), limits
 * nesting depth, and reports malformed input as `Lwm2mContentError`.
 */
import { Lwm2mContentError } from './errors.js';

export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

const MAX_DEPTH = 16;

/** Parser state: plain functions over a cursor, no closures per call (this runs per request). */
interface Cursor {
  readonly text: string;
  readonly format: number;
  i: number;
}

function fail(c: Cursor, msg: string): never {
  throw new Lwm2mContentError('malformed', `JSON: ${msg} at character ${c.i}`, { format: c.format });
}

function skipWhite(c: Cursor): void {
  const t = c.text;
  let i = c.i;
  for (;;) {
    const ch = t.charCodeAt(i);
    if (ch === 0x20 || ch === 0x09 || ch === 0x0a || ch === 0x0d) i++;
    else break;
  }
  c.i = i;
}

function readString(c: Cursor): string {
  const t = c.text;
  const n = t.length;
  let i = c.i + 1; // after the opening quote
  let out = '';
  let run = i;
  for (;;) {
    if (i >= n) {
      c.i = i;
      return fail(c, 'unterminated string');
    }
    const ch = t.charCodeAt(i);
    if (ch === 0x22) {
      c.i = i + 1;
      return out + t.slice(run, i);
    }
    if (ch < 0x20) {
      c.i = i;
      return fail(c, 'control character in string');
    }
    if (ch !== 0x5c) {
      i++;
      continue;
    }
    out += t.slice(run, i);
    const e = t[i + 1];
    i += 2;
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        const h = t.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) {
          c.i = i;
          return fail(c, 'bad \\u escape');
        }
        out += String.fromCharCode(Number.parseInt(h, 16));
        i += 4;
        break;
      }
      default:
        c.i = i;
        return fail(c, 'bad escape');
    }
    run = i;
  }
}

const NUM = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

function readNumber(c: Cursor): number | bigint {
  NUM.lastIndex = c.i;
  const m = NUM.exec(c.text);
  if (m === null) return fail(c, 'bad number');
  c.i = NUM.lastIndex;
  const s = m[0];
  if (m[2] === undefined && m[3] === undefined) {
    const v = Number(s);
    if (Number.isSafeInteger(v)) return v;
    // Integers beyond 2^53 stay exact as bigint (64-bit LwM2M Integer / Unsigned Integer).
    return s.length > 40 ? fail(c, 'integer too long') : BigInt(s);
  }
  return Number(s);
}

function readValue(c: Cursor, depth: number): JsonValue {
  if (depth > MAX_DEPTH) fail(c, 'nesting too deep');
  skipWhite(c);
  const t = c.text;
  const ch = t.charCodeAt(c.i);
  if (ch === 0x7b) {
    c.i++;
    const obj: { [key: string]: JsonValue } = {};
    skipWhite(c);
    if (t.charCodeAt(c.i) === 0x7d) {
      c.i++;
      return obj;
    }
    for (;;) {
      skipWhite(c);
      if (t.charCodeAt(c.i) !== 0x22) fail(c, 'expected a key');
      const k = readString(c);
      skipWhite(c);
      if (t.charCodeAt(c.i) !== 0x3a) fail(c, 'expected ":"');
      c.i++;
      const v = readValue(c, depth + 1);
      if (Object.hasOwn(obj, k)) fail(c, `duplicate key "${k}"`);
      // "__proto__" is stored as plain data, never as the prototype.
      if (k === '__proto__')
        Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[k] = v;
      skipWhite(c);
      const d = t.charCodeAt(c.i++);
      if (d === 0x7d) return obj;
      if (d !== 0x2c) fail(c, 'expected "," or "}"');
    }
  }
  if (ch === 0x5b) {
    c.i++;
    const arr: JsonValue[] = [];
    skipWhite(c);
    if (t.charCodeAt(c.i) === 0x5d) {
      c.i++;
      return arr;
    }
    for (;;) {
      arr.push(readValue(c, depth + 1));
      skipWhite(c);
      const d = t.charCodeAt(c.i++);
      if (d === 0x5d) return arr;
      if (d !== 0x2c) fail(c, 'expected "," or "]"');
    }
  }
  if (ch === 0x22) return readString(c);
  if (t.startsWith('true', c.i)) {
    c.i += 4;
    return true;
  }
  if (t.startsWith('false', c.i)) {
    c.i += 5;
    return false;
  }
  if (t.startsWith('null', c.i)) {
    c.i += 4;
    return null;
  }
  return readNumber(c);
}

export function parseJson(text: string, format: number): JsonValue {
  const c: Cursor = { text, format, i: 0 };
  const v = readValue(c, 0);
  skipWhite(c);
  if (c.i !== text.length) fail(c, 'trailing characters');
  return v;
}

/** JSON text of a string (RFC 8259 §7). */
export const jsonString = (s: string): string => JSON.stringify(s);

/** JSON text of a number or bigint; non-finite numbers have no JSON form. */
export function jsonNumber(v: number | bigint): string | undefined {
  if (typeof v === 'bigint') return v.toString();
  return Number.isFinite(v) ? JSON.stringify(v) : undefined;
}
