/**
 * The plaintext of an OSCORE message (RFC 8613 §5.3): the original Code, the Class E options in CoAP
 * option encoding (RFC 7252 §3.1), and, if there is a payload, 0xFF and the payload.
 */
import {
  CoapEncodeError,
  type CoapOption,
  type CoapOptionInit,
  encodedLength,
  encodeMessageInto,
} from '@thimble/coap-core';
import { OscoreError } from './errors.js';

// Scratch space for the plaintext: the AEAD reads it synchronously, so one buffer serves every call.
let scratch = new Uint8Array(2048);
const MAX_SCRATCH = 65536;

/**
 * Encodes code, inner options and payload as a plaintext (§5.3), at most `maxLength` bytes. The result is a view into a shared
 * scratch buffer, valid until the next call: pass it straight to the AEAD.
 */
export function encodePlaintext(
  code: number,
  options: readonly CoapOptionInit[],
  payload: Uint8Array | undefined,
  maxLength = Number.POSITIVE_INFINITY,
): Uint8Array {
  // The CoAP encoder writes a 4-byte header, no token, then options and payload; the code goes into the
  // byte just before the options, so [code, options..., 0xFF, payload] is contiguous.
  const message = { type: 0 as const, code: 1, messageId: 0, options, payload };
  let target = scratch;
  let written: number;
  try {
    written = encodeMessageInto(message, target, 0);
  } catch (e) {
    if (!(e instanceof CoapEncodeError)) throw e;
    if (e.reason !== 'buffer-too-small') {
      throw new OscoreError('invalid-message', e.message, undefined, { cause: e });
    }
    const size = encodedLength(message);
    if (size - 3 > maxLength) throw tooLong(size - 3, maxLength);
    // Grow the shared buffer up to 64 KiB; anything larger gets a one-off buffer (bounded memory).
    target = new Uint8Array(size);
    if (size <= MAX_SCRATCH) scratch = target;
    written = encodeMessageInto(message, target, 0);
  }
  if (written - 3 > maxLength) throw tooLong(written - 3, maxLength);
  target[3] = code;
  return target.subarray(3, written);
}

function tooLong(length: number, maxLength: number): OscoreError {
  return new OscoreError(
    'invalid-message',
    `plaintext of ${length} bytes exceeds the AEAD limit of ${maxLength}`,
  );
}

export interface Plaintext {
  readonly code: number;
  /** Views into the plaintext. */
  readonly options: CoapOption[];
  readonly payload: Uint8Array | undefined;
}

function bad(detail: string): OscoreError {
  return new OscoreError('malformed-plaintext', detail);
}

/** Parses a decrypted plaintext (§5.3). Throws `OscoreError('malformed-plaintext')`. */
export function decodePlaintext(bytes: Uint8Array): Plaintext {
  const len = bytes.length;
  if (len < 1) throw bad('empty plaintext');
  const code = bytes[0]!;
  const options: CoapOption[] = [];
  let pos = 1;
  let number = 0;
  let payload: Uint8Array | undefined;
  while (pos < len) {
    const first = bytes[pos++]!;
    if (first === 0xff) {
      if (pos === len) throw bad('payload marker without payload');
      payload = bytes.subarray(pos);
      break;
    }
    let delta = first >>> 4;
    let length = first & 15;
    if (delta === 15 || length === 15) throw bad('reserved option nibble');
    if (delta === 13) {
      if (pos >= len) throw bad('truncated option');
      delta = 13 + bytes[pos++]!;
    } else if (delta === 14) {
      if (pos + 2 > len) throw bad('truncated option');
      delta = 269 + ((bytes[pos]! << 8) | bytes[pos + 1]!);
      pos += 2;
    }
    if (length === 13) {
      if (pos >= len) throw bad('truncated option');
      length = 13 + bytes[pos++]!;
    } else if (length === 14) {
      if (pos + 2 > len) throw bad('truncated option');
      length = 269 + ((bytes[pos]! << 8) | bytes[pos + 1]!);
      pos += 2;
    }
    number += delta;
    if (number > 0xffff) throw bad('option number above 65535');
    if (number === 9) throw bad('nested OSCORE option (§4.1.3.7)');
    if (pos + length > len) throw bad('truncated option value');
    options.push({ number, value: bytes.subarray(pos, pos + length) });
    pos += length;
  }
  return { code, options, payload };
}
