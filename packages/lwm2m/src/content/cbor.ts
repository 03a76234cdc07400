/** cbor-x configured for the LwM2M formats: integer-keyed maps as `Map`, no records, no typed-array tags. */
import { Decoder, Encoder } from 'cbor-x';
import { Lwm2mContentError } from './errors.js';

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false, bundleStrings: false });
const encoder = new Encoder({
  mapsAsObjects: false,
  useRecords: false,
  variableMapSize: true,
  tagUint8Array: false,
  bundleStrings: false,
});

/**
 * Most containers (arrays, maps, tags, indefinite-length strings) a CBOR payload may nest. The deepest
 * legitimate LwM2M payload is an LwM2M CBOR resource instance: map → map → map → map, plus a tag-1 time
 * (LwM2M TS Core §7.4); SenML CBOR needs array → map → value. 16 leaves ample room.
 */
export const MAX_CBOR_DEPTH = 16;

const INDEFINITE = -1;

/**
 * Checks, without recursion and in one linear pass over the heads, that no data item in `bytes` nests
 * containers deeper than `maxDepth` (RFC 8949 §3: an array or map holds items, a tag (major type 6) wraps
 * one, an indefinite-length item runs to its "break" §3.2.1). Returns false when it does; true otherwise,
 * including for bytes that are not well-formed, which the decoder itself then refuses.
 */
export function cborNestingWithin(bytes: Uint8Array, maxDepth: number): boolean {
  // remaining[i]: items still expected by the i-th open container (INDEFINITE: until a break)
  const remaining: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const initial = bytes[pos++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    let completed: boolean;
    if (initial === 0xff) {
      // break: closes the innermost indefinite-length container
      if (remaining.length === 0 || remaining[remaining.length - 1] !== INDEFINITE) return true;
      remaining.pop();
      completed = true;
    } else {
      let arg: number;
      if (info < 24) arg = info;
      else if (info <= 27) {
        const n = 1 << (info - 24);
        if (pos + n > bytes.length) return true;
        arg = 0;
        for (let i = 0; i < n; i++) arg = arg * 256 + bytes[pos + i]!;
        pos += n;
      } else if (info === 31 && major >= 2 && major <= 5) arg = INDEFINITE;
      else return true; // reserved additional information (§3): not well-formed
      let items = 0;
      if (major === 2 || major === 3) {
        if (arg === INDEFINITE) items = INDEFINITE;
        else {
          if (arg > bytes.length - pos) return true;
          pos += arg;
        }
      } else if (major === 4) items = arg;
      else if (major === 5) items = arg === INDEFINITE ? INDEFINITE : arg * 2;
      else if (major === 6) items = 1;
      if (items !== 0) {
        if (remaining.length >= maxDepth) return false;
        remaining.push(items);
        continue;
      }
      completed = true;
    }
    // an item is complete: count it in its container, closing every container it completes
    while (completed && remaining.length > 0) {
      const top = remaining.length - 1;
      if (remaining[top] === INDEFINITE) break;
      remaining[top]!--;
      if (remaining[top]! > 0) break;
      remaining.pop();
    }
  }
  return true;
}

/**
 * Decodes one CBOR data item; nesting deeper than `MAX_CBOR_DEPTH` is refused first (`too-deep`), before the
 * recursive decoder sees it; any failure of the decoder becomes `Lwm2mContentError` (`malformed`).
 */
export function cborDecode(bytes: Uint8Array, format: number): unknown {
  if (!cborNestingWithin(bytes, MAX_CBOR_DEPTH)) {
    throw new Lwm2mContentError('too-deep', `CBOR: nested deeper than ${MAX_CBOR_DEPTH} levels`, { format });
  }
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new Lwm2mContentError('malformed', `CBOR: ${(e as Error).message ?? 'invalid data'}`, { format });
  }
}

/**
 * Encodes one CBOR data item. cbor-x returns a Buffer view into its reusable output buffer: copied into a
 * plain Uint8Array so the caller owns it and portable code never sees a Node Buffer object.
 */
export function cborEncode(value: unknown): Uint8Array {
  return new Uint8Array(encoder.encode(value));
}
