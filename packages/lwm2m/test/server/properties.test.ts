import { Code } from '@thimble/coap-core';
import { parseLinksPayload, parseRegisterQuery, parseUpdateQuery, RegistrationError } from '@thimble/lwm2m';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serverSetup } from './harness.js';

const onlyRegistrationErrors = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RegistrationError);
  }
};

const queryItem = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc
    .tuple(fc.constantFrom('ep', 'lt', 'lwm2m', 'b', 'Q', 'sms', 'x'), fc.string({ maxLength: 20 }))
    .map(([k, v]) => `${k}=${v}`),
);

describe('registration parsers take any input (docs/ARCHITECTURE.md: bad input is normal input)', () => {
  it('parseRegisterQuery / parseUpdateQuery throw only RegistrationError on arbitrary queries', () => {
    fc.assert(
      fc.property(fc.array(queryItem, { maxLength: 8 }), (query) => {
        onlyRegistrationErrors(() => parseRegisterQuery(query));
        onlyRegistrationErrors(() => parseUpdateQuery(query));
      }),
      { numRuns: 2000 },
    );
  });

  it('parseLinksPayload throws only RegistrationError on arbitrary bytes and link-ish text', () => {
    const linkish = fc
      .array(
        fc.constantFrom(
          '<',
          '>',
          '/',
          '3',
          '0',
          ',',
          ';',
          'ver=',
          '"',
          'rt="oma.lwm2m"',
          'ct=',
          '1.1',
          ' ',
          '65535',
        ),
        {
          maxLength: 40,
        },
      )
      .map((parts) => new TextEncoder().encode(parts.join('')));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), linkish), (bytes) => {
        onlyRegistrationErrors(() => parseLinksPayload(bytes, 40));
      }),
      { numRuns: 3000 },
    );
  });

  it('the server answers 2.01 or 4.00 to arbitrary Register requests, never crashes', async () => {
    const s = serverSetup();
    const codes = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(queryItem, { maxLength: 5 }),
        fc.uint8Array({ maxLength: 64 }),
        async (query, payload) => {
          const res = await s.toServer({ method: 'POST', path: ['rd'], query, payload, contentFormat: 40 });
          codes.add(res.code);
          expect([Code.Created, Code.BadRequest]).toContain(res.code);
        },
      ),
      { numRuns: 200 },
    );
    expect(codes.has(Code.BadRequest)).toBe(true);
  });
});
