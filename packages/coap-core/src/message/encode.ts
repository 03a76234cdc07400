/**
 * Encoding CoAP messages (RFC 7252 §3): options in number order with delta/length encoding including the
 * 13/14 extended forms, uint values in their minimal length, a payload marker only before a payload.
 *
 * The fast path makes one pass: a cheap upper bound on the size, then validation and writing together.
 */
import { uintLength, utf8Length, writeUint, writeUtf8 } from '../util/bytes.js';
import { commit, MAX_POOLED, reserve, slabBytes } from '../util/pool.js';
import { CoapEncodeError } from './errors.js';
import type { CoapMessageInit, CoapOptionInit, OptionValue } from './types.js';

const MAX_EXTENDED = 65535 + 269;

function invalidUint(value: number): CoapEncodeError {
  return new CoapEncodeError('invalid-uint', `option uint value ${value} is not a non-negative integer`);
}

function invalidNumber(number: number): CoapEncodeError {
  return new CoapEncodeError('invalid-option-number', `option number ${number} is not 0-65535`);
}

function tooLong(number: number, length: number): CoapEncodeError {
  return new CoapEncodeError('option-value-too-long', `option ${number} value of ${length} bytes`);
}

function valueLength(value: OptionValue): number {
  if (typeof value === 'number') {
    if (!(value >= 0 && Number.isSafeInteger(value))) throw invalidUint(value);
    return uintLength(value);
  }
  if (typeof value === 'string') return utf8Length(value);
  return value.length;
}

function headerFieldLength(v: number): number {
  return v < 13 ? 0 : v < 269 ? 1 : 2;
}

/**
 * The options in wire order. Returns the input itself when it is already sorted (the common case),
 * otherwise a stable-sorted copy so repeated options keep their relative order.
 */
function ordered(options: readonly CoapOptionInit[]): readonly CoapOptionInit[] {
  for (let i = 1; i < options.length; i++) {
    if (options[i]!.number < options[i - 1]!.number) {
      return options.slice().sort((a, b) => a.number - b.number);
    }
  }
  return options;
}

function checkHeader(message: CoapMessageInit): void {
  const { type, code, messageId } = message;
  if (!(type >= 0 && type <= 3 && (type | 0) === type)) {
    throw new CoapEncodeError('invalid-type', `message type ${type} is not 0-3`);
  }
  if (!(code >= 0 && code <= 255 && (code | 0) === code)) {
    throw new CoapEncodeError('invalid-code', `code ${code} is not a byte`);
  }
  if (!(messageId >= 0 && messageId <= 0xffff && (messageId | 0) === messageId)) {
    throw new CoapEncodeError('invalid-message-id', `message ID ${messageId} is not 0-65535`);
  }
  const tokenLength = message.token === undefined ? 0 : message.token.length;
  if (tokenLength > 8) throw new CoapEncodeError('token-too-long', `token of ${tokenLength} bytes (max 8)`);
  if (
    code === 0 &&
    (tokenLength > 0 ||
      (message.options !== undefined && message.options.length > 0) ||
      (message.payload !== undefined && message.payload.length > 0))
  ) {
    throw new CoapEncodeError(
      'empty-message-not-empty',
      'an Empty message (0.00) carries no token, options or payload (RFC 7252 §4.1)',
    );
  }
}

/** Validates the header and returns an upper bound of the encoded size without scanning strings. */
function upperBound(message: CoapMessageInit): number {
  checkHeader(message);
  let size = 4 + (message.token === undefined ? 0 : message.token.length);
  const options = message.options;
  if (options !== undefined) {
    for (let i = 0; i < options.length; i++) {
      const value = options[i]!.value;
      // 5 header bytes at most; a UTF-16 unit takes at most 3 UTF-8 bytes; a safe uint at most 7 bytes
      size +=
        5 + (typeof value === 'number' ? 7 : typeof value === 'string' ? value.length * 3 : value.length);
    }
  }
  const payloadLength = message.payload === undefined ? 0 : message.payload.length;
  if (payloadLength > 0) size += 1 + payloadLength;
  return size;
}

/** Exact size in bytes of the encoded message. Validates the message. */
export function encodedLength(message: CoapMessageInit): number {
  checkHeader(message);
  let size = 4 + (message.token === undefined ? 0 : message.token.length);
  const options = message.options;
  if (options !== undefined && options.length > 0) {
    const list = ordered(options);
    let previous = 0;
    for (let i = 0; i < list.length; i++) {
      const option = list[i]!;
      const number = option.number;
      if (!(number >= 0 && number <= 0xffff && (number | 0) === number)) throw invalidNumber(number);
      const length = valueLength(option.value);
      if (length > MAX_EXTENDED) throw tooLong(number, length);
      size += 1 + headerFieldLength(number - previous) + headerFieldLength(length) + length;
      previous = number;
    }
  }
  const payloadLength = message.payload === undefined ? 0 : message.payload.length;
  if (payloadLength > 0) size += 1 + payloadLength;
  return size;
}

/**
 * Encodes `message` into a new array sized exactly. Throws `CoapEncodeError` if it cannot be encoded.
 * Messages up to 2 KiB are views into a shared 32 KiB slab (see util/pool.ts): `slice()` the result if
 * you keep very many of them for a long time.
 */
export function encodeMessage(message: CoapMessageInit): Uint8Array {
  const bound = upperBound(message);
  if (bound <= MAX_POOLED) {
    const start = reserve(bound);
    const end = write(message, slabBytes(), start);
    return commit(start, end - start);
  }
  const out = new Uint8Array(encodedLength(message));
  write(message, out, 0);
  return out;
}

/**
 * Encodes `message` into `target` at `offset` and returns the number of bytes written. Throws
 * `CoapEncodeError` (`buffer-too-small`) without writing if it does not fit.
 */
export function encodeMessageInto(message: CoapMessageInit, target: Uint8Array, offset = 0): number {
  if (offset >= 0 && offset + upperBound(message) <= target.length) {
    return write(message, target, offset) - offset;
  }
  const size = encodedLength(message);
  if (offset < 0 || offset + size > target.length) {
    throw new CoapEncodeError(
      'buffer-too-small',
      `message needs ${size} bytes, target has ${Math.max(0, target.length - offset)} from offset ${offset}`,
    );
  }
  return write(message, target, offset) - offset;
}

/**
 * Writes a message whose header was checked, validating options as it goes; returns the end offset.
 * The caller guarantees room for the upper bound.
 */
function write(message: CoapMessageInit, out: Uint8Array, offset: number): number {
  const token = message.token;
  const tkl = token === undefined ? 0 : token.length;
  out[offset] = 0x40 | (message.type << 4) | tkl;
  out[offset + 1] = message.code;
  out[offset + 2] = message.messageId >>> 8;
  out[offset + 3] = message.messageId & 0xff;
  let p = offset + 4;
  for (let i = 0; i < tkl; i++) out[p++] = token![i]!;
  const options = message.options;
  if (options !== undefined && options.length > 0) {
    const list = ordered(options);
    let previous = 0;
    for (let i = 0; i < list.length; i++) {
      const option = list[i]!;
      const number = option.number;
      if (!(number >= 0 && number <= 0xffff && (number | 0) === number)) throw invalidNumber(number);
      const value = option.value;
      const delta = number - previous;
      previous = number;
      let length: number;
      if (typeof value === 'number') {
        if (!(value >= 0 && Number.isSafeInteger(value))) throw invalidUint(value);
        length = uintLength(value);
      } else if (typeof value === 'string') length = utf8Length(value);
      else length = value.length;
      if (length > MAX_EXTENDED) throw tooLong(number, length);
      const head = p++;
      let nibbles: number;
      if (delta < 13) nibbles = delta << 4;
      else if (delta < 269) {
        nibbles = 13 << 4;
        out[p++] = delta - 13;
      } else {
        nibbles = 14 << 4;
        out[p++] = (delta - 269) >>> 8;
        out[p++] = (delta - 269) & 0xff;
      }
      if (length < 13) nibbles |= length;
      else if (length < 269) {
        nibbles |= 13;
        out[p++] = length - 13;
      } else {
        nibbles |= 14;
        out[p++] = (length - 269) >>> 8;
        out[p++] = (length - 269) & 0xff;
      }
      out[head] = nibbles;
      if (typeof value === 'number') {
        writeUint(value, length, out, p);
        p += length;
      } else if (typeof value === 'string') {
        p = writeUtf8(value, out, p);
      } else {
        if (length < 16) for (let k = 0; k < length; k++) out[p + k] = value[k]!;
        else out.set(value, p);
        p += length;
      }
    }
  }
  const payload = message.payload;
  if (payload !== undefined && payload.length > 0) {
    out[p++] = 0xff;
    out.set(payload, p);
    p += payload.length;
  }
  return p;
}
