/**
 * A slab allocator for small outgoing datagrams. `new Uint8Array(n)` costs 400+ ns on V8 (each one is a
 * separately allocated, zero-filled ArrayBuffer); a view into a shared slab costs ~40 ns. Like Node's
 * Buffer pool, a view keeps its slab alive, so only small allocations come from the pool and the slab is
 * small: at worst a retained 2 KiB message pins one 32 KiB slab.
 *
 * Encoders reserve an upper bound, write into `slabBytes()` at the returned offset, then `commit` the
 * bytes actually written and get their view; nothing is committed if the encoder throws.
 */
import { utf8Encode, writeUtf8 } from './bytes.js';

const SLAB_SIZE = 32 * 1024;
/** Largest reservation served from the slab. */
export const MAX_POOLED = 2 * 1024;

let slab = new ArrayBuffer(SLAB_SIZE);
let bytes = new Uint8Array(slab);
let used = 0;

/** Makes room for `size` (≤ MAX_POOLED) bytes and returns the offset in `slabBytes()` to write at. */
export function reserve(size: number): number {
  if (used + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    bytes = new Uint8Array(slab);
    used = 0;
  }
  return used;
}

/** The current slab, valid until the next `reserve`. */
export function slabBytes(): Uint8Array {
  return bytes;
}

/** Takes `length` bytes from `offset` (as returned by `reserve`) and returns their view. */
export function commit(offset: number, length: number): Uint8Array {
  used = (offset + length + 7) & ~7; // keep views 8-byte aligned
  return new Uint8Array(slab, offset, length);
}

/** A payload given as bytes or text, as bytes (short text encoded into the slab). */
export function toBytes(payload: Uint8Array | string | undefined): Uint8Array | undefined {
  if (typeof payload !== 'string') return payload;
  // A short string is encoded into the shared slab (a view costs far less than a new ArrayBuffer); the
  // bytes are copied into the encoded message right away, so the view never outlives this request.
  if (payload.length * 3 <= MAX_POOLED) {
    const start = reserve(payload.length * 3);
    return commit(start, writeUtf8(payload, slabBytes(), start) - start);
  }
  return utf8Encode(payload);
}
