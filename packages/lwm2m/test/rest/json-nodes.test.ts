import { multipleResource, objectInstance, singleResource } from '@thimble/lwm2m';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  instanceFromJson,
  JsonNodeError,
  nodeFromJson,
  nodeToJson,
  valueFromJson,
  valueToJson,
} from '../../src/node/index.js';
import { model, pathNodeArb, TEST_OBJECT } from '../content/arbitraries.js';

/** Drops `kind` and `type` everywhere: what a person may write when the model knows the resources. */
function bare(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(bare);
  if (typeof json !== 'object' || json === null) return json;
  const out: { [k: string]: unknown } = {};
  for (const [k, v] of Object.entries(json))
    if (k !== 'kind' && k !== 'type') out[k] = k === 'value' ? v : bare(v);
  return out;
}

describe('LwM2M nodes as JSON', () => {
  it('values by type: 64-bit integers as strings, Opaque as base64, Objlnk as an object, non-finite floats', () => {
    expect(valueToJson('Integer', 2n ** 62n)).toBe('4611686018427387904');
    expect(valueFromJson('Integer', '4611686018427387904')).toBe(2n ** 62n);
    expect(valueFromJson('Unsigned Integer', '18446744073709551615')).toBe(2n ** 64n - 1n);
    expect(valueFromJson('Integer', '42')).toBe(42);
    expect(valueToJson('Opaque', new Uint8Array([1, 2, 250]))).toBe('AQL6');
    expect(valueFromJson('Opaque', 'AQL6')).toEqual(new Uint8Array([1, 2, 250]));
    expect(valueFromJson('Opaque', '_-8')).toEqual(new Uint8Array([0xff, 0xef])); // base64url
    expect(valueToJson('Objlnk', { objectId: 3, instanceId: 0 })).toEqual({ objectId: 3, instanceId: 0 });
    expect(valueFromJson('Objlnk', '3:0')).toEqual({ objectId: 3, instanceId: 0 });
    expect(valueToJson('Float', Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(valueFromJson('Float', 'NaN')).toBeNaN();
    expect(valueToJson('Time', 1_700_000_000)).toBe(1_700_000_000);
    expect(valueFromJson('Time', '2023-11-14T22:13:20Z')).toBe(1_700_000_000);
    expect(() => valueFromJson('Time', 'yesterday')).toThrow(/not an integer/);
    expect(() => valueFromJson('Unsigned Integer', -1)).toThrow(/out of range/);
    expect(() => valueFromJson('Opaque', 42)).toThrow(/base64 string/);
  });

  it('reads bodies without kind or type when the model knows the resources', () => {
    expect(nodeFromJson({ value: 600 }, [1, 0, 1], model)).toEqual(singleResource(1, 'Integer', 600));
    expect(
      nodeFromJson(
        {
          instances: [
            { id: 0, value: 1 },
            { id: 2, value: 5 },
          ],
        },
        [3, 0, 11],
        model,
      ),
    ).toEqual(multipleResource(11, 'Integer', [[0, 1] as const, [2, 5] as const], true));
    expect(nodeFromJson({ resources: [{ id: 14, value: '+02:00' }] }, [3, 0], model)).toEqual(
      objectInstance(0, [singleResource(14, 'String', '+02:00')]),
    );
    expect(nodeFromJson({ value: 7 }, [3, 0, 11, 4], model)).toMatchObject({
      kind: 'resourceInstance',
      id: 4,
      value: 7,
    });
    expect(instanceFromJson({ resources: [{ id: 5700, value: 1.5 }] }, 3303, 4, model)).toEqual(
      objectInstance(4, [singleResource(5700, 'Float', 1.5)]),
    );
  });

  it('refuses what does not fit the path with the path in the message', () => {
    const cases: [unknown, number[], RegExp][] = [
      [[], [3, 0], /a node must be a JSON object/],
      [{ value: 1 }, [3], /needs an object instance, resource or resource instance path/],
      [{ resources: 'x' }, [3, 0], /\/3\/0: resources must be an array/],
      [{ resources: [1] }, [3, 0], /resources must hold objects/],
      [{ resources: [{ value: 1 }] }, [3, 0], /id is missing/],
      [{ id: 'x', value: 1 }, [3, 0, 14], /id must be an integer/],
      [
        { type: 'Float', instances: [{ id: 0, type: 'String', value: 'a' }] },
        [3, 0, 11],
        /type String is not Float/,
      ],
      [{ kind: 'resourceInstance', value: 1 }, [3, 0, 11], /does not fit this path/],
      [{}, [3, 0, 14], /value is missing/],
      [{ value: 1 }, [3, 0, 4], /\/3\/0\/4: an executable resource has no value/],
      [
        {
          instances: [
            { id: 1, value: 1 },
            { id: 1, value: 2 },
          ],
        },
        [3, 0, 11],
        /resource instance 1 is given twice/,
      ],
    ];
    for (const [json, path, message] of cases) {
      expect(() => nodeFromJson(json, path, model), JSON.stringify(json)).toThrow(JsonNodeError);
      expect(() => nodeFromJson(json, path, model)).toThrow(message);
    }
  });

  it('property: node → JSON text → node is the identity, with or without kind and type', () => {
    const traits = { nonFinite: true, negativeZero: false, empty: true };
    fc.assert(
      fc.property(
        pathNodeArb(traits).filter((x) => x.path.length >= 2),
        ({ path, node }) => {
          const json = JSON.parse(JSON.stringify(nodeToJson(node)));
          expect(nodeFromJson(json, path, model)).toEqual(node);
          expect(nodeFromJson(bare(json), path, model)).toEqual(node);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: any JSON body gives a node or a JsonNodeError, nothing else', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }),
        fc.constantFrom([3, 0], [3, 0, 11], [TEST_OBJECT, 1, 3], [3, 0, 11, 2], [1]),
        (json, path) => {
          try {
            nodeFromJson(json, path, model);
          } catch (e) {
            expect(e).toBeInstanceOf(JsonNodeError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
