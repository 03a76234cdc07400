/**
 * Zero-copy decoding of CoAP messages (RFC 7252 §3).
 *
 * `decodeMessage` validates the whole datagram once and returns a `CoapMessage` that remembers only
 * offsets into the received bytes. Token, option values and payload are views created on demand;
 * option look-ups re-walk the (already validated) option area, so no object is allocated per option.
 *
 * Views are `subarray`s. Measured in `bench/codec-paired.ts` (decode + read everything), the
 * `Uint8Array(buffer, offset, length)` constructor is no faster in context, and `.buffer` would make V8
 * materialise the backing store of a small on-heap array.
 */
import { readUint, readUtf8 } from '../util/bytes.js';
import { isRequestCode, isResponseCode, type MessageType } from './constants.js';
import { CoapDecodeError } from './errors.js';
import type { CoapOption } from './types.js';

const EMPTY = new Uint8Array(0);

/** Bytes `[start, start + length)` of `bytes` as a view (no copy). */
function view(bytes: Uint8Array, start: number, length: number): Uint8Array {
  return bytes.subarray(start, start + length);
}

/** Visitor for `forEachOption`: the option number and its value as `bytes[start, end)`. */
export type OptionVisitor = (number: number, bytes: Uint8Array, start: number, end: number) => void;

/** A decoded CoAP message: a read-only view over the bytes it was decoded from. */
export class CoapMessage {
  /** The datagram this message views. Do not modify it while the message is in use. */
  readonly bytes: Uint8Array;
  readonly type: MessageType;
  readonly code: number;
  readonly messageId: number;
  /** Number of options in the message. */
  readonly optionCount: number;
  private readonly tokenEnd: number;
  private readonly optionsEnd: number;
  private readonly payloadStart: number;
  private tokenView: Uint8Array | undefined;
  private payloadView: Uint8Array | undefined;
  /** Where the last successful `locate` found its value (plain integers: no packing, no division). */
  private foundStart = 0;
  private foundLength = 0;

  /** @internal use `decodeMessage` */
  constructor(
    bytes: Uint8Array,
    type: MessageType,
    code: number,
    messageId: number,
    tokenEnd: number,
    optionsEnd: number,
    payloadStart: number,
    optionCount: number,
  ) {
    this.bytes = bytes;
    this.type = type;
    this.code = code;
    this.messageId = messageId;
    this.tokenEnd = tokenEnd;
    this.optionsEnd = optionsEnd;
    this.payloadStart = payloadStart;
    this.optionCount = optionCount;
    this.tokenView = undefined;
    this.payloadView = undefined;
    this.foundStart = 0;
    this.foundLength = 0;
  }

  /** Token bytes (a view, 0–8 bytes). */
  get token(): Uint8Array {
    if (this.tokenView === undefined) this.tokenView = view(this.bytes, 4, this.tokenEnd - 4);
    return this.tokenView;
  }

  get tokenLength(): number {
    return this.tokenEnd - 4;
  }

  /** Payload bytes (a view; empty when there is no payload). */
  get payload(): Uint8Array {
    if (this.payloadView === undefined) {
      this.payloadView =
        this.payloadStart < this.bytes.length
          ? view(this.bytes, this.payloadStart, this.bytes.length - this.payloadStart)
          : EMPTY;
    }
    return this.payloadView;
  }

  get payloadLength(): number {
    return this.bytes.length - this.payloadStart;
  }

  get isRequest(): boolean {
    return isRequestCode(this.code);
  }

  get isResponse(): boolean {
    return isResponseCode(this.code);
  }

  /** An Empty message (code 0.00): ACK, RST or a CON ping. */
  get isEmpty(): boolean {
    return this.code === 0;
  }

  /** Calls `visit` for each option in order, with its value as a byte range of `bytes`. */
  forEachOption(visit: OptionVisitor): void {
    const b = this.bytes;
    const end = this.optionsEnd;
    let pos = this.tokenEnd;
    let number = 0;
    while (pos < end) {
      const first = b[pos++]!;
      let delta = first >>> 4;
      let length = first & 15;
      if (delta === 13) delta = 13 + b[pos++]!;
      else if (delta === 14) {
        delta = 269 + ((b[pos]! << 8) | b[pos + 1]!);
        pos += 2;
      }
      if (length === 13) length = 13 + b[pos++]!;
      else if (length === 14) {
        length = 269 + ((b[pos]! << 8) | b[pos + 1]!);
        pos += 2;
      }
      number += delta;
      const start = pos;
      pos += length;
      visit(number, b, start, pos);
    }
  }

  /**
   * Finds the `index`-th value of option `number`: returns true and leaves its place in `foundStart` /
   * `foundLength`, or returns false.
   */
  private locate(number: number, index: number): boolean {
    const b = this.bytes;
    const end = this.optionsEnd;
    let pos = this.tokenEnd;
    let current = 0;
    let seen = 0;
    while (pos < end) {
      const first = b[pos++]!;
      let delta = first >>> 4;
      let length = first & 15;
      if (delta === 13) delta = 13 + b[pos++]!;
      else if (delta === 14) {
        delta = 269 + ((b[pos]! << 8) | b[pos + 1]!);
        pos += 2;
      }
      if (length === 13) length = 13 + b[pos++]!;
      else if (length === 14) {
        length = 269 + ((b[pos]! << 8) | b[pos + 1]!);
        pos += 2;
      }
      current += delta;
      if (current === number) {
        if (seen === index) {
          this.foundStart = pos;
          this.foundLength = length;
          return true;
        }
        seen++;
      } else if (current > number) {
        return false; // options are in number order
      }
      pos += length;
    }
    return false;
  }

  /** True if option `number` is present. */
  hasOption(number: number): boolean {
    return this.locate(number, 0);
  }

  /** Number of occurrences of option `number`. */
  countOption(number: number): number {
    let n = 0;
    while (this.locate(number, n)) n++;
    return n;
  }

  /** The first value of option `number` as a byte view, or undefined. */
  getOption(number: number): Uint8Array | undefined {
    if (!this.locate(number, 0)) return undefined;
    return view(this.bytes, this.foundStart, this.foundLength);
  }

  /** Every value of option `number`, in message order. */
  getOptions(number: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; this.locate(number, i); i++) {
      out.push(view(this.bytes, this.foundStart, this.foundLength));
    }
    return out;
  }

  /** The first value of option `number` as an unsigned integer (RFC 7252 §3.2), or undefined. */
  getUint(number: number): number | undefined {
    if (!this.locate(number, 0)) return undefined;
    const start = this.foundStart;
    return readUint(this.bytes, start, start + this.foundLength);
  }

  /** The first value of option `number` decoded as UTF-8, or undefined. */
  getString(number: number): string | undefined {
    if (!this.locate(number, 0)) return undefined;
    const start = this.foundStart;
    return readUtf8(this.bytes, start, start + this.foundLength);
  }

  /** Every value of option `number` decoded as UTF-8, in message order. */
  getStrings(number: number): string[] {
    const out: string[] = [];
    const b = this.bytes;
    const end = this.optionsEnd;
    let pos = this.tokenEnd;
    let current = 0;
    while (pos < end) {
      const first = b[pos++]!;
      let delta = first >>> 4;
      let length = first & 15;
      if (delta === 13) delta = 13 + b[pos++]!;
      else if (delta === 14) {
        delta = 269 + ((b[pos]! << 8) | b[pos + 1]!);
        pos += 2;
      }
      if (length === 13) length = 13 + b[pos++]!;
      else if (length === 14) {
        length = 269 + ((b[pos]! << 8) | b[pos + 1]!);
        pos += 2;
      }
      current += delta;
      if (current > number) break;
      if (current === number) out.push(readUtf8(b, pos, pos + length));
      pos += length;
    }
    return out;
  }

  /** All options as `{ number, value }` objects (allocates; for inspection, not the hot path). */
  get options(): CoapOption[] {
    const out: CoapOption[] = [];
    this.forEachOption((number, b, s, e) => {
      out.push({ number, value: view(b, s, e - s) });
    });
    return out;
  }
}

/**
 * Decodes a CoAP message over UDP framing (RFC 7252 §3). The result views `bytes` without copying.
 * Throws `CoapDecodeError` for any message format error; never reads outside `bytes`.
 */
export function decodeMessage(bytes: Uint8Array): CoapMessage {
  const len = bytes.length;
  if (len < 4) throw new CoapDecodeError('message-too-short', len, bytes);
  const b0 = bytes[0]!;
  if (b0 >>> 6 !== 1) throw new CoapDecodeError('unsupported-version', 0, bytes);
  const tkl = b0 & 15;
  if (tkl > 8) throw new CoapDecodeError('invalid-token-length', 0, bytes);
  const code = bytes[1]!;
  const tokenEnd = 4 + tkl;
  if (code === 0 && len > 4) throw new CoapDecodeError('empty-message-not-empty', 4, bytes);
  if (tokenEnd > len) throw new CoapDecodeError('truncated-token', len, bytes);

  let pos = tokenEnd;
  let number = 0;
  let count = 0;
  let optionsEnd = len;
  let payloadStart = len;
  while (pos < len) {
    const at = pos;
    const first = bytes[pos++]!;
    if (first === 0xff) {
      if (pos === len) throw new CoapDecodeError('payload-marker-without-payload', at, bytes);
      optionsEnd = at;
      payloadStart = pos;
      break;
    }
    let delta = first >>> 4;
    let length = first & 15;
    if (delta === 15) throw new CoapDecodeError('reserved-option-delta', at, bytes);
    if (length === 15) throw new CoapDecodeError('reserved-option-length', at, bytes);
    if (delta === 13) {
      if (pos >= len) throw new CoapDecodeError('truncated-option', at, bytes);
      delta = 13 + bytes[pos++]!;
    } else if (delta === 14) {
      if (pos + 2 > len) throw new CoapDecodeError('truncated-option', at, bytes);
      delta = 269 + ((bytes[pos]! << 8) | bytes[pos + 1]!);
      pos += 2;
    }
    if (length === 13) {
      if (pos >= len) throw new CoapDecodeError('truncated-option', at, bytes);
      length = 13 + bytes[pos++]!;
    } else if (length === 14) {
      if (pos + 2 > len) throw new CoapDecodeError('truncated-option', at, bytes);
      length = 269 + ((bytes[pos]! << 8) | bytes[pos + 1]!);
      pos += 2;
    }
    number += delta;
    if (number > 0xffff) throw new CoapDecodeError('option-number-too-large', at, bytes);
    pos += length;
    if (pos > len) throw new CoapDecodeError('truncated-option', at, bytes);
    count++;
  }
  return new CoapMessage(
    bytes,
    ((b0 >>> 4) & 3) as MessageType,
    code,
    (bytes[2]! << 8) | bytes[3]!,
    tokenEnd,
    optionsEnd,
    payloadStart,
    count,
  );
}
