import { Code, OptionNumber } from '@thimble/coap-core';
import { MemoryRegistrationStore, parseRegisterQuery, RegistrationError } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, registered, serverSetup, until } from './harness.js';

const LINKS = '</>;rt="oma.lwm2m";ct="60 110 112 11542",</1/0>,</3/0>,</3303/0>';

describe('Lwm2mServer registration interface (LwM2M TS Core 1.1 §6.2, Transport §6.2)', () => {
  it('Register (§6.2.1): 2.01 with Location-Path rd/<id>, a registered event and the store entry', async () => {
    const s = serverSetup();
    const client = s.device(1);
    const r = await registered(s, client);
    expect(client.registrationLocation).toBe(`/rd/${r.id}`);
    expect(s.events.registered).toHaveLength(1);
    expect(r).toMatchObject({
      endpoint: 'dev1',
      lifetime: 300,
      version: '1.1',
      binding: 'U',
      queueMode: false,
      peer: { address: '10.0.1.1', port: 56830 },
      rootPath: '/',
    });
    expect(r.contentFormats).toContain(112);
    expect(r.objects.map((o) => o.path.join('/'))).toEqual(expect.arrayContaining(['1/0', '3/0', '3303/0']));
    expect(r.expiresAt).toBe(r.updatedAt + (300 + 15) * 1000);
    expect(s.server.store.get(r.id)).toBe(r);
    expect(s.server.registrations()).toHaveLength(1);
  });

  it('Update (§6.2.2) keeps the registration alive past its first lifetime and emits updated', async () => {
    const s = serverSetup();
    const client = s.device(1, { lifetime: 60 });
    const r = await registered(s, client);
    await s.clock.advance(200_000);
    expect(s.events.updated.length).toBeGreaterThanOrEqual(2);
    expect(s.events.expired).toHaveLength(0);
    const now = s.server.registration('dev1')!;
    expect(now.id).toBe(r.id);
    expect(now.updatedAt).toBeGreaterThan(r.updatedAt);
    expect(now.registeredAt).toBe(r.registeredAt);
  });

  it('Update with new lt, b and object links changes the registration', async () => {
    const s = serverSetup();
    const reg = await s.toServer({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: '</3/0>' });
    const id = reg.message.getStrings(OptionNumber.LocationPath)[1]!;
    const res = await s.toServer({
      method: 'POST',
      path: ['rd', id],
      query: ['lt=120', 'b=UQ'],
      payload: '</1/0>,</3/0>,</5/0>',
      contentFormat: 40,
    });
    expect(res.code).toBe(Code.Changed);
    const now = s.server.registration('dev1')!;
    expect(now.lifetime).toBe(120);
    expect(now.binding).toBe('UQ');
    expect(now.objects.map((o) => o.path.join('/'))).toEqual(['1/0', '3/0', '5/0']);
    expect(now.peer.address).toBe('10.0.2.1');
    expect(s.events.updated.at(-1)).toBe(now);
  });

  it('a 1.0 Update with b=UQ / b=U switches queue mode (Core 1.0 binding)', async () => {
    const s = serverSetup();
    const res = await s.toServer({
      method: 'POST',
      path: ['rd'],
      query: ['ep=old', 'b=U'],
      payload: '</3/0>',
    });
    const id = res.message.getStrings(OptionNumber.LocationPath)[1]!;
    expect(s.server.registration('old')!.queueMode).toBe(false);
    expect((await s.toServer({ method: 'POST', path: ['rd', id], query: ['b=UQ'] })).code).toBe(Code.Changed);
    expect(s.server.registration('old')!.queueMode).toBe(true);
    expect((await s.toServer({ method: 'POST', path: ['rd', id], query: ['b=U'] })).code).toBe(Code.Changed);
    expect(s.server.registration('old')!.queueMode).toBe(false);
  });

  it('Update of an unknown registration id is 4.04', async () => {
    const s = serverSetup();
    const res = await s.toServer({ method: 'POST', path: ['rd', 'nosuchid'] });
    expect(res.code).toBe(Code.NotFound);
  });

  it('De-register (§6.2.3): 2.02, deregistered event, gone from the store', async () => {
    const s = serverSetup();
    const client = s.device(1);
    const r = await registered(s, client);
    await drive(s.clock, client.stop());
    expect(s.events.deregistered.map((x) => x.id)).toEqual([r.id]);
    expect(s.server.registration('dev1')).toBeUndefined();
    expect(s.server.store.size).toBe(0);
    const again = await s.toServer({ method: 'DELETE', path: ['rd', r.id] });
    expect(again.code).toBe(Code.NotFound);
  });

  it('a registration expires after lifetime + 15 s grace without Update', async () => {
    const s = serverSetup();
    const res = await s.toServer({
      method: 'POST',
      path: ['rd'],
      query: ['ep=quiet', 'lt=30'],
      payload: '</3/0>',
      contentFormat: 40,
    });
    expect(res.code).toBe(Code.Created);
    const start = s.clock.now();
    await until(s.clock, () => s.events.expired.length > 0);
    const waited = s.clock.now() - start;
    expect(waited).toBeGreaterThanOrEqual(45_000);
    expect(waited).toBeLessThanOrEqual(47_000);
    expect(s.events.expired[0]!.endpoint).toBe('quiet');
    expect(s.server.store.size).toBe(0);
  });

  it('a new Register of the same endpoint replaces the old registration (takeover allowed by the operator)', async () => {
    const s = serverSetup({ server: { registrationPolicy: { allowNoSecTakeover: true } } });
    const client = s.device(1);
    const first = await registered(s, client);
    const res = await s.toServer({
      method: 'POST',
      path: ['rd'],
      query: ['ep=dev1', 'lt=100', 'lwm2m=1.0', 'b=UQ'],
      payload: '</3/0>',
      contentFormat: 40,
    });
    expect(res.code).toBe(Code.Created);
    const id = res.message.getStrings(OptionNumber.LocationPath);
    expect(id[0]).toBe('rd');
    expect(id[1]).not.toBe(first.id);
    expect(s.server.store.size).toBe(1);
    const now = s.server.registration('dev1')!;
    expect(now.id).toBe(id[1]);
    expect(now.version).toBe('1.0');
    expect(now.queueMode).toBe(true);
    expect(s.server.store.get(first.id)).toBeUndefined();
    expect(s.events.registered).toHaveLength(2);
  });

  it('the root link gives the alternate path and ct; links are kept relative to it', async () => {
    const s = serverSetup();
    const res = await s.toServer({
      method: 'POST',
      path: ['rd'],
      query: ['ep=ct', 'lwm2m=1.1'],
      payload: LINKS,
      contentFormat: 40,
    });
    expect(res.code).toBe(Code.Created);
    expect(s.server.registration('ct')!.contentFormats).toEqual([60, 110, 112, 11542]);
    const alt = await s.toServer({
      method: 'POST',
      path: ['rd'],
      query: ['ep=alt'],
      payload: '</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>',
      contentFormat: 40,
    });
    expect(alt.code).toBe(Code.Created);
    expect(s.server.registration('alt')).toMatchObject({ rootPath: '/lwm2m', objects: [{ path: [3, 0] }] });
  });

  it('defaults: lt 86400, lwm2m 1.0, binding U (§6.2.1)', async () => {
    const s = serverSetup();
    const res = await s.toServer({ method: 'POST', path: ['rd'], query: ['ep=min'], payload: '</3/0>' });
    expect(res.code).toBe(Code.Created);
    expect(s.server.registration('min')).toMatchObject({ lifetime: 86_400, version: '1.0', binding: 'U' });
  });

  const bad: [string, string[], string | Uint8Array, number | undefined][] = [
    ['no ep', ['lt=60'], '</3/0>', 40],
    ['empty ep', ['ep=', 'lt=60'], '</3/0>', 40],
    ['ep with a space', ['ep=a b'], '</3/0>', 40],
    ['too long ep', [`ep=${'x'.repeat(200)}`], '</3/0>', 40],
    ['ep twice', ['ep=a', 'ep=b'], '</3/0>', 40],
    ['lt not a number', ['ep=a', 'lt=soon'], '</3/0>', 40],
    ['lt 0', ['ep=a', 'lt=0'], '</3/0>', 40],
    ['lt negative', ['ep=a', 'lt=-5'], '</3/0>', 40],
    ['lt too big', ['ep=a', 'lt=99999999999'], '</3/0>', 40],
    ['lwm2m 2.0', ['ep=a', 'lwm2m=2.0'], '</3/0>', 40],
    ['lwm2m junk', ['ep=a', 'lwm2m=x'], '</3/0>', 40],
    ['binding junk', ['ep=a', 'b=XYZ'], '</3/0>', 40],
    ['binding repeated', ['ep=a', 'b=UU'], '</3/0>', 40],
    ['Q with a value', ['ep=a', 'Q=1'], '</3/0>', 40],
    ['sms junk', ['ep=a', 'sms=call-me'], '</3/0>', 40],
    ['no payload', ['ep=a'], '', undefined],
    ['payload not link-format', ['ep=a'], '</3/0>', 0],
    ['bad link syntax', ['ep=a'], '</3/0', 40],
    ['bad object id', ['ep=a'], '</99999/0>', 40],
    ['too deep a link', ['ep=a'], '</3/0/1>', 40],
    ['not UTF-8', ['ep=a'], new Uint8Array([0x3c, 0xff, 0xfe, 0x3e]), 40],
    ['huge payload', ['ep=a'], `</3/0>${',</3303/1>'.repeat(1000)}`, 40],
  ];
  it.each(bad)(
    'a bad Register (%s) is 4.00 with a diagnostic, and the server keeps running',
    async (_, query, payload, cf) => {
      const s = serverSetup();
      const res = await s.toServer({
        method: 'POST',
        path: ['rd'],
        query,
        payload,
        ...(cf === undefined ? {} : { contentFormat: cf }),
      });
      expect(res.code).toBe(Code.BadRequest);
      expect(res.text().length).toBeGreaterThan(0);
      expect(s.server.store.size).toBe(0);
      expect(s.events.registered).toHaveLength(0);
      const ok = await registered(s, s.device(1));
      expect(ok.endpoint).toBe('dev1');
    },
  );

  it('a bad Update (bad lt, bad links) is 4.00 and leaves the registration as it was', async () => {
    const s = serverSetup();
    const reg = await s.toServer({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: '</3/0>' });
    const r = s.server.registration('dev1')!;
    expect(reg.code).toBe(Code.Created);
    for (const [query, payload] of [
      [['lt=abc'], undefined],
      [['b=??'], undefined],
      [[], '<not-a-path>'],
    ] as const) {
      const res = await s.toServer({
        method: 'POST',
        path: ['rd', r.id],
        query,
        ...(payload === undefined ? {} : { payload, contentFormat: 40 }),
      });
      expect(res.code).toBe(Code.BadRequest);
    }
    expect(s.server.registration('dev1')).toBe(r);
  });

  it('a flood of 300 malformed registrations: every one 4.00, store size unchanged', async () => {
    const s = serverSetup();
    await registered(s, s.device(1));
    const before = s.server.store.size;
    const raw = s.raw();
    const payloads = ['</3/0', '<>', `${'<'.repeat(500)}`, '</a/b>', '</3/0>;ver=x', ',,,,', '</3/0/0/0/0>'];
    const queries = [['lt=1'], ['ep=x', 'lt=-1'], ['ep=x', 'lwm2m=9'], ['ep=\u0001'], ['ep=x', 'b=']];
    const codes: number[] = [];
    const all: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const useQuery = i % 2 === 0;
      all.push(
        raw
          .request({
            method: 'POST',
            peer: { address: '10.0.0.1', port: 5683 },
            path: ['rd'],
            query: useQuery ? queries[i % queries.length]! : ['ep=flood'],
            payload: useQuery ? '</3/0>' : payloads[i % payloads.length]!,
            contentFormat: 40,
          })
          .then((r) => void codes.push(r.code)),
      );
    }
    await drive(s.clock, Promise.all(all));
    expect(codes).toHaveLength(300);
    expect(codes.every((c) => c === Code.BadRequest)).toBe(true);
    expect(s.server.store.size).toBe(before);
    expect(s.events.registered).toHaveLength(1);
  });

  it('the store bound: a full store answers 5.03 and keeps its registrations', async () => {
    const s = serverSetup({ store: new MemoryRegistrationStore({ maxRegistrations: 2 }) });
    for (const ep of ['a', 'b']) {
      const res = await s.toServer({ method: 'POST', path: ['rd'], query: [`ep=${ep}`], payload: '</3/0>' });
      expect(res.code).toBe(Code.Created);
    }
    const full = await s.toServer({ method: 'POST', path: ['rd'], query: ['ep=c'], payload: '</3/0>' });
    expect(full.code).toBe(Code.ServiceUnavailable);
    // re-registering a known endpoint still works when full
    const again = await s.toServer({ method: 'POST', path: ['rd'], query: ['ep=a'], payload: '</3/0>' });
    expect(again.code).toBe(Code.Created);
    expect(s.server.store.size).toBe(2);
  });

  it('parseRegisterQuery: 1.0 queue mode from the binding, 1.1 from Q (§6.2.1.1)', () => {
    expect(parseRegisterQuery(['ep=a', 'b=UQ']).queueMode).toBe(true);
    expect(parseRegisterQuery(['ep=a', 'lwm2m=1.1', 'Q']).queueMode).toBe(true);
    expect(parseRegisterQuery(['ep=a', 'lwm2m=1.1']).queueMode).toBe(false);
    expect(() => parseRegisterQuery(['lt=5'])).toThrow(RegistrationError);
  });

  it('a queue-mode 1.1 device registers with Q', async () => {
    const s = serverSetup();
    const r = await registered(s, s.device(1, { queueMode: true }));
    expect(r.queueMode).toBe(true);
  });
});
