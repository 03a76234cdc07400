import { fromHex, toHex, utf8Decode, utf8Encode } from '@thimble/coap-core';
import { decodeNode, encodeNode, Lwm2mContentError, parseLwm2mPath } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { loadVectors, nodeFromJson, registryWith, type VectorModel } from '../helpers.js';

interface Vector {
  name: string;
  source: string;
  format: number;
  path: string;
  hex?: string;
  text?: string;
  node: unknown;
  reencode: boolean;
  /** Bytes exactly as the TS prints them, when they contain a length erratum (see `erratum`). */
  publishedHex?: string;
  erratum?: string;
}

const file = loadVectors<{ models: Record<string, VectorModel>; vectors: Vector[] }>(
  'lwm2m/content-examples.json',
);
const model = registryWith(file.models);

describe('LwM2M TS examples (test-vectors/lwm2m/content-examples.json)', () => {
  for (const v of file.vectors) {
    const bytes = v.hex !== undefined ? fromHex(v.hex) : utf8Encode(v.text!);
    const path = parseLwm2mPath(v.path);
    const expected = nodeFromJson(v.node);

    it(`${v.name} decodes — ${v.source}`, () => {
      expect(decodeNode(v.format, path, bytes, model)).toEqual(expected);
    });

    if (v.publishedHex !== undefined) {
      it(`${v.name}: the bytes as published are rejected (${v.erratum})`, () => {
        const published = fromHex(v.publishedHex!);
        expect(() => decodeNode(v.format, path, published, model)).toThrow(Lwm2mContentError);
      });
    }

    if (v.reencode) {
      it(`${v.name} re-encodes to the same bytes`, () => {
        const out = encodeNode(v.format, path, expected, model);
        if (v.text !== undefined) expect(utf8Decode(out)).toBe(v.text);
        else expect(toHex(out)).toBe(toHex(bytes));
      });
    }
  }
});
