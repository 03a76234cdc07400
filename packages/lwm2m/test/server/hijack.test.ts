/**
 * Issue 15, items 1 and 8: the attacks on the registration interface as tests. A NoSec device is known
 * by its address and port only (as Leshan does): Update and De-register from another one are 4.04, a
 * Register of a live name from another IP address is 4.03, Registers are rate-limited per source (4.29).
 */
import { CoapEndpoint, Code, OptionNumber, type RequestOptions, seededRandom } from '@thimble/coap-core';
import type { RegistrationPolicyOptions } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, SERVER, type ServerSetup, serverSetup } from './harness.js';

let seed = 500;
/** A raw CoAP endpoint at `address`:`port` that sends to the server. */
function from(s: ServerSetup, address: string, port: number) {
  const ep = new CoapEndpoint({
    transport: s.network.bind(address, port),
    clock: s.clock,
    random: seededRandom(seed++),
  });
  return (o: Omit<RequestOptions, 'uri' | 'peer'>) =>
    drive(s.clock, ep.request({ ...o, peer: { address: SERVER, port: 5683 } }));
}

const register = (ep: string, lt = 300) => ({
  method: 'POST' as const,
  path: ['rd'],
  query: [`ep=${ep}`, `lt=${lt}`],
  payload: '</3/0>',
});

function setup(policy?: RegistrationPolicyOptions) {
  return serverSetup(policy === undefined ? {} : { server: { registrationPolicy: policy } });
}

describe('registration hijack (issue 15; LwM2M TS Core 1.1 §6.2, Transport §6.2)', () => {
  it('a NoSec Update of a victim /rd/<id> from another port is 4.04 and leaves the registration unchanged', async () => {
    const s = setup();
    const victim = from(s, '10.0.5.1', 40000);
    const res = await victim(register('victim'));
    expect(res.code).toBe(Code.Created);
    const id = res.message.getStrings(OptionNumber.LocationPath)[1]!;
    const before = s.server.registration('victim')!;
    for (const [address, port] of [
      ['10.0.5.1', 40001],
      ['10.0.6.6', 40000],
    ] as const) {
      const attacker = from(s, address, port);
      const update = await attacker({ method: 'POST', path: ['rd', id], query: ['lt=99999'] });
      expect(update.code).toBe(Code.NotFound);
    }
    const after = s.server.registration('victim')!;
    expect(after).toBe(before);
    expect(after.peer).toEqual({ address: '10.0.5.1', port: 40000 });
    expect(after.lifetime).toBe(300);
    expect(s.events.updated).toHaveLength(0);
    // the device itself still updates
    expect((await victim({ method: 'POST', path: ['rd', id], query: ['lt=600'] })).code).toBe(Code.Changed);
    expect(s.server.registration('victim')!.lifetime).toBe(600);
  });

  it('De-register from another address is refused (4.04); from the registering one 2.02', async () => {
    const s = setup();
    const victim = from(s, '10.0.5.1', 40000);
    const id = (await victim(register('victim'))).message.getStrings(OptionNumber.LocationPath)[1]!;
    const attacker = from(s, '10.0.6.6', 40000);
    expect((await attacker({ method: 'DELETE', path: ['rd', id] })).code).toBe(Code.NotFound);
    expect(s.server.registration('victim')?.id).toBe(id);
    expect(s.events.deregistered).toHaveLength(0);
    expect((await victim({ method: 'DELETE', path: ['rd', id] })).code).toBe(Code.Deleted);
    expect(s.server.registration('victim')).toBeUndefined();
  });

  it('a Register of a live name from another address is 4.03 and the victim keeps its registration', async () => {
    const s = setup();
    const victim = from(s, '10.0.5.1', 40000);
    expect((await victim(register('victim'))).code).toBe(Code.Created);
    const before = s.server.registration('victim')!;
    const attacker = from(s, '10.0.6.6', 40000);
    expect((await attacker(register('victim'))).code).toBe(Code.Forbidden);
    expect(s.server.registration('victim')).toBe(before);
    expect(s.events.registered).toHaveLength(1);
    // the same device after a restart (same IP address, new port) registers again
    const restarted = from(s, '10.0.5.1', 40001);
    expect((await restarted(register('victim'))).code).toBe(Code.Created);
    expect(s.server.registration('victim')!.peer.port).toBe(40001);
  });

  it('a Register of the name from another address is accepted once the old registration expired', async () => {
    const s = setup();
    expect((await from(s, '10.0.5.1', 40000)(register('victim', 60))).code).toBe(Code.Created);
    await s.clock.advance((60 + 15) * 1000 + 1);
    const attacker = from(s, '10.0.6.6', 40000);
    expect((await attacker(register('victim'))).code).toBe(Code.Created);
    expect(s.server.registration('victim')!.peer.address).toBe('10.0.6.6');
  });

  it('allowNoSecTakeover: the operator lets a Register from another address replace a live one', async () => {
    const s = setup({ allowNoSecTakeover: true });
    expect((await from(s, '10.0.5.1', 40000)(register('victim'))).code).toBe(Code.Created);
    expect((await from(s, '10.0.6.6', 40000)(register('victim'))).code).toBe(Code.Created);
    expect(s.server.registration('victim')!.peer.address).toBe('10.0.6.6');
  });

  it('rate limit: the 4th Register from one source in a window is 4.29 Too Many Requests with Max-Age (RFC 8516)', async () => {
    const s = setup({ registerRate: { max: 3, windowMs: 10_000 } });
    const flood = from(s, '10.0.6.6', 40000);
    for (let i = 0; i < 3; i++) expect((await flood(register(`r${i}`))).code).toBe(Code.Created);
    const refused = await flood(register('r3'));
    expect(refused.code).toBe(Code.TooManyRequests);
    const maxAge = refused.message.getUint(OptionNumber.MaxAge)!;
    expect(maxAge).toBeGreaterThanOrEqual(1);
    expect(maxAge).toBeLessThanOrEqual(10);
    expect(s.server.registration('r3')).toBeUndefined();
    // another source is not limited by this one
    expect((await from(s, '10.0.7.7', 40000)(register('other'))).code).toBe(Code.Created);
    await s.clock.advance(maxAge * 1000);
    expect((await flood(register('r3'))).code).toBe(Code.Created);
  });

  it('the default rate limit stops one NoSec source filling the table (issue 15 item 8)', async () => {
    const s = setup();
    const flood = from(s, '10.0.6.6', 40000);
    const codes: number[] = [];
    for (let i = 0; i < 40; i++) codes.push((await flood(register(`junk${i}`))).code);
    expect(codes.filter((c) => c === Code.Created)).toHaveLength(30);
    expect(codes.filter((c) => c === Code.TooManyRequests)).toHaveLength(10);
    expect(s.server.store.size).toBe(30);
  });

  it('maxNoSecPerAddress: live NoSec registrations from one address are bounded (4.03 past it)', async () => {
    const s = setup({ maxNoSecPerAddress: 2, registerRate: false });
    const src = from(s, '10.0.6.6', 40000);
    expect((await src(register('a'))).code).toBe(Code.Created);
    expect((await src(register('b'))).code).toBe(Code.Created);
    expect((await src(register('c'))).code).toBe(Code.Forbidden);
    // re-registering a name it already holds is not a new one
    expect((await src(register('a'))).code).toBe(Code.Created);
  });

  it('requireSecurity: a NoSec Register is 4.03 and nothing is stored', async () => {
    const s = setup({ requireSecurity: true });
    const res = await from(s, '10.0.5.1', 40000)(register('plain'));
    expect(res.code).toBe(Code.Forbidden);
    expect(s.server.store.size).toBe(0);
  });
});
