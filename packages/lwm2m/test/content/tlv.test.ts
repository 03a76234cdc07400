import { fromHex, toHex } from '@thimble/coap-core';
import {
  BUILTIN_OBJECTS,
  decodeTlv,
  encodeTlv,
  encodeTlvInto,
  Lwm2mContentError,
  multipleResource,
  ObjectRegistry,
  readTlvRecords,
  singleResource,
  TlvType,
  tlvValueBytes,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { registryWith } from '../helpers.js';

const model = new ObjectRegistry(BUILTIN_OBJECTS);
const err = (f: () => unknown): Lwm2mContentError => {
  try {
    f();
  } catch (e) {
    if (e instanceof Lwm2mContentError) return e;
    throw e;
  }
  throw new Error('expected a Lwm2mContentError');
};

describe('TLV header (LwM2M TS 1.0.2 §6.4.3; TS Core 1.1 §7.4, TLV)', () => {
  it('reads the identifier type from bits 7-6', () => {
    const recs = readTlvRecords(fromHex('00 01 40 02 80 03 c0 04'));
    expect(recs.map((r) => [r.type, r.id])).toEqual([
      [TlvType.ObjectInstance, 1],
      [TlvType.ResourceInstance, 2],
      [TlvType.MultipleResource, 3],
      [TlvType.ResourceValue, 4],
    ]);
  });

  it('reads 16-bit identifiers when bit 5 is set', () => {
    const [r] = readTlvRecords(fromHex('e1 16 76 2a'));
    expect(r).toMatchObject({ type: TlvType.ResourceValue, id: 0x1676, valueStart: 3, valueEnd: 4 });
  });

  it('reads the length from bits 2-0, or from an 8-, 16- or 24-bit length field', () => {
    const inline = readTlvRecords(fromHex('c7 00 01 02 03 04 05 06 07'))[0]!;
    expect(inline.valueEnd - inline.valueStart).toBe(7);
    const len8 = readTlvRecords(new Uint8Array([0xc8, 0x00, 0x09, ...new Array(9).fill(0x41)]))[0]!;
    expect(len8.valueEnd - len8.valueStart).toBe(9);
    const len16 = readTlvRecords(new Uint8Array([0xd0, 0x00, 0x01, 0x00, ...new Array(256).fill(0)]))[0]!;
    expect(len16.valueEnd - len16.valueStart).toBe(256);
    const len24 = readTlvRecords(
      new Uint8Array([0xd8, 0x00, 0x01, 0x00, 0x00, ...new Array(65536).fill(0)]),
    )[0]!;
    expect(len24.valueEnd - len24.valueStart).toBe(65536);
  });

  it('rejects a header cut short, and a length past the end', () => {
    expect(err(() => readTlvRecords(fromHex('e8 01'))).reason).toBe('truncated');
    expect(err(() => readTlvRecords(fromHex('c8 00 05 41 42'))).reason).toBe('truncated');
    expect(err(() => readTlvRecords(fromHex('c8 00'))).reason).toBe('truncated');
  });

  it('rejects a 4-byte header claiming 16 MB at once, before reading or allocating the value', () => {
    const header = fromHex('d8 00 ff ff ff'); // resource 0, 24-bit length 0xffffff, no value bytes
    const started = performance.now();
    const e = err(() => decodeTlv([3, 0, 0], header, model));
    expect(e.reason).toBe('truncated');
    expect(e.responseCode).toBe('4.00');
    expect(performance.now() - started).toBeLessThan(50);
    // the same inside a nested object instance header
    expect(err(() => decodeTlv([3], fromHex('18 00 ff ff ff c1 00 41'), model)).reason).toBe('truncated');
  });

  it('rejects the reserved id 65535', () => {
    expect(err(() => readTlvRecords(fromHex('e1 ff ff 01'))).reason).toBe('malformed');
  });

  it('rejects a length in bits 2-0 together with a length field', () => {
    expect(err(() => readTlvRecords(fromHex('c9 00 01 41'))).reason).toBe('malformed');
  });
});

describe('TLV values (LwM2M TS 1.0.2 §6.4.3 and the Data Types appendix)', () => {
  const cases: [string, Parameters<typeof tlvValueBytes>[0], Parameters<typeof tlvValueBytes>[1], string][] =
    [
      ['Integer 1 byte', 'Integer', -128, '80'],
      ['Integer 2 bytes', 'Integer', 3800, '0ed8'],
      ['Integer 4 bytes', 'Integer', -2147483648, '80000000'],
      ['Integer 8 bytes', 'Integer', 2 ** 40, '0000010000000000'],
      ['Integer 8 bytes, int64 min as bigint', 'Integer', -(2n ** 63n), '8000000000000000'],
      ['Unsigned Integer 1 byte', 'Unsigned Integer', 255, 'ff'],
      ['Unsigned Integer 4 bytes', 'Unsigned Integer', 0xffffffff, 'ffffffff'],
      ['Unsigned Integer 8 bytes, 2^64-1', 'Unsigned Integer', 2n ** 64n - 1n, 'ffffffffffffffff'],
      ['Float as 4 bytes when exact', 'Float', 1.5, '3fc00000'],
      ['Float as 8 bytes otherwise', 'Float', 0.1, '3fb999999999999a'],
      ['Boolean', 'Boolean', true, '01'],
      ['Time as an integer', 'Time', 1367491215, '5182428f'],
      ['Objlnk', 'Objlnk', { objectId: 66, instanceId: 1 }, '00420001'],
      ['String as UTF-8', 'String', 'é', 'c3a9'],
      ['Opaque as is', 'Opaque', Uint8Array.of(1, 2), '0102'],
    ];
  for (const [name, type, value, hex] of cases) {
    it(`${name}: ${hex}`, () => {
      expect(toHex(tlvValueBytes(type, value))).toBe(hex);
    });
  }

  it('decodes all integer widths, signed and unsigned', () => {
    const reg = registryWith({
      40000: {
        multiple: false,
        resources: [
          [0, 'Integer', false],
          [1, 'Unsigned Integer', false],
        ],
      },
    });
    const read = (rid: number, hex: string) => {
      const n = decodeTlv([40000, 0, rid], fromHex(hex), reg);
      return n.kind === 'resource' ? n.value : undefined;
    };
    expect(read(0, 'c1 00 ff')).toBe(-1);
    expect(read(0, 'c2 00 ff fe')).toBe(-2);
    expect(read(0, 'c4 00 ff ff ff fd')).toBe(-3);
    expect(read(0, 'c8 00 08 7f ff ff ff ff ff ff ff')).toBe(2n ** 63n - 1n);
    expect(read(0, 'c8 00 08 00 00 00 00 00 00 00 07')).toBe(7); // canonical: a number when safe
    expect(read(1, 'c1 01 ff')).toBe(255);
    expect(read(1, 'c8 01 08 ff ff ff ff ff ff ff ff')).toBe(2n ** 64n - 1n);
    expect(err(() => read(0, 'c3 00 01 02 03')).reason).toBe('invalid-value');
  });

  it('rejects values of the wrong size for their type', () => {
    const e = err(() => decodeTlv([3, 0, 9], fromHex('c3 09 00 00 01'), model));
    expect(e.reason).toBe('invalid-value');
    expect(e.message).toContain('/3/0/9');
    expect(
      err(() => decodeTlv([3, 0], fromHex('88 06 08 41 00 01 43 01 00 00 05'), model)).message,
    ).toContain('/3/0/6/1');
    expect(err(() => decodeTlv([3, 0, 6, 1], fromHex('43 01 00 00 05'), model)).message).toContain(
      '/3/0/6/1',
    );
    expect(err(() => decodeTlv([6, 0, 0], fromHex('c2 00 00 00'), model)).reason).toBe('invalid-value');
    expect(err(() => decodeTlv([1, 0, 6], fromHex('c1 06 02'), model)).reason).toBe('invalid-value');
  });
});

describe('TLV structure', () => {
  it('rejects unknown resources and single/multiple mismatches with the model', () => {
    expect(err(() => decodeTlv([3, 0], fromHex('c1 63 01'), model)).reason).toBe('unknown-resource');
    expect(err(() => decodeTlv([9999, 0], fromHex('c1 00 01'), model)).reason).toBe('unknown-object');
    expect(err(() => decodeTlv([3, 0], fromHex('c1 06 01'), model)).reason).toBe('invalid-path');
    expect(err(() => decodeTlv([3, 0], fromHex('83 09 41 00 01'), model)).reason).toBe('invalid-path');
  });

  it('accepts an object instance TLV around the resources on an instance path', () => {
    const n = decodeTlv([3, 0], fromHex('08 00 03 c1 09 64'), model);
    expect(n).toEqual({ kind: 'objectInstance', id: 0, resources: [singleResource(9, 'Integer', 100)] });
    expect(err(() => decodeTlv([3, 0], fromHex('08 01 03 c1 09 64'), model)).reason).toBe('path-mismatch');
  });

  it('rejects duplicate resources and resource instances', () => {
    expect(err(() => decodeTlv([3, 0], fromHex('c1 09 64 c1 09 63'), model)).reason).toBe('duplicate');
    expect(err(() => decodeTlv([3, 0, 6], fromHex('86 06 41 00 01 41 00 05'), model)).reason).toBe(
      'duplicate',
    );
  });

  it('uses a 24-bit length and a 16-bit id when needed, and round-trips them', () => {
    const reg = registryWith({ 40001: { multiple: true, resources: [[300, 'Opaque', false]] } });
    const big = new Uint8Array(70000).map((_, i) => i & 0xff);
    const node = { kind: 'objectInstance', id: 1, resources: [singleResource(300, 'Opaque', big)] } as const;
    const bytes = encodeTlv([40001, 1], node, reg);
    expect(toHex(bytes.subarray(0, 6))).toBe(`f8012c${(70000).toString(16).padStart(6, '0')}`);
    expect(decodeTlv([40001, 1], bytes, reg)).toEqual(node);
  });

  it('encodes a multiple resource read on its own path with the Multiple Resource wrapper', () => {
    const n = multipleResource(6, 'Integer', [1, 5]);
    expect(toHex(encodeTlv([3, 0, 6], n))).toBe('860641000141 0105'.replace(' ', ''));
    expect(decodeTlv([3, 0, 6, 1], fromHex('41 01 05'), model)).toEqual({
      kind: 'resourceInstance',
      id: 1,
      type: 'Integer',
      value: 5,
    });
  });

  it('refuses to encode the reserved id 65535', () => {
    const e = err(() =>
      encodeTlv([3, 0], { kind: 'objectInstance', id: 0, resources: [singleResource(65535, 'Integer', 1)] }),
    );
    expect(e.reason).toBe('invalid-path');
  });

  it('refuses to encode a value that does not fit its type, with 5.00', () => {
    const e = err(() => encodeTlv([3, 0, 9], singleResource(9, 'Integer', 1.5)));
    expect(e.reason).toBe('invalid-value');
    expect(e.responseCode).toBe('5.00');
    expect(err(() => encodeTlv([3, 0, 9], singleResource(9, 'String', 'x'), model)).reason).toBe(
      'wrong-type',
    );
  });
});

describe("TLV into a caller's buffer (docs/ARCHITECTURE.md, zero-copy: encoding writes into a caller's buffer)", () => {
  it('writes at an offset, returns the length, and refuses before writing when it does not fit', () => {
    const n = multipleResource(6, 'Integer', [1, 5]);
    const target = new Uint8Array(12).fill(0xee);
    expect(encodeTlvInto([3, 0, 6], n, target, 2)).toBe(8);
    expect(toHex(target)).toBe('eeee8606410001410105eeee');
    const small = new Uint8Array(7).fill(0xee);
    expect(err(() => encodeTlvInto([3, 0, 6], n, small, 0)).reason).toBe('too-large');
    expect(toHex(small)).toBe('ee'.repeat(7));
  });
});
