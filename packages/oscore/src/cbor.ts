/**
 * The few CBOR (RFC 8949) items OSCORE needs, written exactly and without allocation: the `info` array of
 * RFC 8613 §3.2.1 and the AAD of §5.4. Only definite-length, preferred (shortest) encodings are produced,
 * which is what COSE (RFC 9052 §9) requires for these structures. Tests cross-check against cbor-x.
 */

export const MAJOR_UINT = 0;
export const MAJOR_NINT = 1;
export const MAJOR_BSTR = 2;
export const MAJOR_TSTR = 3;
export const MAJOR_ARRAY = 4;
export const CBOR_NULL = 0xf6;

/** Size of the head (initial byte + argument) of an item with argument `value`. */
export function headLength(value: number): number {
  return value < 24 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x100000000 ? 5 : 9;
}

/** Writes the head of an item of `major` type with argument `value` at `pos`; returns the new position. */
export function writeHead(major: number, value: number, out: Uint8Array, pos: number): number {
  const m = major << 5;
  if (value < 24) {
    out[pos] = m | value;
    return pos + 1;
  }
  if (value < 0x100) {
    out[pos] = m | 24;
    out[pos + 1] = value;
    return pos + 2;
  }
  if (value < 0x10000) {
    out[pos] = m | 25;
    out[pos + 1] = value >>> 8;
    out[pos + 2] = value & 0xff;
    return pos + 3;
  }
  if (value < 0x100000000) {
    out[pos] = m | 26;
    out[pos + 1] = value >>> 24;
    out[pos + 2] = (value >>> 16) & 0xff;
    out[pos + 3] = (value >>> 8) & 0xff;
    out[pos + 4] = value & 0xff;
    return pos + 5;
  }
  out[pos] = m | 27;
  let v = value;
  for (let i = 8; i >= 1; i--) {
    out[pos + i] = v % 256;
    v = Math.floor(v / 256);
  }
  return pos + 9;
}

/** Writes a byte string at `pos`; returns the new position. */
export function writeBytes(bytes: Uint8Array, out: Uint8Array, pos: number): number {
  let p = writeHead(MAJOR_BSTR, bytes.length, out, pos);
  for (let i = 0; i < bytes.length; i++) out[p++] = bytes[i]!;
  return p;
}

/** Size of an encoded integer (non-negative or negative). */
export function intLength(value: number): number {
  return headLength(value >= 0 ? value : -1 - value);
}

/** Writes a (safe) integer at `pos`; returns the new position. */
export function writeInt(value: number, out: Uint8Array, pos: number): number {
  return value >= 0 ? writeHead(MAJOR_UINT, value, out, pos) : writeHead(MAJOR_NINT, -1 - value, out, pos);
}

/** ASCII-only text string (all OSCORE labels are ASCII); returns the new position. */
export function writeAscii(text: string, out: Uint8Array, pos: number): number {
  let p = writeHead(MAJOR_TSTR, text.length, out, pos);
  for (let i = 0; i < text.length; i++) out[p++] = text.charCodeAt(i) & 0x7f;
  return p;
}

/** An algorithm identifier: an int or an ASCII tstr (RFC 8613 §3.2.1 `alg_aead : int / tstr`). */
export function algLength(id: number | string): number {
  return typeof id === 'number' ? intLength(id) : headLength(id.length) + id.length;
}

export function writeAlg(id: number | string, out: Uint8Array, pos: number): number {
  return typeof id === 'number' ? writeInt(id, out, pos) : writeAscii(id, out, pos);
}
