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

export function parseJson(text: string, format: number): JsonValue {
  let i = 0;
  const n = text.length;
  const fail = (msg: string): never => {
    throw new Lwm2mContentError('malformed', `JSON: ${msg} at character ${i}`, { format });
  };
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  const str = (): string => {
    i++; // opening quote
    let out = '';
    let run = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(run, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(run, i);
        const e = text[i + 1];
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
            const h = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
            out += String.fromCharCode(Number.parseInt(h, 16));
            i += 4;
            break;
          }
          default:
            fail('bad escape');
        }
        run = i;
        continue;
      }
      i++;
    }
  };
  const NUM = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  const num = (): number | bigint => {
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (m === null) return fail('bad number');
    i = NUM.lastIndex;
    const s = m[0];
    if (m[2] === undefined && m[3] === undefined) {
      const v = Number(s);
      if (!Number.isSafeInteger(v)) return s.length > 40 ? fail('integer too long') : BigInt(s);
      return v;
    }
    return Number(s);
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    ws();
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      i++;
      const obj: { [key: string]: JsonValue } = {};
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 0x22) fail('expected a key');
        const k = str();
        ws();
        if (text.charCodeAt(i) !== 0x3a) fail('expected ":"');
        i++;
        const v = value(depth + 1);
        if (Object.hasOwn(obj, k)) fail(`duplicate key "${k}"`);
        Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        const d = text.charCodeAt(i++);
        if (d === 0x7d) return obj;
        if (d !== 0x2c) fail('expected "," or "}"');
      }
    }
    if (c === 0x5b) {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        const d = text.charCodeAt(i++);
        if (d === 0x5d) return arr;
        if (d !== 0x2c) fail('expected "," or "]"');
      }
    }
    if (c === 0x22) return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    return num();
  };
  const v = value(0);
  ws();
  if (i !== n) fail('trailing characters');
  return v;
}

/** JSON text of a string (RFC 8259 §7). */
export const jsonString = (s: string): string => JSON.stringify(s);

/** JSON text of a number or bigint; non-finite numbers have no JSON form. */
export function jsonNumber(v: number | bigint): string | undefined {
  if (typeof v === 'bigint') return v.toString();
  return Number.isFinite(v) ? JSON.stringify(v) : undefined;
}
