/**
 * docs/ARCHITECTURE.md, "Bad input is normal input": arbitrary device-management requests (any method, path, query,
 * Content-Format, Accept and payload) get a response code and never break the client.
 */
import { Code } from '@thimble/coap-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { drive, setup, until } from './harness.js';

const RUNS = Number(process.env.FC_RUNS ?? 300);

const segment = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '3',
    '4',
    '5',
    '11',
    '3303',
    '3311',
    '5700',
    '5850',
    '65535',
    '99999',
    '',
    'x',
    '-1',
  ),
  fc.nat({ max: 70000 }).map(String),
);
const request = fc.record({
  method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'FETCH', 'iPATCH'),
  path: fc.array(segment, { maxLength: 5 }),
  query: fc.array(
    fc.oneof(
      fc.constantFrom('pmin=1', 'pmax=2', 'gt=1.5', 'lt', 'st=-1', 'epmin=x', 'pmin', 'foo=1'),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 3 },
  ),
  contentFormat: fc.option(fc.constantFrom(0, 40, 42, 60, 110, 112, 11542, 11543, 11544, 9999)),
  accept: fc.option(fc.constantFrom(0, 40, 42, 60, 110, 112, 11542, 11543, 11544, 50)),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.string({ maxLength: 32 }).map((s) => new TextEncoder().encode(s)),
  ),
});

describe('Lwm2mClient under arbitrary requests (fast-check)', () => {
  it('answers every request with a 2.xx, 4.xx or 5.00 code and stays registered and serving', async () => {
    const s = setup();
    s.client.addInstance(3311, 0, { 5850: false, 5851: 10 });
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    const allowed = new Set<number>([
      Code.Created,
      Code.Deleted,
      Code.Changed,
      Code.Content,
      Code.BadRequest,
      Code.Unauthorized,
      Code.BadOption,
      Code.NotFound,
      Code.MethodNotAllowed,
      Code.NotAcceptable,
      Code.UnsupportedContentFormat,
      Code.InternalServerError,
    ]);
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const path = `/${r.path.join('/')}`;
        const res = await drive(
          s.clock,
          s.server.send({
            method: r.method as 'GET',
            path: r.path,
            query: r.query,
            contentFormat: r.contentFormat ?? undefined,
            accept: r.accept ?? undefined,
            payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : r.payload,
          }),
        );
        seen.add(res.code >> 5);
        if (!allowed.has(res.code))
          throw new Error(`${r.method} ${path} answered ${res.code >> 5}.${res.code & 31}`);
        if (res.code === Code.InternalServerError) throw new Error(`${r.method} ${path}: 5.00 ${res.text()}`);
      }),
      { numRuns: RUNS },
    );
    expect(seen.has(4)).toBe(true);
    const ok = await drive(s.clock, s.server.send({ method: 'GET', path: '/3/0/0', accept: 0 }));
    expect(ok.text()).toBe('Thimble');
    expect(s.client.registrationState).toBe('registered');
  }, 60_000);
});
