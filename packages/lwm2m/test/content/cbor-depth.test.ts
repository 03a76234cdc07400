import {
  BUILTIN_OBJECTS,
  decodeComposite,
  decodeCompositePaths,
  decodeNode,
  Lwm2mContentError,
  ObjectRegistry,
} from '@thimble/lwm2m';
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cborNestingWithin, MAX_CBOR_DEPTH } from '../../src/content/cbor.js';

const model = new ObjectRegistry(BUILTIN_OBJECTS);
const encoder = new Encoder({ mapsAsObjects: false, useRecords: false, tagUint8Array: false });

function reasonOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof Lwm2mContentError) return e.reason;
    throw e;
  }
  return undefined;
}

/** `depth` nested one-element arrays around an integer 0 (0x81 … 0x81 0x00). */
function nestedArrays(depth: number): Uint8Array {
  const b = new Uint8Array(depth + 1).fill(0x81);
  b[depth] = 0x00;
  return b;
}

/** Mixed containers, `depth` levels: map {0: …}, tag 1 (…), indefinite array [_ …], in turn. */
function nestedMixed(depth: number): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < depth; i++) {
    if (i % 3 === 0)
      out.push(0xa1, 0x00); // map of 1 pair, key 0
    else if (i % 3 === 1)
      out.push(0xc1); // tag 1
    else out.push(0x9f); // indefinite-length array
  }
  out.push(0x00);
  for (let i = depth - 1; i >= 0; i--) if (i % 3 === 2) out.push(0xff);
  return new Uint8Array(out);
}

const decoders: [string, (bytes: Uint8Array) => unknown][] = [
  ['CBOR single value (60)', (b) => decodeNode(60, [3, 0, 9], b, model)],
  ['SenML CBOR (112)', (b) => decodeNode(112, [3, 0], b, model)],
  ['SenML CBOR composite (112)', (b) => decodeComposite(112, b, model)],
  ['SenML CBOR composite paths (112)', (b) => decodeCompositePaths(112, b)],
  ['LwM2M CBOR (11544)', (b) => decodeNode(11544, [3, 0], b, model)],
  ['LwM2M CBOR composite (11544)', (b) => decodeComposite(11544, b, model)],
];

describe(`CBOR nesting is bounded explicitly at ${MAX_CBOR_DEPTH} levels (RFC 8949 §3; docs/ARCHITECTURE.md, "Bad input is normal input")`, () => {
  for (const [name, decode] of decoders) {
    it(`${name}: ${MAX_CBOR_DEPTH + 1} nested arrays are refused as too-deep`, () => {
      expect(reasonOf(() => decode(nestedArrays(MAX_CBOR_DEPTH + 1)))).toBe('too-deep');
    });
    it(`${name}: 100,000 nested arrays are refused as too-deep, not by catching a stack overflow`, () => {
      expect(reasonOf(() => decode(nestedArrays(100_000)))).toBe('too-deep');
    });
    it(`${name}: nested maps, tags and indefinite-length arrays count alike`, () => {
      expect(reasonOf(() => decode(nestedMixed(MAX_CBOR_DEPTH + 1)))).toBe('too-deep');
      // at the limit the depth check lets it through (the codec then refuses the shape for its own reason)
      expect(reasonOf(() => decode(nestedMixed(MAX_CBOR_DEPTH)))).not.toBe('too-deep');
    });
  }

  it('the deepest legitimate LwM2M CBOR payload still decodes (four maps down to a resource instance, LwM2M TS Core §7.4)', () => {
    // {3: {0: {11: {0: 7}}}} — object → instance → resource → instance: four maps
    const bytes = new Uint8Array(
      encoder.encode(new Map([[3, new Map([[0, new Map([[11, new Map([[0, 7]])]])]])]])),
    );
    const node = decodeNode(11544, [3, 0, 11], bytes, model);
    expect(node.kind).toBe('multipleResource');
  });

  it('property: the linear scan agrees with a recursive depth count of any cbor-x encoded value', () => {
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.uint8Array({ maxLength: 4 })),
        fc.array(tie('tree'), { maxLength: 3 }),
        fc
          .array(fc.tuple(fc.integer({ min: 0, max: 9 }), tie('tree')), { maxLength: 3 })
          .map((e) => new Map(e)),
      ),
    }));
    const depthOf = (v: unknown): number => {
      if (Array.isArray(v)) return v.length === 0 ? 0 : 1 + Math.max(...v.map(depthOf));
      if (v instanceof Map) return v.size === 0 ? 0 : 1 + Math.max(...[...v.values()].map(depthOf));
      return 0;
    };
    fc.assert(
      fc.property(tree, fc.integer({ min: 0, max: 8 }), (value, limit) => {
        const bytes = new Uint8Array(encoder.encode(value));
        expect(cborNestingWithin(bytes, limit)).toBe(depthOf(value) <= limit);
      }),
      { numRuns: 300 },
    );
  });

  it('property: the scan never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 20 }), (bytes, limit) => {
        expect(typeof cborNestingWithin(bytes, limit)).toBe('boolean');
      }),
    );
  });
});
