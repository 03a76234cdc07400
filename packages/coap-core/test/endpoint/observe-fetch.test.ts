/**
 * Additive endpoint APIs for application layers that observe with FETCH and outlive restarts: FETCH
 * observations (RFC 8132 §2.4), targeted / confirmable notifications, resuming an observation by token,
 * a server security layer installed after construction, and the authenticated peer identity.
 */
import { describe, expect, it } from 'vitest';
import {
  CoapEndpoint,
  type CoapRequest,
  Code,
  decodeMessage,
  FakeClock,
  MemoryNetwork,
  MessageType,
  seededRandom,
} from '../../src/index.js';
import { drive, harness } from './harness.js';

/** A FETCH resource answering with the sum of the numbers listed in the payload's text ("a,b"). */
function sumResource(h: ReturnType<typeof harness>, values: Record<string, number>) {
  const calls: CoapRequest[] = [];
  h.server.route(
    ['FETCH', 'GET'],
    '/values',
    (req) => {
      calls.push(req);
      if (req.method !== Code.FETCH) return { code: Code.MethodNotAllowed };
      const names = req.text().split(',');
      return { code: Code.Content, payload: names.map((n) => `${n}=${values[n] ?? '-'}`).join(';') };
    },
    { observable: true },
  );
  return calls;
}

describe('FETCH observations (RFC 8132 §2.4)', () => {
  it('one client keeps several FETCH observations of one resource apart, by payload', async () => {
    const h = harness();
    const values: Record<string, number> = { a: 1, b: 2, c: 3 };
    sumResource(h, values);
    const ab = await drive(
      h.clock,
      h.client.observe({ uri: `${h.serverUri}/values`, method: 'FETCH', payload: 'a,b', contentFormat: 0 }),
    );
    const c = await drive(
      h.clock,
      h.client.observe({ uri: `${h.serverUri}/values`, method: 'FETCH', payload: 'c', contentFormat: 0 }),
    );
    expect(ab.peek()?.text()).toBe('a=1;b=2');
    expect(c.peek()?.text()).toBe('c=3');
    expect(h.server.observerTotal('/values')).toBe(2);
    const seenAb: string[] = [];
    const seenC: string[] = [];
    ab.on('notification', (r) => seenAb.push(r.text()));
    c.on('notification', (r) => seenC.push(r.text()));

    // a targeted notification reaches only the observation whose request passes the filter
    values.a = 10;
    h.server.notify('/values', { filter: (req) => req.text().includes('a') });
    await h.clock.advance(10);
    expect(seenAb).toEqual(['a=10;b=2']);
    expect(seenC).toEqual([]);
    expect(h.server.observerTotal('/values', (req) => req.text() === 'c')).toBe(1);

    // cancelling repeats the payload, so the server drops that observer only
    await drive(h.clock, ab.cancel());
    expect(h.server.observerTotal('/values')).toBe(1);
    expect(h.server.observerTotal('/values', (req) => req.text() === 'a,b')).toBe(0);
    values.c = 30;
    h.server.notify('/values');
    await h.clock.advance(10);
    expect(seenC).toEqual(['c=30']);
  });

  it('a repeated FETCH registration with the same payload replaces its observer (RFC 7641 §4.1)', async () => {
    const h = harness();
    sumResource(h, { a: 1 });
    const o1 = await drive(
      h.clock,
      h.client.observe({ uri: `${h.serverUri}/values`, method: 'FETCH', payload: 'a', contentFormat: 0 }),
    );
    const o2 = await drive(
      h.clock,
      h.client.observe({ uri: `${h.serverUri}/values`, method: 'FETCH', payload: 'a', contentFormat: 0 }),
    );
    expect(h.server.observerTotal('/values')).toBe(1);
    await drive(h.clock, o1.cancel());
    await drive(h.clock, o2.cancel());
    expect(h.server.observerTotal('/values')).toBe(0);
  });

  it('notify({ confirmable }) picks CON or NON for the notifications it triggers', async () => {
    const h = harness();
    sumResource(h, { a: 1 });
    const types: number[] = [];
    const obs = await drive(
      h.clock,
      h.client.observe({ uri: `${h.serverUri}/values`, method: 'FETCH', payload: 'a', contentFormat: 0 }),
    );
    h.network.conditions = {};
    const send = h.server.transport.send.bind(h.server.transport);
    h.server.transport.send = (data, peer) => {
      const m = decodeMessage(data);
      if (m.code === Code.Content) types.push(m.type);
      send(data, peer);
    };
    h.server.notify('/values', { confirmable: true });
    await h.clock.advance(50);
    h.server.notify('/values', { confirmable: false });
    await h.clock.advance(50);
    expect(types).toEqual([MessageType.CON, MessageType.NON]);
    await drive(h.clock, obs.cancel());
  });
});

describe('resumeObservation', () => {
  it('takes up notifications for a known token on a new endpoint; unknown tokens still get RST', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3 });
    const server = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(1),
    });
    const value = { v: 1 };
    server.route('GET', '/x', () => ({ code: Code.Content, payload: String(value.v) }), { observable: true });
    const first = new CoapEndpoint({
      transport: network.bind('10.0.0.2', 5683),
      clock,
      random: seededRandom(2),
    });
    const obs = await drive(clock, first.observe('coap://10.0.0.1/x'));
    const token = obs.token!;
    expect(token.length).toBeGreaterThan(0);
    // the observer restarts: a new endpoint on the same address knows nothing ...
    await first.close();
    const second = new CoapEndpoint({
      transport: network.bind('10.0.0.2', 5683),
      clock,
      random: seededRandom(9),
    });
    // ... until it resumes the observation with the token it kept
    const resumed = second.resumeObservation({ peer: { address: '10.0.0.1', port: 5683 }, path: 'x', token });
    expect(resumed.token).toEqual(token);
    const seen: string[] = [];
    resumed.on('notification', (r) => seen.push(r.text()));
    value.v = 2;
    server.notify('/x');
    await clock.advance(100);
    expect(seen).toEqual(['2']);
    expect(server.observerTotal('/x')).toBe(1);
    // cancelling sends GET Observe=1 with the token
    await drive(clock, resumed.cancel());
    expect(server.observerTotal('/x')).toBe(0);
    expect(second.pendingRequests).toBe(0);
  });

  it('refuses a bad or busy token and secured requests', () => {
    const h = harness();
    const peer = { address: '10.0.0.1', port: 5683 };
    expect(() => h.client.resumeObservation({ peer, token: new Uint8Array(0) })).toThrow(/1-8 bytes/);
    h.client.resumeObservation({ peer, token: Uint8Array.of(1, 2) });
    expect(() => h.client.resumeObservation({ peer, token: Uint8Array.of(1, 2) })).toThrow(/in use/);
    const security = { protectRequest: () => ({ message: { code: 1 }, unprotectResponse: (m: never) => m }) };
    expect(() => h.client.resumeObservation({ peer, token: Uint8Array.of(3), security })).toThrow(/secured/);
  });
});

describe('server security given at construction, and the peer identity', () => {
  it('the server security layer is given at construction, once (no setter: layers do not stack)', () => {
    expect(harness().server.serverSecurity).toBeUndefined();
    const layer = { unprotectRequest: () => undefined };
    const h = harness({}, { serverSecurity: layer });
    expect(h.server.serverSecurity).toBe(layer);
    expect('setServerSecurity' in h.server).toBe(false);
  });

  it('a handler sees the identity a secure transport gave the peer, and the newest one after a change', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3 });
    const server = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(1),
    });
    const seen: (string | undefined)[] = [];
    server.route('GET', '/who', (req) => {
      seen.push(req.peer.identity);
      return { code: Code.Content };
    });
    const a = new CoapEndpoint({
      transport: network.bind('10.0.0.2', 5683, { identity: 'psk-a' }),
      clock,
      random: seededRandom(2),
    });
    await drive(clock, a.get('coap://10.0.0.1/who'));
    await a.close();
    // same address, a new "handshake" with another identity
    const b = new CoapEndpoint({
      transport: network.bind('10.0.0.2', 5683, { identity: 'psk-b' }),
      clock,
      random: seededRandom(3),
    });
    await drive(clock, b.get('coap://10.0.0.1/who'));
    const plain = new CoapEndpoint({
      transport: network.bind('10.0.0.3', 5683),
      clock,
      random: seededRandom(4),
    });
    const r = await drive(clock, plain.request({ uri: 'coap://10.0.0.1/who', options: [] }));
    expect(r.code).toBe(Code.Content);
    expect(seen).toEqual(['psk-a', 'psk-b', undefined]);
  });
});
