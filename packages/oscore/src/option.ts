/**
 * The OSCORE option value (RFC 8613 §6.1): the compressed COSE header parameters.
 *
 *    0 1 2 3 4 5 6 7
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-
 *   |0 0 0|h|k|  n  |       Partial IV (if any) ...
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-
 *   | s (if any)    | kid context (if any) ...   | kid (if any) ...
 *
 * All flag bits zero → the value is empty (§6.1). n = 6 and 7 are reserved; the three high bits are
 * reserved and must be zero. Parse errors are `OscoreError('bad-option')` (→ 4.02, §8.2 step 2).
 */
import { OscoreError } from './errors.js';

export interface OscoreOptionValue {
  /** Partial IV bytes (1–5), or undefined when n = 0. */
  readonly partialIv?: Uint8Array;
  /** kid context (flag h), or undefined. */
  readonly kidContext?: Uint8Array;
  /** kid (flag k), possibly empty, or undefined. */
  readonly kid?: Uint8Array;
}

const FLAG_K = 0x08;
const FLAG_H = 0x10;
const RESERVED = 0xe0;

/** Encodes an OSCORE option value (§6.1). Throws `OscoreError('invalid-message')` on impossible input. */
export function encodeOscoreOption(value: OscoreOptionValue): Uint8Array {
  const piv = value.partialIv;
  const kidContext = value.kidContext;
  const kid = value.kid;
  const n = piv === undefined ? 0 : piv.length;
  if (n > 5) throw new OscoreError('invalid-message', `Partial IV of ${n} bytes (at most 5, §6.1)`);
  if (kidContext !== undefined && kidContext.length > 255) {
    throw new OscoreError('invalid-message', `kid context of ${kidContext.length} bytes (at most 255)`);
  }
  const flags = n | (kid === undefined ? 0 : FLAG_K) | (kidContext === undefined ? 0 : FLAG_H);
  if (flags === 0) return new Uint8Array(0);
  const out = new Uint8Array(
    1 + n + (kidContext === undefined ? 0 : 1 + kidContext.length) + (kid === undefined ? 0 : kid.length),
  );
  out[0] = flags;
  let p = 1;
  if (piv !== undefined) {
    out.set(piv, p);
    p += n;
  }
  if (kidContext !== undefined) {
    out[p++] = kidContext.length;
    out.set(kidContext, p);
    p += kidContext.length;
  }
  if (kid !== undefined) out.set(kid, p);
  return out;
}

/**
 * Decodes an OSCORE option value (§6.1). The result views `bytes` (no copy). Throws
 * `OscoreError('bad-option')` when the value is malformed.
 */
export function decodeOscoreOption(bytes: Uint8Array): OscoreOptionValue {
  const len = bytes.length;
  if (len === 0) return {};
  const flags = bytes[0]!;
  if (flags === 0)
    throw new OscoreError('bad-option', 'flag byte 0x00 must be sent as an empty value (§6.1)');
  if ((flags & RESERVED) !== 0) throw new OscoreError('bad-option', 'reserved flag bits set (§6.1)');
  const n = flags & 0x07;
  if (n > 5) throw new OscoreError('bad-option', `reserved Partial IV length ${n} (§6.1)`);
  let p = 1;
  if (p + n > len) throw new OscoreError('bad-option', 'value ends inside the Partial IV');
  const partialIv = n === 0 ? undefined : bytes.subarray(p, p + n);
  p += n;
  let kidContext: Uint8Array | undefined;
  if ((flags & FLAG_H) !== 0) {
    if (p >= len) throw new OscoreError('bad-option', 'value ends before the kid context length');
    const s = bytes[p++]!;
    if (p + s > len) throw new OscoreError('bad-option', 'value ends inside the kid context');
    kidContext = bytes.subarray(p, p + s);
    p += s;
  }
  let kid: Uint8Array | undefined;
  if ((flags & FLAG_K) !== 0) kid = bytes.subarray(p);
  else if (p !== len) throw new OscoreError('bad-option', 'trailing bytes without the kid flag');
  return { partialIv, kidContext, kid };
}
