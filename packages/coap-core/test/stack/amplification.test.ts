/**
 * Amplification mitigation (RFC 9175 §2.4, RFC 7252 §11.3; issue 15 item 5): a spoofable request from an
 * unverified address gets at most 3× its size back, an Echo challenge; repeating it with the Echo value
 * gets the full answer. Sizes are measured on the wire of an in-memory network.
 */
import { describe, expect, it } from 'vitest';
import {
  CoapEndpoint,
  type CoapEndpointOptions,
  Code,
  decodeMessage,
  encodeMessage,
  FakeClock,
  MemoryNetwork,
  MessageType,
  OptionNumber,
  seededRandom,
} from '../../src/index.js';
import { drive } from '../endpoint/harness.js';

const BIG = 'x'.repeat(1000);

function setup(amplification: CoapEndpointOptions['amplification']) {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 4 });
  const server = new CoapEndpoint({
    transport: network.bind('10.0.0.1', 5683),
    clock,
    random: seededRandom(1),
    ...(amplification === undefined ? {} : { amplification }),
  });
  server.route('GET', '/big', () => ({ code: Code.Content, payload: BIG }), {
    observable: true,
    link: { rt: 'big' },
  });
  server.route('GET', '/small', () => ({ code: Code.Content, payload: 'ok' }));
  for (let i = 0; i < 30; i++)
    server.route('GET', `/sensors/temperature-${i}`, () => ({ code: Code.Content }), {
      link: { rt: 'temp' },
    });
  // the attacker's view: raw datagrams at a spoofed source
  const raw = network.bind('10.0.0.66', 40000);
  const received: Uint8Array[] = [];
  raw.onDatagram((data) => received.push(data.slice()));
  let mid = 100;
  /** Sends one CON GET; returns the bytes sent and every datagram that came back. */
  const send = async (path: string[], echo?: Uint8Array, observe?: number) => {
    received.length = 0;
    const request = encodeMessage({
      type: MessageType.CON,
      code: Code.GET,
      messageId: mid++,
      token: Uint8Array.of(1, 2, 3, 4),
      options: [
        ...(observe === undefined ? [] : [{ number: OptionNumber.Observe, value: observe }]),
        ...path.map((p) => ({ number: OptionNumber.UriPath, value: p })),
        ...(echo === undefined ? [] : [{ number: OptionNumber.Echo, value: echo }]),
      ],
    }).slice();
    raw.send(request, { address: '10.0.0.1', port: 5683 });
    await clock.advance(2000);
    const bytes = received.reduce((n, d) => n + d.length, 0);
    const responses = received.map((d) => decodeMessage(d)).filter((m) => m.code !== 0);
    return { sent: request.length, bytes, ratio: bytes / request.length, response: responses.at(-1)! };
  };
  return { clock, network, server, send };
}

describe('amplification limit (RFC 9175 §2.4)', () => {
  it('without the limit a small request gets a large answer (the attack, measured)', async () => {
    const s = setup(undefined);
    const wk = await s.send(['.well-known', 'core']);
    expect(wk.ratio).toBeGreaterThan(10);
    const big = await s.send(['big']);
    expect(big.ratio).toBeGreaterThan(50);
  });

  it('an unverified source gets at most 3× its request: an Echo challenge for /.well-known/core and a large resource', async () => {
    const s = setup(true);
    for (const path of [['.well-known', 'core'], ['big']]) {
      const r = await s.send(path);
      expect(r.ratio).toBeLessThanOrEqual(3);
      expect(r.response.code).toBe(Code.Unauthorized);
      expect(r.response.getOption(OptionNumber.Echo)).toHaveLength(8);
      expect(r.response.payloadLength).toBe(0);
    }
    expect(s.server.amplificationChallenges).toBe(2);
    // a small answer is not limited
    const small = await s.send(['small']);
    expect(small.response.code).toBe(Code.Content);
    expect(small.ratio).toBeLessThanOrEqual(3);
  });

  it('repeating the request with the Echo value gets the full answer, and the peer stays verified', async () => {
    const s = setup(true);
    const challenge = await s.send(['big']);
    const echo = challenge.response.getOption(OptionNumber.Echo)!.slice();
    const full = await s.send(['big'], echo);
    expect(full.response.code).toBe(Code.Content);
    expect(new TextDecoder().decode(full.response.payload)).toBe(BIG);
    expect((await s.send(['.well-known', 'core'])).response.code).toBe(Code.Content);
    // verified for verifiedLifetime (default 5 min), then challenged again
    await s.clock.advance(300_000);
    expect((await s.send(['big'])).response.code).toBe(Code.Unauthorized);
  });

  it('an Echo value is used once, only by the peer it was sent to, and only while fresh (RFC 9175 §2.2.1)', async () => {
    const s = setup({ echoLifetime: 10_000 });
    const invented = await s.send(['big'], Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(invented.response.code).toBe(Code.Unauthorized);
    // another peer's value does not verify this one
    const other = s.network.bind('10.0.0.77', 40000);
    const echoOf = (m: Uint8Array) => decodeMessage(m).getOption(OptionNumber.Echo);
    const got: Uint8Array[] = [];
    other.onDatagram((d) => got.push(d.slice()));
    other.send(
      encodeMessage({
        type: MessageType.NON,
        code: Code.GET,
        messageId: 7,
        token: Uint8Array.of(9),
        options: [{ number: OptionNumber.UriPath, value: 'big' }],
      }).slice(),
      { address: '10.0.0.1', port: 5683 },
    );
    await s.clock.advance(100);
    const stolen = echoOf(got[0]!)!.slice();
    expect((await s.send(['big'], stolen)).response.code).toBe(Code.Unauthorized);
    // a stale value
    const mine = (await s.send(['big'])).response.getOption(OptionNumber.Echo)!.slice();
    await s.clock.advance(10_000);
    expect((await s.send(['big'], mine)).response.code).toBe(Code.Unauthorized);
  });

  it('an Observe registration answered with a challenge leaves no observer (RFC 7641 §4.1)', async () => {
    const s = setup(true);
    const r = await s.send(['big'], undefined, 0);
    expect(r.response.code).toBe(Code.Unauthorized);
    expect(s.server.observerTotal()).toBe(0);
    const echo = r.response.getOption(OptionNumber.Echo)!.slice();
    const ok = await s.send(['big'], echo, 0);
    expect(ok.response.code).toBe(Code.Content);
    expect(s.server.observerTotal('/big')).toBe(1);
  });

  it('our client answers the challenge by itself (4.01 + Echo is repeated once)', async () => {
    const s = setup(true);
    const client = new CoapEndpoint({
      transport: s.network.bind('10.0.0.2', 40000),
      clock: s.clock,
      random: seededRandom(2),
    });
    const res = await drive(s.clock, client.get('coap://10.0.0.1/big'));
    expect(res.code).toBe(Code.Content);
    expect(new TextDecoder().decode(res.payload)).toBe(BIG);
    expect(s.server.amplificationChallenges).toBe(1);
  });

  it('a peer authenticated by a secure transport is not challenged', async () => {
    const s = setup(true);
    const client = new CoapEndpoint({
      transport: s.network.bind('10.0.0.3', 40000, { identity: 'dev' }),
      clock: s.clock,
      random: seededRandom(3),
    });
    const res = await drive(s.clock, client.get('coap://10.0.0.1/big'));
    expect(res.code).toBe(Code.Content);
    expect(s.server.amplificationChallenges).toBe(0);
  });
  it('a peer that answered one of our requests (token matched) is verified: it gets the full answer unchallenged', async () => {
    const s = setup(true);
    const device = (address: string, seed: number) => {
      const d = new CoapEndpoint({
        transport: s.network.bind(address, 40000),
        clock: s.clock,
        random: seededRandom(seed),
      });
      d.route('PUT', '/5/0/1', () => ({ code: Code.Changed }));
      return d;
    };
    // a device the server never reached is challenged (our client answers the Echo by itself)
    const other = device('10.0.0.5', 6);
    expect((await drive(s.clock, other.get('coap://10.0.0.1/big'))).code).toBe(Code.Content);
    expect(s.server.amplificationChallenges).toBe(1);
    // the server's request reaches this device at its address and its response comes back with our token
    const reached = device('10.0.0.4', 5);
    const put = await drive(s.clock, s.server.put('coap://10.0.0.4:40000/5/0/1', 'coap://10.0.0.1/big'));
    expect(put.code).toBe(Code.Changed);
    const res = await drive(s.clock, reached.get('coap://10.0.0.1/big'));
    expect(res.code).toBe(Code.Content);
    expect(new TextDecoder().decode(res.payload)).toBe(BIG);
    expect(s.server.amplificationChallenges).toBe(1);
  });
});
