/**
 * Byte helpers that run on any JavaScript runtime: no Buffer, no TextEncoder required.
 */

/** Number of bytes `str` takes in UTF-8 (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(str: string): number {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Writes `str` as UTF-8 at `offset`; returns the offset after the last byte. The caller sized the target. */
export function writeUtf8(str: string, target: Uint8Array, offset: number): number {
  let p = offset;
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x80) {
      target[p++] = c;
      continue;
    }
    if (c < 0x800) {
      target[p++] = 0xc0 | (c >> 6);
      target[p++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < str.length ? str.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        target[p++] = 0xf0 | (c >> 18);
        target[p++] = 0x80 | ((c >> 12) & 0x3f);
        target[p++] = 0x80 | ((c >> 6) & 0x3f);
        target[p++] = 0x80 | (c & 0x3f);
        continue;
      }
      c = 0xfffd; // lone surrogate
    }
    target[p++] = 0xe0 | (c >> 12);
    target[p++] = 0x80 | ((c >> 6) & 0x3f);
    target[p++] = 0x80 | (c & 0x3f);
  }
  return p;
}

/** UTF-8 encoding of a string as a new array. */
export function utf8Encode(str: string): Uint8Array {
  const out = new Uint8Array(utf8Length(str));
  writeUtf8(str, out, 0);
  return out;
}

/** One-character strings for the ASCII range: reading `"3"` costs a table look-up, not an allocation. */
const ASCII: readonly string[] = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));

/** Longest ASCII run built by concatenation; longer ones go through `String.fromCharCode.apply`. */
const ASCII_CONCAT_MAX = 24;
/** Chunk size for `String.fromCharCode.apply` (keeps the argument count far below engine limits). */
const APPLY_CHUNK = 4096;

/**
 * Decodes UTF-8 bytes `[start, end)`; malformed sequences become U+FFFD (WHATWG "replacement" mode).
 * ASCII text (nearly every Uri-Path, Uri-Query and Location-Path segment) takes a fast path: one scan,
 * then a table look-up for a single character or one string built from the whole run.
 */
export function readUtf8(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n === 1) {
    const c = bytes[start]!;
    if (c < 0x80) return ASCII[c]!;
  } else if (n <= 0) {
    return '';
  }
  let i = start;
  while (i < end && bytes[i]! < 0x80) i++;
  if (i === end) return asciiString(bytes, start, end);
  const prefix = i === start ? '' : asciiString(bytes, start, i);
  return prefix + readUtf8Slow(bytes, i, end);
}

/** Bytes `[start, end)`, all below 0x80, as a string. */
function asciiString(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= ASCII_CONCAT_MAX) {
    let out = '';
    for (let i = start; i < end; i++) out += ASCII[bytes[i]!]!;
    return out;
  }
  let out = '';
  for (let i = start; i < end; i += APPLY_CHUNK) {
    const chunk = bytes.subarray(i, Math.min(end, i + APPLY_CHUNK));
    out += String.fromCharCode.apply(null, chunk as unknown as number[]);
  }
  return out;
}

/** The general UTF-8 decoder (from the first non-ASCII byte on). */
function readUtf8Slow(bytes: Uint8Array, start: number, end: number): string {
  let out = '';
  let i = start;
  while (i < end) {
    const b = bytes[i]!;
    if (b < 0x80) {
      out += ASCII[b]!;
      i++;
      continue;
    }
    let need = 0;
    let cp = 0;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    } else {
      out += '\ufffd';
      i++;
      continue;
    }
    let j = i + 1;
    let ok = true;
    for (let k = 0; k < need; k++, j++) {
      const c = j < end ? bytes[j]! : -1;
      if (c < lower || c > upper) {
        ok = false;
        break;
      }
      lower = 0x80;
      upper = 0xbf;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (!ok) {
      out += '\ufffd';
      i = j; // resume at the byte that broke the sequence
      continue;
    }
    out += String.fromCodePoint(cp);
    i = j;
  }
  return out;
}

export function utf8Decode(bytes: Uint8Array): string {
  return readUtf8(bytes, 0, bytes.length);
}

/** Number of bytes of the minimal big-endian encoding of a non-negative integer (RFC 7252 §3.2: 0 → 0 bytes). */
export function uintLength(value: number): number {
  if (value === 0) return 0;
  if (value < 0x100) return 1;
  if (value < 0x10000) return 2;
  if (value < 0x1000000) return 3;
  if (value < 0x100000000) return 4;
  let n = 4;
  let v = Math.floor(value / 0x100000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 256);
  }
  return n;
}

/** Writes `value` big-endian in exactly `length` bytes at `offset`. */
export function writeUint(value: number, length: number, target: Uint8Array, offset: number): void {
  if (value <= 0xffffffff) {
    for (let i = offset + length - 1, v = value >>> 0; i >= offset; i--, v >>>= 8) target[i] = v & 0xff;
    return;
  }
  let v = value;
  for (let i = offset + length - 1; i >= offset; i--) {
    target[i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** Reads a big-endian unsigned integer of up to 6 bytes (exact in a double). */
export function readUint(bytes: Uint8Array, start: number, end: number): number {
  let v = 0;
  for (let i = start; i < end; i++) v = v * 256 + bytes[i]!;
  return v;
}

/** Minimal big-endian bytes of a non-negative integer. */
export function encodeUint(value: number): Uint8Array {
  const out = new Uint8Array(uintLength(value));
  writeUint(value, out.length, out, 0);
  return out;
}

const HEX = '0123456789abcdef';

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    s += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return s;
}

/** Parses hex (whitespace ignored). Throws on odd length or non-hex characters. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new SyntaxError('invalid hex string');
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The chunks of `total` bytes as one array (the chunk itself when there is only one: no copy). */
export function concatChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
