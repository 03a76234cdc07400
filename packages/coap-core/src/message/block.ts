/**
 * Block1 / Block2 option values (RFC 7959 §2.2): NUM (up to 20 bits), M (more) and SZX (size exponent).
 */

export interface BlockValue {
  /** Block number. */
  readonly num: number;
  /** More blocks follow (Block2 response / Block1 request), or the server's M bit. */
  readonly more: boolean;
  /** Size exponent: block size is 2^(szx + 4). 7 is BERT on reliable transports, reserved on UDP. */
  readonly szx: number;
}

export interface DecodedBlock extends BlockValue {
  /** Block size in bytes (1024 for SZX 7, which signals BERT). */
  readonly size: number;
  /** Offset of the block in the body: num × size. */
  readonly offset: number;
}

export const MAX_BLOCK_NUM = 0xfffff;

/** Decodes a Block1/Block2 option uint value (0–3 bytes, up to 2^24 − 1). */
export function decodeBlock(value: number): DecodedBlock {
  if (!(value >= 0 && value <= 0xffffff && Number.isInteger(value))) {
    throw new RangeError(`block option value ${value} is out of range`);
  }
  const szx = value & 7;
  const num = value >>> 4;
  const size = szxToSize(szx === 7 ? 6 : szx);
  return { num, more: (value & 8) !== 0, szx, size, offset: num * size };
}

/** Encodes NUM / M / SZX as the option's uint value. */
export function encodeBlock(block: BlockValue): number {
  const { num, more, szx } = block;
  if (!(num >= 0 && num <= MAX_BLOCK_NUM && Number.isInteger(num))) {
    throw new RangeError(`block number ${num} is out of range (0-${MAX_BLOCK_NUM})`);
  }
  if (!(szx >= 0 && szx <= 7 && Number.isInteger(szx))) throw new RangeError(`SZX ${szx} is not 0-7`);
  return num * 16 + (more ? 8 : 0) + szx;
}

/** Block size for SZX 0–6: 16 … 1024. */
export function szxToSize(szx: number): number {
  if (!(szx >= 0 && szx <= 6 && Number.isInteger(szx))) throw new RangeError(`SZX ${szx} is not 0-6`);
  return 1 << (szx + 4);
}

/** SZX for a block size that is a power of two from 16 to 1024. */
export function sizeToSzx(size: number): number {
  for (let szx = 0; szx <= 6; szx++) if (1 << (szx + 4) === size) return szx;
  throw new RangeError(`block size ${size} is not a power of two from 16 to 1024`);
}
