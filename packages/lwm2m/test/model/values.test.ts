import { utf8Encode } from '@thimble/coap-core';
import {
  base64Decode,
  base64Encode,
  Lwm2mValueError,
  normalizeValue,
  valueFromText,
  valueToText,
} from '@thimble/lwm2m';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('value representation (LwM2M TS Core 1.1 Appendix C)', () => {
  it('keeps safe integers as numbers and larger ones as bigint, within 64-bit ranges', () => {
    expect(normalizeValue('Integer', 5n)).toBe(5);
    expect(normalizeValue('Integer', 2n ** 62n)).toBe(2n ** 62n);
    expect(normalizeValue('Unsigned Integer', 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    expect(() => normalizeValue('Integer', 2n ** 63n)).toThrow(Lwm2mValueError);
    expect(() => normalizeValue('Unsigned Integer', -1)).toThrow(Lwm2mValueError);
    expect(() => normalizeValue('Integer', 0.5)).toThrow(Lwm2mValueError);
  });

  it('checks every other type', () => {
    expect(() => normalizeValue('String', 1)).toThrow(Lwm2mValueError);
    expect(() => normalizeValue('Boolean', 1)).toThrow(Lwm2mValueError);
    expect(() => normalizeValue('Opaque', 'x')).toThrow(Lwm2mValueError);
    expect(() => normalizeValue('Objlnk', { objectId: 65536, instanceId: 0 })).toThrow(Lwm2mValueError);
    expect(() => normalizeValue('none', 1)).toThrow(Lwm2mValueError);
    expect(normalizeValue('Objlnk', { objectId: 65535, instanceId: 65535 })).toEqual({
      objectId: 65535,
      instanceId: 65535,
    });
  });

  it('gives the error a reason and the type', () => {
    try {
      valueFromText('Boolean', 'yes');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(Lwm2mValueError);
      expect((e as Lwm2mValueError).reason).toBe('syntax');
      expect((e as Lwm2mValueError).type).toBe('Boolean');
    }
  });

  it('plain text: valueFromText(valueToText(v)) is v for integers of both kinds', () => {
    fc.assert(
      fc.property(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), (b) => {
        const v = normalizeValue('Integer', b);
        expect(valueFromText('Integer', valueToText('Integer', v))).toBe(v);
      }),
    );
  });
});

describe('base64 (RFC 4648 §10 test vectors)', () => {
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ];
  for (const [plain, b64] of vectors) {
    it(`BASE64("${plain}") = "${b64}"`, () => {
      expect(base64Encode(utf8Encode(plain))).toBe(b64);
      expect(base64Decode(b64)).toEqual(utf8Encode(plain));
      expect(base64Decode(b64.replace(/=+$/, ''))).toEqual(utf8Encode(plain));
    });
  }

  it('rejects bad characters and bad lengths', () => {
    expect(() => base64Decode('Zm9v!')).toThrow(Lwm2mValueError);
    expect(() => base64Decode('Z')).toThrow(Lwm2mValueError);
    expect(() => base64Decode('Zg=')).toThrow(Lwm2mValueError);
    expect(() => base64Decode('Zg===')).toThrow(Lwm2mValueError);
  });

  it('round-trips arbitrary bytes, standard and url-safe', () => {
    fc.assert(
      fc.property(fc.uint8Array(), fc.boolean(), (b, url) => {
        expect(base64Decode(base64Encode(b, url))).toEqual(b);
      }),
    );
  });
});
