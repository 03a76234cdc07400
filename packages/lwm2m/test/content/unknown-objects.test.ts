/**
 * Self-describing formats decode values of objects the model does not know (issue 16, item 3): SenML JSON
 * and CBOR (RFC 8428 §4.3, value fields) and LwM2M CBOR (TS Core 1.2 §7.4.7, CBOR major types) carry the
 * type of every value, so a vendor object (Wakaama's 31024, a device's 33001) reads with those types.
 * TLV and plain text carry no types: they still need the model.
 */
import { utf8Encode } from '@thimble/coap-core';
import { BUILTIN_OBJECTS, decodeComposite, decodeNode, encodeNode, ObjectRegistry } from '@thimble/lwm2m';
import { encode as cborEncode } from 'cbor-x';
import { describe, expect, it } from 'vitest';

const model = new ObjectRegistry(BUILTIN_OBJECTS);
const json = (s: string) => utf8Encode(s);
/** A SenML CBOR record (RFC 8428 §6: integer labels, 0 name, 2 v, 3 vs). */
const senml = (name: string, label: number, value: unknown) =>
  new Map<number, unknown>([
    [0, name],
    [label, value],
  ]);

describe('values of unknown objects in self-describing formats', () => {
  it('SenML JSON: an instance of vendor object 33001 decodes with the types of its value fields', () => {
    const node = decodeNode(
      110,
      [33001, 0],
      json(
        '[{"bn":"/33001/0/","n":"0","v":42},{"n":"1","v":21.5},{"n":"2","vs":"hi"},{"n":"3","vb":true},' +
          '{"n":"4","vd":"AQI"},{"n":"5/0","v":1},{"n":"5/1","v":2},{"n":"6","vlo":"3:0"}]',
      ),
      model,
    );
    expect(node).toEqual({
      kind: 'objectInstance',
      id: 0,
      resources: [
        { kind: 'resource', id: 0, type: 'Integer', value: 42 },
        { kind: 'resource', id: 1, type: 'Float', value: 21.5 },
        { kind: 'resource', id: 2, type: 'String', value: 'hi' },
        { kind: 'resource', id: 3, type: 'Boolean', value: true },
        { kind: 'resource', id: 4, type: 'Opaque', value: Uint8Array.of(1, 2) },
        {
          kind: 'multipleResource',
          id: 5,
          type: 'Integer',
          instances: [
            { kind: 'resourceInstance', id: 0, type: 'Integer', value: 1 },
            { kind: 'resourceInstance', id: 1, type: 'Integer', value: 2 },
          ],
        },
        { kind: 'resource', id: 6, type: 'Objlnk', value: { objectId: 3, instanceId: 0 } },
      ],
    });
  });

  it('SenML CBOR: a resource of Wakaama test object 31024 and a composite (Send) of unknown paths', () => {
    const one = decodeNode(112, [31024, 10, 1], cborEncode([senml('/31024/10/1', 2, 7)]), model);
    expect(one).toEqual({ kind: 'resource', id: 1, type: 'Integer', value: 7 });
    const entries = decodeComposite(
      112,
      cborEncode([senml('/31024/10/3', 2, 0.5), senml('/3/0/0', 3, 'Thimble')]),
      model,
    );
    expect(entries.map((e) => e.node)).toEqual([
      { kind: 'resource', id: 3, type: 'Float', value: 0.5 },
      { kind: 'resource', id: 0, type: 'String', value: 'Thimble' },
    ]);
  });

  it('LwM2M CBOR: nested maps of an unknown object decode with the CBOR item types', () => {
    const bytes = cborEncode(
      new Map([
        [
          33001,
          new Map([
            [
              0,
              new Map<number, unknown>([
                [0, 5],
                [2, 'x'],
              ]),
            ],
          ]),
        ],
      ]),
    );
    expect(decodeNode(11544, [33001, 0], bytes, model)).toEqual({
      kind: 'objectInstance',
      id: 0,
      resources: [
        { kind: 'resource', id: 0, type: 'Integer', value: 5 },
        { kind: 'resource', id: 2, type: 'String', value: 'x' },
      ],
    });
  });

  it('a known resource still gets the model type, and a decoded vendor node encodes back', () => {
    const node = decodeNode(110, [3, 0, 9], json('[{"n":"/3/0/9","v":80}]'), model);
    expect(node).toEqual({ kind: 'resource', id: 9, type: 'Integer', value: 80 });
    const vendor = decodeNode(110, [33001, 0, 1], json('[{"n":"/33001/0/1","v":1.25}]'), model);
    expect(decodeNode(110, [33001, 0, 1], encodeNode(110, [33001, 0, 1], vendor), model)).toEqual(vendor);
  });

  it('TLV carries no types: an unknown object is still an error there', () => {
    expect(() => decodeNode(11542, [33001, 0, 0], Uint8Array.of(0xc1, 0x00, 0x05), model)).toThrow(
      /not in the model/,
    );
  });
});
