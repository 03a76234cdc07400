import { fromHex, toHex } from '@thimble/coap-core';
import { reasonOf } from '@thimble/test-support';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOscoreOption, encodeOscoreOption } from '../src/index.js';

describe('OSCORE option value (RFC 8613 §6.1)', () => {
  it('encodes the Appendix C values', () => {
    expect(toHex(encodeOscoreOption({ partialIv: fromHex('14'), kid: new Uint8Array(0) }))).toBe('0914');
    expect(toHex(encodeOscoreOption({ partialIv: fromHex('14'), kid: fromHex('00') }))).toBe('091400');
    expect(
      toHex(
        encodeOscoreOption({
          partialIv: fromHex('14'),
          kid: new Uint8Array(0),
          kidContext: fromHex('37cbf3210017a2d3'),
        }),
      ),
    ).toBe('19140837cbf3210017a2d3');
    expect(toHex(encodeOscoreOption({ partialIv: fromHex('00') }))).toBe('0100');
  });

  it('all flags zero: the value is empty (§6.1)', () => {
    expect(encodeOscoreOption({}).length).toBe(0);
    expect(decodeOscoreOption(new Uint8Array(0))).toEqual({});
  });

  it('decodes kid context and kid', () => {
    const v = decodeOscoreOption(fromHex('19140837cbf3210017a2d3'));
    expect(toHex(v.partialIv!)).toBe('14');
    expect(toHex(v.kidContext!)).toBe('37cbf3210017a2d3');
    expect(toHex(v.kid!)).toBe('');
  });

  it.each([
    ['00', 'a 0x00 flag byte must be sent as an empty value'],
    ['20', 'reserved bit 5'],
    ['40', 'reserved bit 6'],
    ['80', 'reserved bit 7'],
    ['06010203040506', 'n = 6 is reserved'],
    ['07', 'n = 7 is reserved'],
    ['0201', 'Partial IV truncated'],
    ['11', 'kid context length missing'],
    ['110501', 'kid context truncated'],
    ['0114ff', 'trailing bytes without k'],
  ])('rejects %s (%s) with a typed bad-option error', (hex) => {
    expect(reasonOf(() => decodeOscoreOption(fromHex(hex)))).toBe('bad-option');
  });

  it('refuses to encode a Partial IV longer than 5 bytes', () => {
    expect(reasonOf(() => encodeOscoreOption({ partialIv: new Uint8Array(6) }))).toBe('invalid-message');
  });

  it('property: decode(encode(v)) = v', () => {
    const bytes = (max: number) => fc.uint8Array({ maxLength: max });
    fc.assert(
      fc.property(
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 5 }), { nil: undefined }),
        fc.option(bytes(40), { nil: undefined }),
        fc.option(bytes(20), { nil: undefined }),
        (partialIv, kidContext, kid) => {
          const decoded = decodeOscoreOption(encodeOscoreOption({ partialIv, kidContext, kid }));
          expect(decoded.partialIv === undefined ? undefined : toHex(decoded.partialIv)).toBe(
            partialIv === undefined ? undefined : toHex(partialIv),
          );
          expect(decoded.kidContext === undefined ? undefined : toHex(decoded.kidContext)).toBe(
            kidContext === undefined ? undefined : toHex(kidContext),
          );
          expect(decoded.kid === undefined ? undefined : toHex(decoded.kid)).toBe(
            kid === undefined ? undefined : toHex(kid),
          );
        },
      ),
    );
  });

  it('property: arbitrary bytes decode or fail with bad-option, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const r = reasonOf(() => decodeOscoreOption(b));
        expect(r === undefined || r === 'bad-option').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
