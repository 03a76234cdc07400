/** Byte helpers for the codecs: a bounds-checked reader that throws typed errors, and a growable writer. */

import { DtlsError } from './errors.js';

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError('not a hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8; malformed input is a decode error (RFC 4279 §5.1: identities are UTF-8). */
export function fromUtf8(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new DtlsError('decode-error', `${what} is not valid UTF-8`);
  }
}

/** Reads big-endian fields; any read past the end throws `DtlsError('decode-error')` naming `what`. */
export class Reader {
  private at = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.length) throw new DtlsError('decode-error', `${this.what}: truncated`);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }

  u16(): number {
    this.need(2);
    const v = (this.bytes[this.at]! << 8) | this.bytes[this.at + 1]!;
    this.at += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = (this.bytes[this.at]! << 16) | (this.bytes[this.at + 1]! << 8) | this.bytes[this.at + 2]!;
    this.at += 3;
    return v;
  }

  u48(): number {
    const hi = this.u16();
    this.need(4);
    const b = this.bytes;
    const lo =
      ((b[this.at]! << 24) | (b[this.at + 1]! << 16) | (b[this.at + 2]! << 8) | b[this.at + 3]!) >>> 0;
    this.at += 4;
    return hi * 0x100000000 + lo;
  }

  /** A view (no copy) of the next `n` bytes. */
  bytesView(n: number): Uint8Array {
    this.need(n);
    const v = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }

  /** A vector with a 1-, 2- or 3-byte length prefix, bounded by `min`/`max` (RFC 5246 §4.3). */
  vector(lengthBytes: 1 | 2 | 3, min = 0, max = 0xffffff): Uint8Array {
    const n = lengthBytes === 1 ? this.u8() : lengthBytes === 2 ? this.u16() : this.u24();
    if (n < min || n > max)
      throw new DtlsError('decode-error', `${this.what}: vector length ${n} out of range`);
    return this.bytesView(n);
  }

  rest(): Uint8Array {
    const v = this.bytes.subarray(this.at);
    this.at = this.bytes.length;
    return v;
  }

  /** Throws when bytes are left over: every message has an exact length. */
  end(): void {
    if (this.at !== this.bytes.length) throw new DtlsError('decode-error', `${this.what}: trailing bytes`);
  }
}

/** Writes big-endian fields into a growing buffer. */
export class Writer {
  private buf: Uint8Array;
  private at = 0;
  constructor(initial = 128) {
    this.buf = new Uint8Array(initial);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  get length(): number {
    return this.at;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.at++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf[this.at++] = (v >>> 8) & 0xff;
    this.buf[this.at++] = v & 0xff;
    return this;
  }

  u24(v: number): this {
    this.room(3);
    this.buf[this.at++] = (v >>> 16) & 0xff;
    this.buf[this.at++] = (v >>> 8) & 0xff;
    this.buf[this.at++] = v & 0xff;
    return this;
  }

  u48(v: number): this {
    const hi = Math.floor(v / 0x100000000);
    this.u16(hi);
    const lo = v >>> 0;
    this.room(4);
    this.buf[this.at++] = (lo >>> 24) & 0xff;
    this.buf[this.at++] = (lo >>> 16) & 0xff;
    this.buf[this.at++] = (lo >>> 8) & 0xff;
    this.buf[this.at++] = lo & 0xff;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
    return this;
  }

  vector(lengthBytes: 1 | 2 | 3, b: Uint8Array): this {
    if (lengthBytes === 1) this.u8(b.length);
    else if (lengthBytes === 2) this.u16(b.length);
    else this.u24(b.length);
    return this.bytes(b);
  }

  /** Patches a 2-byte length at `offset` (for nested vectors written in place). */
  patchU16(offset: number, v: number): this {
    this.buf[offset] = (v >>> 8) & 0xff;
    this.buf[offset + 1] = v & 0xff;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}
