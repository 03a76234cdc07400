import {
  decodeCborValue,
  decodeComposite,
  decodeLwm2mCbor,
  decodeLwm2mJson,
  decodeNode,
  decodeOpaque,
  decodeSenml,
  decodeText,
  decodeTlv,
  encodeComposite,
  encodeNode,
  type Lwm2mCompositeEntry,
  Lwm2mContentError,
  type Lwm2mPath,
} from '@thimble/lwm2m';
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FormatTraits,
  instanceArb,
  model,
  pathNodeArb,
  singleValueArb,
  TEST_OBJECT,
  VALUE_TYPES,
} from './arbitraries.js';

// FC_RUNS=20000 npx vitest run --project lwm2m for a longer search.
const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 300) };

const FORMATS: [string, number, FormatTraits][] = [
  ['TLV (11542)', 11542, { nonFinite: true, negativeZero: true, empty: true }],
  ['LwM2M JSON (11543)', 11543, { nonFinite: false, negativeZero: true, empty: false }],
  ['SenML JSON (110)', 110, { nonFinite: false, negativeZero: true, empty: false }],
  // cbor-x writes -0 as the integer 0, so the sign of a negative zero does not survive the CBOR formats.
  ['SenML CBOR (112)', 112, { nonFinite: true, negativeZero: false, empty: false }],
  ['LwM2M CBOR (11544)', 11544, { nonFinite: true, negativeZero: false, empty: false }],
];

describe('encode → decode is the identity (fast-check)', () => {
  for (const [name, format, traits] of FORMATS) {
    it(`${name}: nodes of every type at object, instance, resource and resource-instance paths`, () => {
      fc.assert(
        fc.property(pathNodeArb(traits), ({ path, node }) => {
          const bytes = encodeNode(format, path, node, model);
          expect(decodeNode(format, path, bytes, model)).toEqual(node);
        }),
        RUNS,
      );
    });
  }

  it('text/plain (0): single values of every type (LwM2M TS Core 1.1 §7.4, Plain Text)', () => {
    fc.assert(
      fc.property(
        singleValueArb(VALUE_TYPES, { nonFinite: false, negativeZero: false, empty: false }),
        ({ path, node }) => {
          expect(decodeNode(0, path, encodeNode(0, path, node, model), model)).toEqual(node);
        },
      ),
      RUNS,
    );
  });

  it('CBOR (60): single values of every type (LwM2M TS Core 1.1 §7.4, CBOR data format)', () => {
    fc.assert(
      fc.property(
        singleValueArb(VALUE_TYPES, { nonFinite: true, negativeZero: false, empty: false }),
        ({ path, node }) => {
          expect(decodeNode(60, path, encodeNode(60, path, node, model), model)).toEqual(node);
        },
      ),
      RUNS,
    );
  });

  it('application/octet-stream (42): Opaque values (LwM2M TS Core 1.1 §7.4, Opaque)', () => {
    fc.assert(
      fc.property(
        singleValueArb(['Opaque'], { nonFinite: true, negativeZero: true, empty: true }),
        ({ path, node }) => {
          expect(decodeNode(42, path, encodeNode(42, path, node, model), model)).toEqual(node);
        },
      ),
      RUNS,
    );
  });

  for (const format of [110, 112, 11544]) {
    it(`composite ${format}: entries at several instance paths decode back per requested path`, () => {
      const traits = { nonFinite: format !== 110, negativeZero: format === 110, empty: false };
      fc.assert(
        fc.property(
          fc.uniqueArray(instanceArb(fc.integer({ min: 0, max: 65534 }), traits, 1), {
            selector: (i) => i.id,
            maxLength: 4,
          }),
          (instances) => {
            const entries: Lwm2mCompositeEntry[] = instances.map((node) => ({
              path: [TEST_OBJECT, node.id],
              node,
            }));
            const bytes = encodeComposite(format, entries, model);
            expect(
              decodeComposite(
                format,
                bytes,
                model,
                entries.map((e) => e.path),
              ),
            ).toEqual(entries);
          },
        ),
        RUNS,
      );
    });
  }
});

describe('arbitrary bytes only ever raise Lwm2mContentError (fast-check)', () => {
  const paths: Lwm2mPath[] = [
    [3],
    [3, 0],
    [3, 0, 0],
    [3, 0, 6],
    [3, 0, 6, 1],
    [TEST_OBJECT, 1],
    [TEST_OBJECT, 0, 15],
  ];
  const decoders: [string, (p: Lwm2mPath, b: Uint8Array) => unknown][] = [
    ['TLV', (p, b) => decodeTlv(p, b, model)],
    ['LwM2M JSON', (p, b) => decodeLwm2mJson(p, b, model)],
    ['SenML JSON', (p, b) => decodeSenml(110, p, b, model)],
    ['SenML CBOR', (p, b) => decodeSenml(112, p, b, model)],
    ['LwM2M CBOR', (p, b) => decodeLwm2mCbor(p, b, model)],
    ['text/plain', (p, b) => decodeText(p, b, model)],
    ['octet-stream', (p, b) => decodeOpaque(p, b, model)],
    ['CBOR (60)', (p, b) => decodeCborValue(p, b, model)],
  ];
  const onlyTyped = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof Lwm2mContentError)) throw e;
    }
  };
  // The codecs are called directly (not through decodeNode, which would wrap stray errors).
  for (const [name, decode] of decoders) {
    it(`${name}: random bytes`, () => {
      fc.assert(
        fc.property(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 64 }), (p, b) =>
          onlyTyped(() => decode(p, b)),
        ),
        { numRuns: Number(process.env.FC_RUNS ?? 500) },
      );
    });
  }

  it('TLV: valid encodings with random bytes flipped or cut', () => {
    fc.assert(
      fc.property(
        pathNodeArb({ nonFinite: true, negativeZero: true, empty: true }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        ({ path, node }, at, byte) => {
          const bytes = encodeNode(11542, path, node, model);
          if (bytes.length === 0) return;
          const flipped = bytes.slice();
          flipped[at % bytes.length] = byte;
          onlyTyped(() => decodeTlv(path, flipped, model));
          onlyTyped(() => decodeTlv(path, bytes.subarray(0, at % bytes.length), model));
        },
      ),
      RUNS,
    );
  });

  it('SenML CBOR / LwM2M CBOR: well-formed CBOR of random maps, arrays and values', () => {
    const encoder = new Encoder({ mapsAsObjects: false, useRecords: false, tagUint8Array: false });
    const leaf = fc.oneof(
      fc.integer({ min: -3, max: 70000 }),
      fc.double(),
      fc.boolean(),
      fc.constantFrom('0', '6/1', '/3/0/', '/3/0/9', 'vlo', '3:0', 'x_'),
      fc.uint8Array({ maxLength: 4 }),
      fc.constant(null),
      fc.bigInt(-(2n ** 64n), 2n ** 64n),
      fc.date({ noInvalidDate: true }),
    );
    const key = fc.oneof(
      fc.constantFrom(-2, -3, 0, 2, 3, 4, 6, 8, 'vlo', 'bn_'),
      fc.integer({ min: -1, max: 70000 }),
      fc.array(fc.integer({ min: -1, max: 70000 }), { maxLength: 5 }),
    );
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, tie('map'), tie('array')),
      map: fc.array(fc.tuple(key, tie('node')), { maxLength: 4 }).map((entries) => new Map(entries)),
      array: fc.array(tie('node'), { maxLength: 4 }),
    }));
    fc.assert(
      fc.property(tree.node, fc.constantFrom(...paths), (doc, p) => {
        const bytes = new Uint8Array(encoder.encode(doc));
        onlyTyped(() => decodeSenml(112, p, bytes, model));
        onlyTyped(() => decodeLwm2mCbor(p, bytes, model));
        onlyTyped(() => decodeComposite(112, bytes, model));
        onlyTyped(() => decodeComposite(11544, bytes, model));
        onlyTyped(() => decodeCborValue(p, bytes, model));
      }),
      RUNS,
    );
  });

  it('SenML JSON / LwM2M JSON: JSON-shaped documents with random fields and values', () => {
    const jsonValue = fc.oneof(
      fc.string(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.integer(),
      fc.constant([]),
    );
    const record = fc.dictionary(
      fc.constantFrom('bn', 'bt', 'n', 't', 'v', 'vs', 'vb', 'vd', 'vlo', 'x_', 'sv', 'bv', 'ov', 'e'),
      jsonValue,
    );
    fc.assert(
      fc.property(fc.array(record, { maxLength: 5 }), fc.constantFrom(...paths), (records, p) => {
        const text = new TextEncoder().encode(JSON.stringify(records));
        onlyTyped(() => decodeSenml(110, p, text, model));
        const wrapped = new TextEncoder().encode(JSON.stringify({ bn: '/3/0/', e: records }));
        onlyTyped(() => decodeLwm2mJson(p, wrapped, model));
      }),
      RUNS,
    );
  });
});
