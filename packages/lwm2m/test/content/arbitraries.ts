/** fast-check arbitraries for nodes of a test object with one single and one multiple resource per type. */
import {
  BUILTIN_OBJECTS,
  canonicalInteger,
  INT64_MAX,
  INT64_MIN,
  type Lwm2mNode,
  type Lwm2mPath,
  type Lwm2mValue,
  type ObjectInstanceNode,
  ObjectRegistry,
  type ResourceNode,
  type ResourceType,
  UINT64_MAX,
} from '@thimble/lwm2m';
import fc from 'fast-check';

export const TEST_OBJECT = 40100;
export const VALUE_TYPES: ResourceType[] = [
  'String',
  'Integer',
  'Unsigned Integer',
  'Float',
  'Boolean',
  'Opaque',
  'Time',
  'Objlnk',
  'Corelnk',
];

/** Resource k (0–8) is a single resource of VALUE_TYPES[k]; resource 10 + k is a multiple one. */
export const model = new ObjectRegistry(BUILTIN_OBJECTS);
model.add({
  id: TEST_OBJECT,
  name: 'Property test object',
  version: '1.0',
  lwm2mVersion: '1.1',
  multiple: true,
  mandatory: false,
  resources: VALUE_TYPES.flatMap((type, k) => [
    { id: k, name: `single ${type}`, operations: 'RW' as const, multiple: false, mandatory: false, type },
    {
      id: 10 + k,
      name: `multiple ${type}`,
      operations: 'RW' as const,
      multiple: true,
      mandatory: false,
      type,
    },
  ]),
});

export interface FormatTraits {
  /** Non-finite floats have a representation. */
  nonFinite: boolean;
  /** -0 keeps its sign. */
  negativeZero: boolean;
  /** Empty multiple resources / empty object instances inside an object survive. */
  empty: boolean;
}

const strings = fc.string({ unit: 'binary', maxLength: 24 });

export function valueArb(type: ResourceType, t: FormatTraits): fc.Arbitrary<Lwm2mValue> {
  switch (type) {
    case 'Integer':
      return fc.oneof(fc.integer(), fc.bigInt(INT64_MIN, INT64_MAX).map(canonicalInteger));
    case 'Unsigned Integer':
      return fc.oneof(fc.nat(), fc.bigInt(0n, UINT64_MAX).map(canonicalInteger));
    case 'Float':
      return fc
        .double({ noNaN: true, noDefaultInfinity: !t.nonFinite })
        .filter((x) => t.negativeZero || !Object.is(x, -0));
    case 'Boolean':
      return fc.boolean();
    case 'Opaque':
      return fc.uint8Array({ maxLength: 40 });
    case 'Time':
      return fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.maxSafeInteger());
    case 'Objlnk':
      return fc.record({
        objectId: fc.integer({ min: 0, max: 65535 }),
        instanceId: fc.integer({ min: 0, max: 65535 }),
      });
    default:
      return strings;
  }
}

const ids = (max: number, min: number) =>
  fc.uniqueArray(fc.integer({ min: 0, max: 65534 }), { minLength: min, maxLength: max });

export function resourceArb(t: FormatTraits): fc.Arbitrary<ResourceNode> {
  return fc.integer({ min: 0, max: VALUE_TYPES.length - 1 }).chain((k) => {
    const type = VALUE_TYPES[k]!;
    return fc.oneof(
      valueArb(type, t).map((value): ResourceNode => ({ kind: 'resource', id: k, type, value })),
      ids(4, t.empty ? 0 : 1).chain((riids) =>
        fc.tuple(...riids.map(() => valueArb(type, t))).map(
          (values): ResourceNode => ({
            kind: 'multipleResource',
            id: 10 + k,
            type,
            instances: values.map((value, i) => ({ kind: 'resourceInstance', id: riids[i]!, type, value })),
          }),
        ),
      ),
    );
  });
}

export function instanceArb(
  id: fc.Arbitrary<number>,
  t: FormatTraits,
  minResources = 0,
): fc.Arbitrary<ObjectInstanceNode> {
  return fc
    .tuple(
      id,
      fc.uniqueArray(resourceArb(t), { selector: (r) => r.id, minLength: minResources, maxLength: 6 }),
    )
    .map(([iid, resources]) => ({ kind: 'objectInstance', id: iid, resources }));
}

/** A node with the path that addresses it, at any depth from object to resource instance. */
export function pathNodeArb(t: FormatTraits): fc.Arbitrary<{ path: Lwm2mPath; node: Lwm2mNode }> {
  const iid = fc.integer({ min: 0, max: 65534 });
  return fc.oneof(
    fc
      .uniqueArray(instanceArb(iid, t, t.empty ? 0 : 1), { selector: (i) => i.id, maxLength: 3 })
      .map((instances) => ({
        path: [TEST_OBJECT],
        node: { kind: 'object', id: TEST_OBJECT, instances } as Lwm2mNode,
      })),
    instanceArb(iid, t).map((node) => ({ path: [TEST_OBJECT, node.id], node: node as Lwm2mNode })),
    fc
      .tuple(iid, resourceArb(t))
      .map(([i, node]) => ({ path: [TEST_OBJECT, i, node.id], node: node as Lwm2mNode })),
    fc
      .tuple(iid, fc.integer({ min: 0, max: VALUE_TYPES.length - 1 }), fc.integer({ min: 0, max: 65534 }))
      .chain(([i, k, ri]) =>
        valueArb(VALUE_TYPES[k]!, t).map((value) => ({
          path: [TEST_OBJECT, i, 10 + k, ri],
          node: { kind: 'resourceInstance', id: ri, type: VALUE_TYPES[k]!, value } as Lwm2mNode,
        })),
      ),
  );
}

/** A single value node (single resource or resource instance) for text/plain and octet-stream. */
export function singleValueArb(
  types: ResourceType[],
  t: FormatTraits,
): fc.Arbitrary<{ path: Lwm2mPath; node: Lwm2mNode }> {
  return fc
    .tuple(
      fc.constantFrom(...types),
      fc.integer({ min: 0, max: 65534 }),
      fc.integer({ min: 0, max: 65534 }),
      fc.boolean(),
    )
    .chain(([type, i, ri, asInstance]) => {
      const k = VALUE_TYPES.indexOf(type);
      return valueArb(type, t).map((value) =>
        asInstance
          ? {
              path: [TEST_OBJECT, i, 10 + k, ri],
              node: { kind: 'resourceInstance', id: ri, type, value } as Lwm2mNode,
            }
          : { path: [TEST_OBJECT, i, k], node: { kind: 'resource', id: k, type, value } as Lwm2mNode },
      );
    });
}
