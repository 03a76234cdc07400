import { decodeOscoreOption } from '@thimble/oscore';
import { describe, expect, it } from 'vitest';
import { reasonOf } from '../src/index.js';

describe('reasonOf (OSCORE test helper)', () => {
  it("returns the reason of the OscoreError thrown (RFC 8613 §6.1: reserved flag bits are 'bad-option')", () => {
    expect(reasonOf(() => decodeOscoreOption(Uint8Array.of(0xe0)))).toBe('bad-option');
  });

  it('returns undefined when nothing is thrown, and rethrows any other error', () => {
    expect(reasonOf(() => 1)).toBeUndefined();
    expect(() =>
      reasonOf(() => {
        throw new TypeError('not an OSCORE error');
      }),
    ).toThrow(TypeError);
  });
});
