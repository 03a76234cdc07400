/**
 * JavaScript representation of LwM2M resource values (LwM2M TS Core 1.1 Appendix C "Data Types"):
 *
 * | LwM2M type       | JS value                                                                       |
 * |------------------|--------------------------------------------------------------------------------|
 * | Integer          | `number` when a safe integer, else `bigint`; signed 64-bit range               |
 * | Unsigned Integer | `number` when a safe integer, else `bigint`; 0 … 2^64−1                        |
 * | Float            | `number` (a Float32 in TLV when it fits exactly, else Float64)                 |
 * | Boolean          | `boolean`                                                                      |
 * | String           | `string`                                                                       |
 * | Opaque           | `Uint8Array`                                                                   |
 * | Time             | `number`: whole seconds since 1970-01-01T00:00:00Z (a safe integer; negative   |
 * |                  | allowed). Not `Date`: codecs carry integers and `new Date(t * 1000)` is easy.  |
 * | Objlnk           | `{ objectId, instanceId }`, each 0–65535 (`65535:65535` is the null link)      |
 * | Corelnk          | `string` (the link-format text)                                                |
 *
 * Decoders always return the canonical form: an integer in the safe range is a `number`, never a
 * `bigint`, so values compare with `===` / deep equality.
 */

import { Lwm2mError } from '../util/errors.js';
import type { ResourceType } from './definitions.js';

export interface ObjectLink {
  readonly objectId: number;
  readonly instanceId: number;
}

export type Lwm2mValue = number | bigint | boolean | string | Uint8Array | ObjectLink;

export type Lwm2mValueErrorReason = 'wrong-type' | 'out-of-range' | 'syntax';

export class Lwm2mValueError extends Lwm2mError<Lwm2mValueErrorReason> {
  override readonly name = 'Lwm2mValueError';
  readonly type: ResourceType;
  constructor(reason: Lwm2mValueErrorReason, type: ResourceType, message: string) {
    super(reason, message);
    this.type = type;
  }
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;

/** A bigint or integer number as its canonical form (number when safe). */
export function canonicalInteger(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

const describe = (v: unknown): string =>
  v instanceof Uint8Array ? 'bytes' : v === null ? 'null' : typeof v === 'object' ? 'object' : typeof v;

function toInteger(type: ResourceType, v: unknown, min: bigint, max: bigint): number | bigint {
  if (typeof v === 'number') {
    if (!Number.isInteger(v))
      throw new Lwm2mValueError('wrong-type', type, `${type} value ${v} is not an integer`);
    // Every safe integer is inside the signed 64-bit range: only the unsigned lower bound can fail.
    if (Number.isSafeInteger(v)) {
      if (v < 0 && min === 0n)
        throw new Lwm2mValueError('out-of-range', type, `${type} value ${v} is out of range`);
      return v;
    }
    return toInteger(type, BigInt(v), min, max);
  }
  if (typeof v !== 'bigint')
    throw new Lwm2mValueError('wrong-type', type, `${type} expects an integer, got ${describe(v)}`);
  if (v < min || v > max)
    throw new Lwm2mValueError('out-of-range', type, `${type} value ${v} is out of range`);
  return canonicalInteger(v);
}

/**
 * Checks that `value` is a valid JS value for `type` and returns its canonical form. Throws
 * `Lwm2mValueError` otherwise.
 */
export function normalizeValue(type: ResourceType, value: unknown): Lwm2mValue {
  switch (type) {
    case 'Integer':
      return toInteger(type, value, INT64_MIN, INT64_MAX);
    case 'Unsigned Integer':
      return toInteger(type, value, 0n, UINT64_MAX);
    case 'Time': {
      const t = toInteger(type, value, INT64_MIN, INT64_MAX);
      if (typeof t === 'bigint') throw new Lwm2mValueError('out-of-range', type, `Time ${t} is out of range`);
      return t;
    }
    case 'Float':
      if (typeof value === 'number') return value;
      throw new Lwm2mValueError('wrong-type', type, `Float expects a number, got ${describe(value)}`);
    case 'Boolean':
      if (typeof value === 'boolean') return value;
      throw new Lwm2mValueError('wrong-type', type, `Boolean expects a boolean, got ${describe(value)}`);
    case 'String':
    case 'Corelnk':
      if (typeof value === 'string') return value;
      throw new Lwm2mValueError('wrong-type', type, `${type} expects a string, got ${describe(value)}`);
    case 'Opaque':
      if (value instanceof Uint8Array) return value;
      throw new Lwm2mValueError('wrong-type', type, `Opaque expects a Uint8Array, got ${describe(value)}`);
    case 'Objlnk': {
      const o = value as Partial<ObjectLink> | null;
      if (
        typeof o === 'object' &&
        o !== null &&
        !(o instanceof Uint8Array) &&
        isU16(o.objectId) &&
        isU16(o.instanceId)
      ) {
        return { objectId: o.objectId, instanceId: o.instanceId };
      }
      throw new Lwm2mValueError('wrong-type', type, 'Objlnk expects { objectId, instanceId } of 0–65535');
    }
    case 'none':
      throw new Lwm2mValueError('wrong-type', type, 'a resource of type none (Execute) has no value');
  }
}

const isU16 = (n: unknown): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;

// ---- Plain-text representation (LwM2M TS Core 1.1 §7.4, "Plain Text" data format) --------------------------

const INT_RE = /^[+-]?[0-9]{1,20}$/;
const FLOAT_RE = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

/** Formats a value as LwM2M plain text: decimal numbers, Boolean "0"/"1", Objlnk "3:0", Opaque base64. */
export function valueToText(type: ResourceType, value: Lwm2mValue): string {
  const v = normalizeValue(type, value);
  switch (type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Time':
      return String(v);
    case 'Float': {
      const f = v as number;
      if (!Number.isFinite(f)) throw new Lwm2mValueError('out-of-range', type, `${f} has no text form`);
      return String(f);
    }
    case 'Boolean':
      return v ? '1' : '0';
    case 'Opaque':
      return base64Encode(v as Uint8Array);
    case 'Objlnk': {
      const o = v as ObjectLink;
      return `${o.objectId}:${o.instanceId}`;
    }
    default:
      return v as string;
  }
}

/** Parses LwM2M plain text for `type`; throws `Lwm2mValueError` with reason `syntax` / `out-of-range`. */
export function valueFromText(type: ResourceType, text: string): Lwm2mValue {
  switch (type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Time': {
      if (!INT_RE.test(text)) throw new Lwm2mValueError('syntax', type, `"${clip(text)}" is not an integer`);
      return normalizeValue(type, BigInt(text));
    }
    case 'Float':
      if (!FLOAT_RE.test(text)) throw new Lwm2mValueError('syntax', type, `"${clip(text)}" is not a number`);
      return Number(text);
    case 'Boolean':
      if (text === '0') return false;
      if (text === '1') return true;
      throw new Lwm2mValueError('syntax', type, `"${clip(text)}" is not a Boolean ("0" or "1")`);
    case 'Opaque':
      return base64Decode(text);
    case 'Objlnk': {
      const m = /^([0-9]{1,5}):([0-9]{1,5})$/.exec(text);
      if (m === null) throw new Lwm2mValueError('syntax', type, `"${clip(text)}" is not an Objlnk "a:b"`);
      return normalizeValue(type, { objectId: Number(m[1]), instanceId: Number(m[2]) });
    }
    case 'none':
      throw new Lwm2mValueError('wrong-type', type, 'a resource of type none (Execute) has no value');
    default:
      return text;
  }
}

const clip = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

// ---- Base64 (RFC 4648 §4, and §5 "base64url" accepted on input) ------------------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  t[0x2d] = 62; // '-' (base64url)
  t[0x5f] = 63; // '_' (base64url)
  return t;
})();

/** Standard base64 with padding (RFC 4648 §4), or base64url without padding (§5) when `url` is true. */
export function base64Encode(bytes: Uint8Array, url = false): string {
  const alphabet = url ? `${B64.slice(0, 62)}-_` : B64;
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (url ? '' : '==');
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (url ? '' : '=');
  }
  return out;
}

/** Decodes base64 or base64url, padded or not. Throws `Lwm2mValueError` (`syntax`) on bad input. */
export function base64Decode(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  if (text.length - end > 2 || end % 4 === 1 || (text.length !== end && text.length % 4 !== 0)) {
    throw new Lwm2mValueError('syntax', 'Opaque', 'invalid base64 length or padding');
  }
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c]! : -1;
    if (v < 0) throw new Lwm2mValueError('syntax', 'Opaque', `invalid base64 character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
