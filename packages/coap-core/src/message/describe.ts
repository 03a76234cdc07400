/**
 * Human-readable one-line descriptions of messages, for logs and `coap -v`.
 */
import { readUint, readUtf8, toHex } from '../util/bytes.js';
import { describeCode, messageTypeName } from './constants.js';
import { decodeMessage } from './decode.js';
import { CoapDecodeError } from './errors.js';
import { optionFormat, optionName } from './options.js';

function printable(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** `CON GET MID=0x7d34 Token=20 Uri-Path="temperature" | 0 bytes`, or the decode error. */
export function describeMessage(bytes: Uint8Array, maxPayload = 64): string {
  let m: ReturnType<typeof decodeMessage>;
  try {
    m = decodeMessage(bytes);
  } catch (e) {
    if (e instanceof CoapDecodeError) return `malformed (${e.reason}): ${toHex(bytes.subarray(0, 32))}`;
    throw e;
  }
  const parts = [
    messageTypeName(m.type),
    m.code === 0 ? 'Empty' : describeCode(m.code),
    `MID=0x${m.messageId.toString(16).padStart(4, '0')}`,
  ];
  if (m.tokenLength > 0) parts.push(`Token=${toHex(m.token)}`);
  m.forEachOption((n, b, s, e) => {
    const format = optionFormat(n);
    let value: string;
    if (format === 'uint') value = String(readUint(b, s, e));
    else if (format === 'string') value = JSON.stringify(readUtf8(b, s, e));
    else if (format === 'empty') value = '';
    else value = toHex(b.subarray(s, e));
    parts.push(value === '' ? optionName(n) : `${optionName(n)}=${value}`);
  });
  const n = m.payloadLength;
  if (n > 0) {
    const p = m.payload;
    const shown = Math.min(n, maxPayload);
    const text = printable(p, 0, shown) ? JSON.stringify(readUtf8(p, 0, shown)) : toHex(p.subarray(0, shown));
    parts.push(`| ${n} bytes: ${text}${shown < n ? '…' : ''}`);
  }
  return parts.join(' ');
}
