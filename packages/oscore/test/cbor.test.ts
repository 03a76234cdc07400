import { toHex } from '@thimble/coap-core';
import { encode } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildAad, buildAadArray, hkdfInfo } from '../src/index.js';

// cbor-x writes a Buffer as a plain byte string (a bare Uint8Array gets the typed-array tag 64)
const asBytes = (b: Uint8Array) => Buffer.from(b);

describe('exact CBOR of info (RFC 8613 §3.2.1) and AAD (§5.4), cross-checked with cbor-x', () => {
  it('info = [id, id_context / nil, alg_aead, type, L]', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
        fc.oneof(
          fc.integer({ min: -70000, max: 70000 }),
          fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'a')),
        ),
        fc.constantFrom('Key' as const, 'IV' as const),
        fc.integer({ min: 0, max: 100000 }),
        (id, idContext, alg, type, length) => {
          const ours = hkdfInfo(id, idContext, alg, type, length);
          const theirs = encode([
            asBytes(id),
            idContext === undefined ? null : asBytes(idContext),
            alg,
            type,
            length,
          ]);
          expect(toHex(ours)).toBe(toHex(theirs));
        },
      ),
    );
  });

  it("Enc_structure [\"Encrypt0\", h'', bstr .cbor [1, [alg], kid, piv, h'']]", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 1, maxLength: 5 }),
        fc.integer({ min: -30, max: 300 }),
        (kid, piv, alg) => {
          const algorithm = new Uint8Array([0x01, 0x81, ...encode(alg)]);
          const externalAad = encode([1, [alg], asBytes(kid), asBytes(piv), Buffer.alloc(0)]);
          expect(toHex(buildAadArray(algorithm, kid, piv))).toBe(toHex(externalAad));
          expect(toHex(buildAad(algorithm, kid, piv))).toBe(
            toHex(encode(['Encrypt0', Buffer.alloc(0), asBytes(externalAad)])),
          );
        },
      ),
    );
  });
});
