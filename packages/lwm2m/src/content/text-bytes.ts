/**
 * UTF-8 → string for the codecs. ASCII (the common case: names, numbers, most strings) becomes one flat
 * string through `String.fromCharCode`, in chunks; anything else goes through coap-core's `readUtf8`
 * (WHATWG replacement semantics). Building strings one character at a time leaves V8 a rope of cons
 * strings per value, which costs more to keep than to make.
 */
import { readUtf8 } from '@thimble/coap-core';

const CHUNK = 4096;

export function utf8Text(bytes: Uint8Array, start = 0, end = bytes.length): string {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return readUtf8(bytes, start, end);
  if (end - start <= CHUNK)
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  let out = '';
  for (let i = start; i < end; i += CHUNK) {
    out += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(end, i + CHUNK)) as unknown as number[],
    );
  }
  return out;
}
