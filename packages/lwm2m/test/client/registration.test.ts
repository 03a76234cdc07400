import { Code } from '@thimble/coap-core';
import { parseRegistrationLinks } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, setup, until } from './harness.js';

describe('Lwm2mClient registration (LwM2M TS Core 1.1 §6.2, Transport §6.2)', () => {
  it('registers with ep, lt, lwm2m, b and the object links (§6.2.1)', async () => {
    const { clock, server, client } = setup();
    const events: string[] = [];
    client.on('registered', (loc) => events.push(`registered ${loc}`));
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    const [reg] = server.registers();
    expect(reg!.query).toEqual(['ep=dev1', 'lt=300', 'lwm2m=1.1', 'b=U']);
    expect(reg!.contentFormat).toBe(40);
    const links = parseRegistrationLinks(reg!.payload);
    expect(links.contentFormats).toContain(112);
    const paths = links.objects.map((o) => o.path.join('/'));
    expect(paths).toContain('1/0');
    expect(paths).toContain('3/0');
    expect(paths).toContain('3303/0');
    expect(paths.some((p) => p.startsWith('0'))).toBe(false);
    expect(events).toEqual(['registered /rd/r1']);
    expect(client.registrationLocation).toBe('/rd/r1');
  });

  it('registers as LwM2M 1.0 with queue mode in the binding', async () => {
    const { clock, server, client } = setup({ version: '1.0', queueMode: true });
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    expect(server.registers()[0]!.query).toEqual(['ep=dev1', 'lt=300', 'lwm2m=1.0', 'b=UQ']);
    expect(parseRegistrationLinks(server.registers()[0]!.payload).contentFormats).toEqual([]);
  });

  it('sends Q for queue mode from LwM2M 1.1', async () => {
    const { clock, server, client } = setup({ queueMode: true });
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    expect(server.registers()[0]!.query).toContain('Q');
    expect(server.registers()[0]!.query).toContain('b=U');
  });

  it('updates before the lifetime runs out, again and again (§6.2.2)', async () => {
    const { clock, server, client } = setup();
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    const t0 = clock.now();
    await until(clock, () => server.updates().length >= 3, 2_000_000);
    const times = server.updates().map((u) => u.at - t0);
    // lifetime 300 s → every 270 s (90 %), well inside the lifetime
    expect(times[0]).toBeGreaterThanOrEqual(270_000);
    expect(times[0]).toBeLessThan(300_000);
    expect(times[2]! - times[1]!).toBeLessThan(300_000);
    expect(server.updates()[0]!.path).toBe('/rd/r1');
    expect(server.updates()[0]!.query).toEqual([]);
    expect(server.updates()[0]!.payload).toBe('');
  });

  it('sends the objects in an Update when an instance is added', async () => {
    const { clock, server, client } = setup();
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    client.addInstance(3303, 1, { 5700: 3 });
    await until(clock, () => server.updates().length === 1);
    const links = parseRegistrationLinks(server.updates()[0]!.payload);
    expect(links.objects.map((o) => o.path.join('/'))).toContain('3303/1');
  });

  it('registers again when the server forgot the registration (Update → 4.04)', async () => {
    const { clock, server, client } = setup();
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    server.updateCode = Code.NotFound;
    await until(clock, () => server.registers().length === 2, 2_000_000);
    await until(clock, () => client.registrationState === 'registered');
    expect(client.registrationLocation).toBe('/rd/r2');
  });

  it('de-registers on stop (§6.2.3)', async () => {
    const { clock, server, client } = setup();
    const events: string[] = [];
    client.on('deregistered', () => events.push('deregistered'));
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    await drive(clock, client.stop());
    expect(server.deletes().map((d) => d.path)).toEqual(['/rd/r1']);
    expect(events).toEqual(['deregistered']);
    expect(client.registrationState).toBe('stopped');
    // no timer left running for the registration
    const before = server.requests.length;
    await clock.advance(3_000_000);
    expect(server.requests.length).toBe(before);
  });

  it('retries with back-off while the server is down, then registers (no busy loop)', async () => {
    const { clock, server, client } = setup(
      { retry: { count: 5, timer: 10, sequenceDelay: 600, sequenceCount: 3 } },
      false,
    );
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    client.start();
    // ten minutes of a dead server: CoAP retransmits each Register for ~93 s, then waits 10, 20, 40 s…
    await clock.advance(600_000);
    const attempts = errors.length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(6);
    expect(client.registrationState).toBe('waiting');
    server.up();
    await until(clock, () => client.registrationState === 'registered', 3_000_000);
    expect(server.registers()).toHaveLength(1);
  });

  it('gives up after the retry sequences are exhausted', async () => {
    const { clock, client } = setup(
      { retry: { count: 2, timer: 1, sequenceDelay: 5, sequenceCount: 2 } },
      false,
    );
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    client.start();
    await until(clock, () => client.registrationState === 'failed', 3_000_000);
    // 2 sequences × 2 attempts, then the final "retries exhausted"
    expect(errors).toHaveLength(5);
    expect(errors[4]!.message).toMatch(/exhausted/);
    expect(clock.pending).toBeLessThan(5);
  });
});

describe('Lwm2mClient registration details', () => {
  it('takes the retry procedure from the Server object (/1/x/17–20) when no option overrides it', async () => {
    const s = setup({}, false);
    s.client.removeInstance(1, 0);
    s.client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U', 17: 2, 18: 1, 19: 5, 20: 1 });
    const errors: Error[] = [];
    s.client.on('error', (e) => errors.push(e));
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'failed', 3_000_000);
    // one sequence of two attempts, then "retries exhausted"
    expect(errors).toHaveLength(3);
  });

  it('lists supported objects without instances, so the server can Create in them', async () => {
    const s = setup();
    s.client.supportObject(3304);
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    expect(s.server.registers()[0]!.payload).toContain('</3304>;ver=1.1');
    const created = await drive(
      s.clock,
      s.server.send({
        method: 'POST',
        path: '/3304',
        payload: new TextEncoder().encode('[{"bn":"/3304/0/","n":"5700","v":40}]'),
        contentFormat: 110,
      }),
    );
    expect(created.code).toBe(Code.Created);
    expect(s.client.get('/3304/0/5700')).toBe(40);
  });

  it('uses the Security object for the server URI when no serverUri is given', async () => {
    const s = setup({ serverUri: undefined });
    s.client.addInstance(0, 0, { 0: 'coap://10.0.0.1:5683', 1: false, 2: 3, 10: 1 });
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    expect(s.server.registers()).toHaveLength(1);
    // and the Security object is never in the registration
    expect(s.server.registers()[0]!.payload).not.toContain('</0');
  });
});
