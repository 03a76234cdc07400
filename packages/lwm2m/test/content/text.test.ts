import { utf8Decode, utf8Encode } from '@thimble/coap-core';
import {
  BUILTIN_OBJECTS,
  decodeNode,
  encodeNode,
  Lwm2mContentError,
  type Lwm2mNode,
  multipleResource,
  ObjectRegistry,
  singleResource,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';

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
const text = (path: number[], s: string) => decodeNode(0, path, utf8Encode(s), model);

describe('text/plain (0), LwM2M TS Core 1.1 §7.4, Plain Text', () => {
  it('reads a String, an Integer, a Float, a Boolean, a Time and an Objlnk', () => {
    expect(text([3, 0, 0], 'Open Mobile Alliance')).toEqual(
      singleResource(0, 'String', 'Open Mobile Alliance'),
    );
    expect(text([3, 0, 9], '100')).toEqual(singleResource(9, 'Integer', 100));
    expect(text([6, 0, 0], '-43.5')).toEqual(singleResource(0, 'Float', -43.5));
    expect(text([1, 0, 6], '1')).toEqual(singleResource(6, 'Boolean', true));
    expect(text([3, 0, 13], '1367491215')).toEqual(singleResource(13, 'Time', 1367491215));
    expect(text([1, 0, 10], '11:0')).toEqual(singleResource(10, 'Objlnk', { objectId: 11, instanceId: 0 }));
    expect(text([3, 0, 6, 1], '5')).toEqual({ kind: 'resourceInstance', id: 1, type: 'Integer', value: 5 });
  });

  it('writes Boolean as "0"/"1" and Opaque as base64 (TS Core 1.1 §7.4, Plain Text)', () => {
    expect(utf8Decode(encodeNode(0, [1, 0, 6], singleResource(6, 'Boolean', false)))).toBe('0');
    expect(utf8Decode(encodeNode(0, [5, 0, 0], singleResource(0, 'Opaque', Uint8Array.of(1, 2, 3))))).toBe(
      'AQID',
    );
  });

  it('rejects text that is not a value of the resource type', () => {
    expect(err(() => text([3, 0, 9], '1.5')).reason).toBe('invalid-value');
    expect(err(() => text([3, 0, 9], '9223372036854775808')).reason).toBe('invalid-value');
    expect(err(() => text([1, 0, 6], 'true')).reason).toBe('invalid-value');
    expect(err(() => text([1, 0, 10], '11')).reason).toBe('invalid-value');
    expect(err(() => text([6, 0, 0], 'NaN')).reason).toBe('invalid-value');
  });

  it('is not applicable to instances, multiple resources or executable resources', () => {
    expect(err(() => text([3, 0], 'x')).responseCode).toBe('4.15');
    expect(err(() => text([3, 0, 6], '1')).reason).toBe('format-not-applicable');
    expect(err(() => text([3, 0, 4], '')).reason).toBe('wrong-type');
    expect(err(() => encodeNode(0, [3, 0, 6], multipleResource(6, 'Integer', [1]))).responseCode).toBe(
      '4.06',
    );
  });
});

describe('application/octet-stream (42), LwM2M TS Core 1.1 §7.4, Opaque', () => {
  it('carries an Opaque resource as its bytes', () => {
    const bytes = Uint8Array.of(0, 1, 255);
    expect(decodeNode(42, [5, 0, 0], bytes, model)).toEqual(singleResource(0, 'Opaque', bytes));
    expect(encodeNode(42, [5, 0, 0], singleResource(0, 'Opaque', bytes))).toEqual(bytes);
  });

  it('answers 4.15 for a non-Opaque resource', () => {
    const e = err(() => decodeNode(42, [3, 0, 9], Uint8Array.of(1), model));
    expect(e.reason).toBe('format-not-applicable');
    expect(e.responseCode).toBe('4.15');
  });
});

describe('CBOR (60) single values, LwM2M TS Core 1.1 §7.4 (CBOR data format)', () => {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const cases: [string, number[], Lwm2mNode, string][] = [
    // Expected bytes written by hand from RFC 8949 §3 (major types) and §3.4.2 (tag 1).
    ['Integer 100 → 18 64', [3, 0, 9], singleResource(9, 'Integer', 100), '1864'],
    ['Integer -500 → 39 01f3', [3, 0, 9], singleResource(9, 'Integer', -500), '3901f3'],
    ['String "U" → 61 55', [3, 0, 16], singleResource(16, 'String', 'U'), '6155'],
    ['Boolean true → f5', [1, 0, 6], singleResource(6, 'Boolean', true), 'f5'],
    ['Opaque 01 02 → 42 0102', [5, 0, 0], singleResource(0, 'Opaque', Uint8Array.of(1, 2)), '420102'],
    [
      'Objlnk 11:0 → 64 "11:0"',
      [1, 0, 10],
      singleResource(10, 'Objlnk', { objectId: 11, instanceId: 0 }),
      '6431313a30',
    ],
    ['Time 1367491215 → c1 1a 5182428f', [3, 0, 13], singleResource(13, 'Time', 1367491215), 'c11a5182428f'],
    ['Float 1.5 → fb 3ff8000000000000', [6, 0, 0], singleResource(0, 'Float', 1.5), 'fb3ff8000000000000'],
    [
      'resource instance /3/0/6/1 = 5 → 05',
      [3, 0, 6, 1],
      { kind: 'resourceInstance', id: 1, type: 'Integer', value: 5 },
      '05',
    ],
  ];
  for (const [name, path, node, expected] of cases) {
    it(name, () => {
      const bytes = encodeNode(60, path, node, model);
      expect(hex(bytes)).toBe(expected);
      expect(decodeNode(60, path, bytes, model)).toEqual(node);
    });
  }

  it('reads a Time without tag 1, and rejects a value of the wrong CBOR type', () => {
    expect(decodeNode(60, [3, 0, 13], Uint8Array.of(0x1a, 0x51, 0x82, 0x42, 0x8f), model)).toEqual(
      singleResource(13, 'Time', 1367491215),
    );
    expect(err(() => decodeNode(60, [3, 0, 9], Uint8Array.of(0x61, 0x55), model)).reason).toBe('wrong-type');
    expect(err(() => decodeNode(60, [3, 0], Uint8Array.of(0x01), model)).responseCode).toBe('4.15');
  });
});
