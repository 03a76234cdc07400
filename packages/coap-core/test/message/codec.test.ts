import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  CoapDecodeError,
  CoapEncodeError,
  type CoapMessageInit,
  decodeMessage,
  encodedLength,
  encodeMessage,
  encodeMessageInto,
  fromHex,
  MessageType,
  OptionNumber,
  toHex,
} from '../../src/index.js';
import { loadVectors } from '../vectors.js';

interface ExpectedMessage {
  type: MessageType;
  code: number;
  messageId: number;
  token: string;
  options: { number: number; value: string }[];
  payload: string;
}
interface Vectors {
  valid: { name: string; source: string; hex: string; expect: ExpectedMessage }[];
  malformed: { name: string; hex: string; reason: string }[];
}

const vectors = loadVectors<Vectors>('coap/messages.json');

function toInit(e: ExpectedMessage): CoapMessageInit {
  return {
    type: e.type,
    code: e.code,
    messageId: e.messageId,
    token: fromHex(e.token),
    options: e.options.map((o) => ({ number: o.number, value: fromHex(o.value) })),
    payload: fromHex(e.payload),
  };
}

describe('decodeMessage: RFC vectors (RFC 7252 §3, RFC 7641, RFC 7959)', () => {
  for (const v of vectors.valid) {
    it(`${v.name} [${v.source}]`, () => {
      const bytes = fromHex(v.hex);
      const m = decodeMessage(bytes);
      expect(m.type).toBe(v.expect.type);
      expect(m.code).toBe(v.expect.code);
      expect(m.messageId).toBe(v.expect.messageId);
      expect(toHex(m.token)).toBe(v.expect.token);
      expect(m.optionCount).toBe(v.expect.options.length);
      expect(m.options.map((o) => ({ number: o.number, value: toHex(o.value) }))).toEqual(v.expect.options);
      expect(toHex(m.payload)).toBe(v.expect.payload);
    });
  }
});

describe('encodeMessage: RFC vectors', () => {
  for (const v of vectors.valid) {
    it(`${v.name} encodes to the vector's bytes`, () => {
      const init = toInit(v.expect);
      expect(toHex(encodeMessage(init))).toBe(v.hex);
      expect(encodedLength(init)).toBe(v.hex.length / 2);
    });
    it(`${v.name} re-encodes from its decoded view byte for byte`, () => {
      expect(toHex(encodeMessage(decodeMessage(fromHex(v.hex))))).toBe(v.hex);
    });
  }
});

describe('cross-check with coap-packet (an independent codec)', () => {
  const require = createRequire(import.meta.url);
  const coapPacket = require('coap-packet') as {
    parse(b: Buffer): { messageId: number; token: Buffer; payload: Buffer; code: string; options: unknown[] };
  };
  for (const v of vectors.valid) {
    it(`coap-packet reads ${v.name} the same way`, () => {
      const p = coapPacket.parse(Buffer.from(v.hex, 'hex'));
      expect(p.messageId).toBe(v.expect.messageId);
      expect(p.token.toString('hex')).toBe(v.expect.token);
      expect(p.payload.toString('hex')).toBe(v.expect.payload);
      expect(p.options.length).toBe(v.expect.options.length);
    });
  }
});

describe('decodeMessage: malformed messages are CoapDecodeError with a reason (RFC 7252 §3, §4.1)', () => {
  for (const v of vectors.malformed) {
    it(`${v.name} → ${v.reason}`, () => {
      let error: unknown;
      try {
        decodeMessage(fromHex(v.hex));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CoapDecodeError);
      expect((error as CoapDecodeError).reason).toBe(v.reason);
    });
  }

  it('reports type and message ID when the header was readable, for a Reset (§4.2)', () => {
    try {
      decodeMessage(fromHex('4001abcdff'));
      expect.unreachable();
    } catch (e) {
      const err = e as CoapDecodeError;
      expect(err.type).toBe(MessageType.CON);
      expect(err.messageId).toBe(0xabcd);
      expect(err.offset).toBe(4);
    }
  });

  it('reports no message ID when the header is unreadable', () => {
    try {
      decodeMessage(fromHex('40'));
      expect.unreachable();
    } catch (e) {
      expect((e as CoapDecodeError).messageId).toBeUndefined();
    }
  });
});

describe('zero-copy views', () => {
  const bytes = fromHex('44017d34deadbeefb1336130ff68656c6c6f');
  const m = decodeMessage(bytes);

  it('token, option values and payload view the received bytes', () => {
    expect(m.token.buffer).toBe(bytes.buffer);
    expect(m.token.byteOffset).toBe(4);
    expect(m.payload.buffer).toBe(bytes.buffer);
    expect(m.payload.byteOffset).toBe(bytes.length - 5);
    const path = m.getOption(OptionNumber.UriPath)!;
    expect(path.buffer).toBe(bytes.buffer);
    expect(path.byteOffset).toBe(9);
  });

  it('views of a datagram that sits inside a larger buffer start at the right byte (RFC 7252 §3)', () => {
    const pool = new Uint8Array(64).fill(0xaa);
    pool.set(bytes, 13);
    const inner = decodeMessage(pool.subarray(13, 13 + bytes.length));
    expect(toHex(inner.token)).toBe('deadbeef');
    expect(inner.token.byteOffset).toBe(13 + 4);
    expect(inner.getString(OptionNumber.UriPath)).toBe('3');
    expect(toHex(inner.getOption(OptionNumber.UriPath)!)).toBe('33');
    expect(inner.options.map((o) => toHex(o.value))).toEqual(['33', '30']);
    expect(toHex(inner.payload)).toBe('68656c6c6f');
    expect(inner.payload.buffer).toBe(pool.buffer);
  });

  it('a change to the datagram shows through the view', () => {
    const copy = bytes.slice();
    const view = decodeMessage(copy);
    copy[copy.length - 1] = 0x21;
    expect(view.payload[view.payload.length - 1]).toBe(0x21);
  });

  it('reads options by number as uint, string, bytes, all values', () => {
    const msg = decodeMessage(
      encodeMessage({
        type: MessageType.CON,
        code: 1,
        messageId: 1,
        options: [
          { number: OptionNumber.UriPath, value: '3' },
          { number: OptionNumber.UriPath, value: 'π' },
          { number: OptionNumber.Accept, value: 11542 },
          { number: OptionNumber.Observe, value: 0 },
          { number: OptionNumber.Size1, value: 0x01020304 },
        ],
      }),
    );
    expect(msg.getStrings(OptionNumber.UriPath)).toEqual(['3', 'π']);
    expect(msg.getString(OptionNumber.UriPath)).toBe('3');
    expect(msg.getUint(OptionNumber.Accept)).toBe(11542);
    expect(msg.getUint(OptionNumber.Observe)).toBe(0);
    expect(msg.getUint(OptionNumber.Size1)).toBe(0x01020304);
    expect(msg.getUint(OptionNumber.ContentFormat)).toBeUndefined();
    expect(msg.hasOption(OptionNumber.Observe)).toBe(true);
    expect(msg.hasOption(OptionNumber.Block2)).toBe(false);
    expect(msg.countOption(OptionNumber.UriPath)).toBe(2);
    expect(msg.getOptions(OptionNumber.UriPath).map(toHex)).toEqual(['33', 'cf80']);
    const seen: number[] = [];
    msg.forEachOption((n, b, s, e) => seen.push(n, e - s, b === msg.bytes ? 1 : 0));
    expect(seen).toEqual([6, 0, 1, 11, 1, 1, 11, 2, 1, 17, 2, 1, 60, 4, 1]);
  });

  it('classifies requests, responses and Empty messages', () => {
    expect(decodeMessage(fromHex('40017d34')).isRequest).toBe(true);
    expect(decodeMessage(fromHex('60457d34')).isResponse).toBe(true);
    expect(decodeMessage(fromHex('60007d34')).isEmpty).toBe(true);
  });
});

describe('encodeMessage', () => {
  const base = { type: MessageType.CON, code: 1, messageId: 0x1234 } as const;

  it('sorts options by number and keeps repeated options in order (RFC 7252 §3.1, §5.4.5)', () => {
    const bytes = encodeMessage({
      ...base,
      options: [
        { number: OptionNumber.UriQuery, value: 'b' },
        { number: OptionNumber.UriPath, value: 'x' },
        { number: OptionNumber.UriQuery, value: 'a' },
        { number: OptionNumber.UriPath, value: 'y' },
      ],
    });
    const m = decodeMessage(bytes);
    expect(m.options.map((o) => o.number)).toEqual([11, 11, 15, 15]);
    expect(m.getStrings(OptionNumber.UriPath)).toEqual(['x', 'y']);
    expect(m.getStrings(OptionNumber.UriQuery)).toEqual(['b', 'a']);
  });

  it('writes uint options in their minimal length (RFC 7252 §3.2)', () => {
    for (const [value, length] of [
      [0, 0],
      [1, 1],
      [255, 1],
      [256, 2],
      [65535, 2],
      [65536, 3],
      [0xffffff, 3],
      [0x1000000, 4],
      [0xffffffff, 4],
    ] as const) {
      const bytes = encodeMessage({ ...base, options: [{ number: OptionNumber.MaxAge, value }] });
      expect(bytes[4]! & 15).toBe(length);
      expect(decodeMessage(bytes).getUint(OptionNumber.MaxAge)).toBe(value);
    }
  });

  it('omits the payload marker when the payload is empty', () => {
    expect(toHex(encodeMessage({ ...base, payload: new Uint8Array(0) }))).toBe('40011234');
  });

  it('encodeMessageInto writes at an offset and returns the byte count', () => {
    const target = new Uint8Array(32).fill(0xee);
    const n = encodeMessageInto({ ...base, token: fromHex('01'), payload: fromHex('aa') }, target, 3);
    expect(n).toBe(7);
    expect(toHex(target.subarray(0, 11))).toBe('eeeeee41011234 01ffaaee'.replace(' ', ''));
  });

  it('encodeMessageInto refuses a target that is too small, without writing', () => {
    const target = new Uint8Array(6).fill(0xee);
    expect(() => encodeMessageInto({ ...base, payload: fromHex('aabbcc') }, target, 0)).toThrowError(
      expect.objectContaining({ reason: 'buffer-too-small' }),
    );
    expect(toHex(target)).toBe('eeeeeeeeeeee');
  });

  it.each([
    [{ ...base, type: 4 as MessageType }, 'invalid-type'],
    [{ ...base, code: 256 }, 'invalid-code'],
    [{ ...base, messageId: 65536 }, 'invalid-message-id'],
    [{ ...base, token: new Uint8Array(9) }, 'token-too-long'],
    [{ ...base, code: 0, token: new Uint8Array(1) }, 'empty-message-not-empty'],
    [{ ...base, code: 0, payload: new Uint8Array(1) }, 'empty-message-not-empty'],
    [{ ...base, options: [{ number: 65536, value: '' }] }, 'invalid-option-number'],
    [{ ...base, options: [{ number: 14, value: -1 }] }, 'invalid-uint'],
    [{ ...base, options: [{ number: 14, value: 1.5 }] }, 'invalid-uint'],
    [{ ...base, options: [{ number: 1, value: new Uint8Array(65805) }] }, 'option-value-too-long'],
  ] as [CoapMessageInit, string][])('rejects %o with %s', (message, reason) => {
    expect(() => encodeMessage(message)).toThrowError(CoapEncodeError);
    expect(() => encodeMessage(message)).toThrowError(expect.objectContaining({ reason }));
  });

  it('accepts the largest extended option length (65804 bytes)', () => {
    const value = new Uint8Array(65804).fill(7);
    const m = decodeMessage(encodeMessage({ ...base, options: [{ number: 1, value }] }));
    expect(m.getOption(1)!.length).toBe(65804);
  });
});
