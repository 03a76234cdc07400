/**
 * Shared pieces of Q-Block1 / Q-Block2 (RFC 9177): the congestion control parameters (§7.2), payload
 * sets, and the missing-blocks list that a 4.08 (Request Entity Incomplete) carries (§5, a CBOR
 * Sequence of unsigned integers, content format application/missing-blocks+cbor-seq, 272).
 */
import { CoapError } from '../errors.js';
import type { CoapMessageInit } from '../message/types.js';

/** A Q-Block request or response without its message ID (the caller's message layer assigns it). */
export type QBlockMessage = Omit<CoapMessageInit, 'messageId'>;

/** RFC 9177 §12.3: application/missing-blocks+cbor-seq. */
export const MISSING_BLOCKS_CONTENT_FORMAT = 272;

/** Congestion control parameters for NON Q-Block transfers (RFC 9177 §7.2), times in ms. */
export interface QBlockParameters {
  /** Blocks sent in one payload set before waiting for the peer (default 10). */
  readonly maxPayloads: number;
  /** Wait after a payload set for a 2.31 (Continue) or a 4.08 (default ACK_TIMEOUT, 2 s). */
  readonly nonTimeout: number;
  /** Upper end of the randomised wait: NON_TIMEOUT × ACK_RANDOM_FACTOR (default 3 s). */
  readonly nonTimeoutRandom: number;
  /** The receiver reports missing blocks after this long without a new block (default 2 × NON_TIMEOUT). */
  readonly nonReceiveTimeout: number;
  /** Consecutive timeouts without any answer before the sender gives up (default 4). */
  readonly nonMaxRetransmit: number;
  /** The receiver drops a body that stays incomplete this long (default EXCHANGE_LIFETIME, 247 s). */
  readonly nonPartialTimeout: number;
}

export const DEFAULT_QBLOCK_PARAMETERS: QBlockParameters = {
  maxPayloads: 10,
  nonTimeout: 2000,
  nonTimeoutRandom: 3000,
  nonReceiveTimeout: 4000,
  nonMaxRetransmit: 4,
  nonPartialTimeout: 247_000,
};

/** Why a Q-Block transfer failed or a Q-Block payload was rejected. */
export type QBlockErrorReason =
  /** The missing-blocks payload of a 4.08 is not a CBOR Sequence of unsigned integers. */
  | 'malformed-missing-list'
  /** The peer stayed silent for NON_MAX_RETRANSMIT consecutive waits. */
  | 'timeout'
  /** The transfer was cancelled (the endpoint closed, or the caller gave up). */
  | 'cancelled';

export class QBlockError extends CoapError<QBlockErrorReason> {
  override readonly name = 'QBlockError';
}

/** The payload set (RFC 9177 §7.2) block `num` belongs to: blocks [k × MAX_PAYLOADS, (k + 1) × MAX_PAYLOADS). */
export function payloadSetOf(num: number, maxPayloads: number): number {
  return Math.floor(num / maxPayloads);
}

/** True if block `num` is the last of its payload set. */
export function endsPayloadSet(num: number, maxPayloads: number): boolean {
  return num % maxPayloads === maxPayloads - 1;
}

/** Encodes block numbers as a CBOR Sequence of unsigned integers (RFC 9177 §5, RFC 8742). */
export function encodeMissingBlocks(nums: readonly number[]): Uint8Array {
  let size = 0;
  for (const n of nums) size += n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const out = new Uint8Array(size);
  let p = 0;
  for (const n of nums) {
    if (!(n >= 0 && n <= 0xffffffff && Number.isInteger(n))) {
      throw new RangeError(`block number ${n} is not an unsigned 32-bit integer`);
    }
    if (n < 24) out[p++] = n;
    else if (n < 0x100) {
      out[p++] = 0x18;
      out[p++] = n;
    } else if (n < 0x10000) {
      out[p++] = 0x19;
      out[p++] = n >>> 8;
      out[p++] = n & 0xff;
    } else {
      out[p++] = 0x1a;
      out[p++] = n >>> 24;
      out[p++] = (n >>> 16) & 0xff;
      out[p++] = (n >>> 8) & 0xff;
      out[p++] = n & 0xff;
    }
  }
  return out;
}

/**
 * Decodes a missing-blocks CBOR Sequence (RFC 9177 §5). Accepts only unsigned integers (major type 0)
 * up to 32 bits, the encoding of block numbers; anything else is a `QBlockError`
 * ('malformed-missing-list').
 */
export function decodeMissingBlocks(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let p = 0;
  const bad = (why: string): QBlockError =>
    new QBlockError('malformed-missing-list', `missing-blocks list: ${why} at byte ${p}`);
  while (p < bytes.length) {
    const b = bytes[p]!;
    if (b >>> 5 !== 0) throw bad('not an unsigned integer');
    const info = b & 31;
    let value: number;
    if (info < 24) {
      value = info;
      p += 1;
    } else if (info === 24) {
      if (p + 2 > bytes.length) throw bad('truncated integer');
      value = bytes[p + 1]!;
      p += 2;
    } else if (info === 25) {
      if (p + 3 > bytes.length) throw bad('truncated integer');
      value = (bytes[p + 1]! << 8) | bytes[p + 2]!;
      p += 3;
    } else if (info === 26) {
      if (p + 5 > bytes.length) throw bad('truncated integer');
      value = ((bytes[p + 1]! << 24) >>> 0) + ((bytes[p + 2]! << 16) | (bytes[p + 3]! << 8) | bytes[p + 4]!);
      p += 5;
    } else {
      throw bad('integer wider than 32 bits or reserved');
    }
    out.push(value);
  }
  return out;
}
