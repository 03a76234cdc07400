import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DtlsError } from '../src/errors.js';
import { PARSERS, runFuzz } from './fuzz.js';

describe('every parser rejects arbitrary bytes with a typed DtlsError (property)', () => {
  for (const [name, parse] of PARSERS) {
    it(`${name}: returns or throws DtlsError with reason`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
          try {
            parse(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(DtlsError);
            expect(['decode-error', 'limit']).toContain((e as DtlsError).reason);
          }
        }),
        { numRuns: 300 },
      );
    });
  }
});

describe('fuzz: random and mutated datagrams into parsers, the server engine and a client (small run)', () => {
  it('4,000 inputs: typed errors only, handshake state bounded', () => {
    const report = runFuzz(4000, 7);
    expect(report.inputs).toBe(4000);
    expect(report.typedErrors).toBeGreaterThan(1000);
    expect(report.maxHandshakes).toBeLessThanOrEqual(50);
  });
});
