import { fromHex, utf8Encode } from '@thimble/coap-core';
import {
  BUILTIN_OBJECTS,
  decodeComposite,
  decodeNode,
  encodeComposite,
  Lwm2mContentError,
  ObjectRegistry,
  singleResource,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';

const model = new ObjectRegistry(BUILTIN_OBJECTS);

describe('bounded work on large payloads (docs/ARCHITECTURE.md, "Bounded everything")', () => {
  it('SenML JSON: 60,000 resource instances decode in linear time (an O(n²) build takes seconds)', () => {
    const n = 60000;
    const records = Array.from({ length: n }, (_, i) => `{"n":"/3/0/11/${i}","v":${i % 33}}`);
    const bytes = utf8Encode(`[${records.join(',')}]`);
    const started = performance.now();
    const node = decodeNode(110, [3, 0, 11], bytes, model);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(node.kind === 'multipleResource' && node.instances.length).toBe(n);
  });

  it('TLV: 65,535 resource instances with 16-bit ids decode in linear time (an O(n²) build takes seconds)', () => {
    const n = 65535;
    const inner = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) inner.set([0x61, i >> 8, i & 0xff, i % 33], i * 4);
    const bytes = new Uint8Array([
      0x98,
      0x0b,
      inner.length >> 16,
      (inner.length >> 8) & 0xff,
      inner.length & 0xff,
      ...inner,
    ]);
    const started = performance.now();
    const node = decodeNode(11542, [3, 0, 11], bytes, model);
    expect(performance.now() - started).toBeLessThan(500);
    expect(node.kind === 'multipleResource' && node.instances.length).toBe(n);
  });

  it('SenML: more than 65,536 records are refused', () => {
    const records = new Array(65537).fill('{"n":"/3/0/9","v":1}');
    const e = (() => {
      try {
        decodeNode(110, [3, 0, 9], utf8Encode(`[${records.join(',')}]`), model);
      } catch (x) {
        return x as Lwm2mContentError;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(Lwm2mContentError);
    expect(e!.reason).toBe('malformed');
  });

  it('CBOR nested 100,000 arrays deep is refused with a typed error, not a stack overflow', () => {
    const deep = new Uint8Array(100001).fill(0x81);
    deep[100000] = 0x00;
    for (const format of [60, 112, 11544]) {
      expect(() => decodeNode(format, [3, 0, 9], deep, model)).toThrow(Lwm2mContentError);
    }
  });

  it('JSON nesting deeper than 16 levels is refused before recursion goes further', () => {
    const deep = utf8Encode(`${'['.repeat(10000)}${']'.repeat(10000)}`);
    expect(() => decodeNode(110, [3, 0], deep, model)).toThrow(Lwm2mContentError);
  });
});

describe('times', () => {
  it('a composite entry time travels as SenML "t" and comes back (LwM2M TS Core 1.1, SenML data formats; Send operation)', () => {
    const entries = [{ path: [3303, 0, 5700], node: singleResource(5700, 'Float', 21.5), time: 1700000000 }];
    for (const format of [110, 112]) {
      expect(decodeComposite(format, encodeComposite(format, entries, model), model)).toEqual(entries);
    }
  });

  it('LwM2M CBOR accepts a Time as a tag-1 epoch time (RFC 8949 §3.4.2)', () => {
    // {[3, 0, 13]: 1(1367491215)}
    const node = decodeNode(11544, [3, 0, 13], fromHex('a1 83 03 00 0d c1 1a 51 82 42 8f'), model);
    expect(node).toEqual(singleResource(13, 'Time', 1367491215));
  });
});
