import { fromHex, toHex, utf8Decode, utf8Encode } from '@thimble/coap-core';
import {
  BUILTIN_OBJECTS,
  decodeComposite,
  decodeCompositePaths,
  decodeNode,
  encodeComposite,
  encodeCompositePaths,
  encodeNode,
  Lwm2mContentError,
  ObjectRegistry,
  readSenmlRecords,
  singleResource,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';

const model = new ObjectRegistry(BUILTIN_OBJECTS);
const json = (s: string) => utf8Encode(s);
const err = (f: () => unknown): Lwm2mContentError => {
  try {
    f();
  } catch (e) {
    if (e instanceof Lwm2mContentError) return e;
    throw e;
  }
  throw new Error('expected a Lwm2mContentError');
};

describe('SenML base name and base time (RFC 8428 §4.5.3 and §4.6, LwM2M TS Core 1.1 §7.4 SenML JSON)', () => {
  it('carries bn over to the following records until a new bn', () => {
    const recs = readSenmlRecords(
      110,
      json('[{"bn":"/3/0/","n":"0","vs":"a"},{"n":"1","vs":"b"},{"bn":"/1/0/","n":"1","v":5}]'),
    );
    expect(recs.map((r) => r.name)).toEqual(['/3/0/0', '/3/0/1', '/1/0/1']);
  });

  it('resolves t against bt, and keeps bt for records without t', () => {
    const recs = readSenmlRecords(
      110,
      json('[{"bn":"/3303/0/5700","bt":1700000000,"v":22.4,"t":-5},{"v":22.9,"t":-30},{"v":24.1}]'),
    );
    expect(recs.map((r) => r.time)).toEqual([1699999995, 1699999970, 1700000000]);
  });

  it('decodes timestamped values of one resource as separate composite entries (historical notification)', () => {
    const bytes = json('[{"bn":"/3303/0/5700","bt":1700000000,"v":22.4,"t":-5},{"v":22.9,"t":-30}]');
    expect(decodeComposite(110, bytes, model)).toEqual([
      { path: [3303, 0, 5700], node: singleResource(5700, 'Float', 22.4), time: 1699999995 },
      { path: [3303, 0, 5700], node: singleResource(5700, 'Float', 22.9), time: 1699999970 },
    ]);
  });

  it('adds the base value bv to v (RFC 8428 §4.1), exactly for 64-bit integers', () => {
    const recs = readSenmlRecords(110, json('[{"bn":"/3/0/","bv":100,"n":"9","v":-1},{"n":"10","v":5}]'));
    expect(recs.map((r) => r.value)).toEqual([99, 105]);
    const big = decodeNode(110, [3, 0, 9], json('[{"bv":9223372036854775000,"n":"/3/0/9","v":807}]'), model);
    expect(big).toEqual(singleResource(9, 'Integer', 2n ** 63n - 1n));
    const cbor = readSenmlRecords(112, fromHex('81 a3 24 0a 00 61 39 02 05')); // [{-5: 10, 0: "9", 2: 5}]
    expect(cbor[0]!.value).toBe(15);
  });

  it('accepts names split differently between bn and n', () => {
    const a = decodeNode(
      110,
      [3, 0],
      json('[{"bn":"/3/","n":"0/9","v":100},{"bn":"","n":"/3/0/14","vs":"+02:00"}]'),
      model,
    );
    expect(a).toEqual({
      kind: 'objectInstance',
      id: 0,
      resources: [singleResource(9, 'Integer', 100), singleResource(14, 'String', '+02:00')],
    });
  });

  it('rejects duplicate JSON keys (RFC 8259 §4 leaves them undefined) and keeps "__proto__" as data', () => {
    expect(err(() => decodeNode(110, [3, 0, 9], json('[{"n":"/3/0/9","v":1,"v":2}]'), model)).reason).toBe(
      'malformed',
    );
    // In SenML a label ending in "_" is must-understand (RFC 8428 §4.4): "__proto__" is refused there...
    const e = err(() =>
      decodeNode(110, [3, 0, 9], json('[{"__proto__":{"polluted":1},"n":"/3/0/9","v":1}]'), model),
    );
    expect(e.message).toContain('must-understand');
    // ...and ignored as plain data by LwM2M JSON, without touching any prototype.
    const n = decodeNode(
      11543,
      [3, 0, 9],
      json('{"__proto__":{"polluted":1},"bn":"/3/0/9","e":[{"v":1}]}'),
      model,
    );
    expect(n).toEqual(singleResource(9, 'Integer', 1));
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });

  it('rejects must-understand fields (RFC 8428 §4.4) and records with two values', () => {
    expect(err(() => decodeNode(110, [3, 0, 9], json('[{"n":"/3/0/9","v":1,"x_":1}]'), model)).reason).toBe(
      'malformed',
    );
    expect(err(() => decodeNode(110, [3, 0, 9], json('[{"n":"/3/0/9","v":1,"vs":"1"}]'), model)).reason).toBe(
      'malformed',
    );
  });
});

describe('SenML values by type (LwM2M TS Core 1.1 §7.4, SenML data formats)', () => {
  it('reads Objlnk from vlo, Opaque from vd (base64url), Boolean from vb', () => {
    const n = decodeNode(
      110,
      [1, 0],
      json('[{"bn":"/1/0/","n":"10","vlo":"11:0"},{"n":"6","vb":true}]'),
      model,
    );
    expect(n).toEqual({
      kind: 'objectInstance',
      id: 0,
      resources: [
        singleResource(10, 'Objlnk', { objectId: 11, instanceId: 0 }),
        singleResource(6, 'Boolean', true),
      ],
    });
    const o = decodeNode(110, [5, 0, 0], json('[{"n":"/5/0/0","vd":"-_8"}]'), model);
    expect(o).toEqual(singleResource(0, 'Opaque', Uint8Array.of(0xfb, 0xff)));
  });

  it('writes Opaque as base64url without padding in SenML JSON', () => {
    expect(
      utf8Decode(encodeNode(110, [5, 0, 0], singleResource(0, 'Opaque', Uint8Array.of(0xfb, 0xff)))),
    ).toBe('[{"bn":"/5/0/","n":"0","vd":"-_8"}]');
  });

  it('keeps 64-bit integers exact in JSON', () => {
    const big = 2n ** 63n - 1n;
    const bytes = encodeNode(110, [3, 0, 9], singleResource(9, 'Integer', big));
    expect(utf8Decode(bytes)).toContain('"v":9223372036854775807');
    expect(decodeNode(110, [3, 0, 9], bytes, model)).toEqual(singleResource(9, 'Integer', big));
  });

  it('rejects a value in the wrong field for the resource type, with 4.00', () => {
    const e = err(() => decodeNode(110, [3, 0, 9], json('[{"n":"/3/0/9","vs":"100"}]'), model));
    expect(e.reason).toBe('wrong-type');
    expect(e.responseCode).toBe('4.00');
    expect(err(() => decodeNode(110, [3, 0, 9], json('[{"n":"/3/0/9","v":1.5}]'), model)).reason).toBe(
      'wrong-type',
    );
    expect(err(() => decodeNode(110, [3, 0, 9], json('[{"n":"/3/0/9","v":1e19}]'), model)).reason).toBe(
      'invalid-value',
    );
  });

  it('rejects unknown resources, records outside the request path and duplicates', () => {
    expect(err(() => decodeNode(110, [3, 0], json('[{"n":"/3/0/99","v":1}]'), model)).reason).toBe(
      'unknown-resource',
    );
    expect(err(() => decodeNode(110, [3, 0], json('[{"n":"/1/0/1","v":1}]'), model)).reason).toBe(
      'path-mismatch',
    );
    expect(
      err(() => decodeNode(110, [3, 0], json('[{"n":"/3/0/9","v":1},{"n":"/3/0/9","v":2}]'), model)).reason,
    ).toBe('duplicate');
    expect(err(() => decodeNode(110, [3, 0], json('[{"n":"/3/0/6","v":1}]'), model)).reason).toBe(
      'invalid-path',
    );
  });
});

describe('Composite operations (LwM2M TS Core 1.1: Read-Composite, Write-Composite, Send)', () => {
  const entries = [
    { path: [3, 0, 9], node: singleResource(9, 'Integer', 87) },
    {
      path: [1, 0],
      node: { kind: 'objectInstance' as const, id: 0, resources: [singleResource(1, 'Integer', 300)] },
    },
  ];

  it('SenML JSON composite payload names each entry by its own base name', () => {
    const text = utf8Decode(encodeComposite(110, entries, model));
    expect(text).toBe('[{"bn":"/3/0/","n":"9","v":87},{"bn":"/1/0/","n":"1","v":300}]');
    expect(
      decodeComposite(110, utf8Encode(text), model, [
        [3, 0, 9],
        [1, 0],
      ]),
    ).toEqual(entries);
  });

  it('SenML CBOR composite payload uses labels bn -2, n 0, v 2', () => {
    const bytes = encodeComposite(112, [entries[0]!], model);
    // [{-2: "/3/0/", 0: "9", 2: 87}]
    expect(toHex(bytes)).toBe('81a321652f332f302f00613902185 7'.replace(/ /g, ''));
  });

  it('LwM2M CBOR composite payload folds each entry path into a key', () => {
    const bytes = encodeComposite(11544, entries, model);
    // {[3, 0, 9]: 87, [1, 0]: {1: 300}}
    expect(toHex(bytes)).toBe('a283030009185782010 0a10119012c'.replace(/ /g, ''));
    expect(
      decodeComposite(11544, bytes, model, [
        [3, 0, 9],
        [1, 0],
      ]),
    ).toEqual(entries);
  });

  it('leaves out requested paths the payload has no values for', () => {
    const bytes = encodeComposite(110, entries, model);
    expect(
      decodeComposite(110, bytes, model, [
        [3, 0, 9],
        [3, 0, 0],
        [1, 0],
      ]),
    ).toEqual(entries);
  });

  it('rejects composite values outside the requested paths', () => {
    const bytes = encodeComposite(110, entries, model);
    expect(err(() => decodeComposite(110, bytes, model, [[3, 0]])).reason).toBe('path-mismatch');
  });

  it('encodes and decodes the path list of a Read-Composite request', () => {
    const paths = [[3, 0, 9], [1], [3303, 0, 5700]];
    const text = encodeCompositePaths(110, paths);
    expect(utf8Decode(text)).toBe('[{"n":"/3/0/9"},{"n":"/1"},{"n":"/3303/0/5700"}]');
    expect(decodeCompositePaths(110, text)).toEqual(paths);
    expect(decodeCompositePaths(112, encodeCompositePaths(112, paths))).toEqual(paths);
  });

  it('answers 4.15 for formats that have no composite form', () => {
    expect(err(() => decodeComposite(11542, new Uint8Array(0), model)).responseCode).toBe('4.15');
    expect(err(() => encodeComposite(11542, entries, model)).responseCode).toBe('4.06');
  });
});

describe('LwM2M JSON (11543, LwM2M TS 1.0.2 §6.4.4)', () => {
  it('resolves names against the request path when there is no bn', () => {
    const n = decodeNode(11543, [3, 0], json('{"e":[{"n":"9","v":100},{"n":"6/0","v":1}]}'), model);
    expect(n).toEqual({
      kind: 'objectInstance',
      id: 0,
      resources: [
        singleResource(9, 'Integer', 100),
        {
          kind: 'multipleResource',
          id: 6,
          type: 'Integer',
          instances: [{ kind: 'resourceInstance', id: 0, type: 'Integer', value: 1 }],
        },
      ],
    });
  });

  it('carries Objlnk in ov, Boolean in bv, Opaque as base64 in sv', () => {
    const text = '{"bn":"/1/0/","e":[{"n":"10","ov":"11:3"},{"n":"6","bv":false}]}';
    const n = decodeNode(11543, [1, 0], json(text), model);
    expect(utf8Decode(encodeNode(11543, [1, 0], n))).toBe(text);
    const o = encodeNode(11543, [5, 0, 0], singleResource(0, 'Opaque', Uint8Array.of(1, 2, 3, 4)));
    expect(utf8Decode(o)).toBe('{"bn":"/5/0/0/","e":[{"sv":"AQIDBA=="}]}');
  });

  it('resolves bt and t into entry times', () => {
    const bytes = json('{"bn":"/3303/0/5700","bt":25462634,"e":[{"v":22.4,"t":-5},{"v":22.9,"t":-30}]}');
    expect(decodeComposite(11543, bytes, model).map((e) => e.time)).toEqual([25462629, 25462604]);
  });
});

describe('Registry by content format', () => {
  it('answers 4.15 for an unknown content format, 4.06 when asked to encode one', () => {
    const d = err(() => decodeNode(50, [3, 0], json('{}'), model));
    expect(d.reason).toBe('unsupported-format');
    expect(d.responseCode).toBe('4.15');
    expect(err(() => encodeNode(41, [3, 0, 9], singleResource(9, 'Integer', 1))).responseCode).toBe('4.06');
  });

  it('wraps malformed CBOR in Lwm2mContentError', () => {
    expect(err(() => decodeNode(112, [3, 0], fromHex('9f'), model)).reason).toBe('malformed');
    expect(err(() => decodeNode(11544, [3, 0], fromHex('5a ff ff ff ff'), model)).reason).toBe('malformed');
  });
});
