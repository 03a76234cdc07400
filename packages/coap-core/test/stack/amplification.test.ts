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
const HUGE = Array.from({ length: 300 }, (_, i) => `${i}`.padStart(10, '.')).join('');

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
  server.route('POST', '/big', () => ({ code: Code.Changed, payload: BIG }));
  server.route('FETCH', '/big', () => ({ code: Code.Content, payload: BIG }));
  server.route('GET', '/small', () => ({ code: Code.Content, payload: 'ok' }));
  server.route('GET', '/big/with/a/longer/path', () => ({ code: Code.Content, payload: BIG }));
  // larger than the block size: the Block-wise server keeps a snapshot at 1024, served at the cut's size
  server.route('GET', '/huge/with/a/longer/path', () => ({ code: Code.Content, payload: HUGE }));
  server.route('FETCH', '/big/with/a/longer/path', () => ({ code: Code.Content, payload: BIG }));
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
  const send = async (path: string[], echo?: Uint8Array, observe?: number, code: number = Code.GET) => {
    received.length = 0;
    const request = encodeMessage({
      type: MessageType.CON,
      code,
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

  it('an unverified source gets at most 3× its request: an Echo challenge for a POST, a small answer passes', async () => {
    const s = setup(true);
    const r = await s.send(['big'], undefined, undefined, Code.POST);
    expect(r.ratio).toBeLessThanOrEqual(3);
    expect(r.response.code).toBe(Code.Unauthorized);
    expect(r.response.getOption(OptionNumber.Echo)).toHaveLength(8);
    expect(r.response.payloadLength).toBe(0);
    expect(s.server.amplificationChallenges).toBe(1);
    // a small answer is not limited
    const small = await s.send(['small']);
    expect(small.response.code).toBe(Code.Content);
    expect(small.ratio).toBeLessThanOrEqual(3);
  });

  it('repeating the request with the Echo value gets the full answer, and the peer stays verified', async () => {
    const s = setup(true);
    const challenge = await s.send(['big'], undefined, undefined, Code.POST);
    const echo = challenge.response.getOption(OptionNumber.Echo)!.slice();
    const full = await s.send(['big'], echo, undefined, Code.POST);
    expect(full.response.code).toBe(Code.Changed);
    expect(new TextDecoder().decode(full.response.payload)).toBe(BIG);
    const wk = await s.send(['.well-known', 'core']);
    expect(wk.response.code).toBe(Code.Content);
    expect(wk.ratio).toBeGreaterThan(3);
    // verified for verifiedLifetime (default 5 min), then challenged again
    await s.clock.advance(300_000);
    expect((await s.send(['big'], undefined, undefined, Code.POST)).response.code).toBe(Code.Unauthorized);
  });

  it('an Echo value is used once, only by the peer it was sent to, and only while fresh (RFC 9175 §2.2.1)', async () => {
    const s = setup({ echoLifetime: 10_000 });
    const invented = await s.send(['big'], Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), undefined, Code.POST);
    expect(invented.response.code).toBe(Code.Unauthorized);
    // another peer's value does not verify this one
    const other = s.network.bind('10.0.0.77', 40000);
    const echoOf = (m: Uint8Array) => decodeMessage(m).getOption(OptionNumber.Echo);
    const got: Uint8Array[] = [];
    other.onDatagram((d) => got.push(d.slice()));
    other.send(
      encodeMessage({
        type: MessageType.NON,
        code: Code.POST,
        messageId: 7,
        token: Uint8Array.of(9),
        options: [{ number: OptionNumber.UriPath, value: 'big' }],
      }).slice(),
      { address: '10.0.0.1', port: 5683 },
    );
    await s.clock.advance(100);
    const stolen = echoOf(got[0]!)!.slice();
    expect((await s.send(['big'], stolen, undefined, Code.POST)).response.code).toBe(Code.Unauthorized);
    // a stale value
    const mine = (await s.send(['big'], undefined, undefined, Code.POST)).response
      .getOption(OptionNumber.Echo)!
      .slice();
    await s.clock.advance(10_000);
    expect((await s.send(['big'], mine, undefined, Code.POST)).response.code).toBe(Code.Unauthorized);
  });

  it('an Observe registration cut to a block leaves no observer (RFC 7641 §4.1)', async () => {
    const s = setup(true);
    const r = await s.send(['big'], undefined, 0);
    // cut to a block (RFC 9175 §2.4): without Observe, so the client knows it is not registered
    expect(r.response.code).toBe(Code.Content);
    expect(r.response.getOption(OptionNumber.Block2)).toBeDefined();
    expect(r.response.getOption(OptionNumber.Observe)).toBeUndefined();
    expect(r.ratio).toBeLessThanOrEqual(3);
    expect(s.server.observerTotal()).toBe(0);
    // a verified peer registers as before
    const challenge = await s.send(['big'], undefined, undefined, Code.POST);
    const echo = challenge.response.getOption(OptionNumber.Echo)!.slice();
    const ok = await s.send(['big'], echo, 0);
    expect(ok.response.code).toBe(Code.Content);
    expect(ok.response.getOption(OptionNumber.Observe)).toBeDefined();
    expect(s.server.observerTotal('/big')).toBe(1);
  });

  it('our client observing unverified gets the whole representation, then the observation ends (RFC 7641 §3.2, RFC 7959 §2.4)', async () => {
    const s = setup(true);
    s.server.route('GET', '/observed/with/a/longer/path', () => ({ code: Code.Content, payload: BIG }), {
      observable: true,
    });
    const client = new CoapEndpoint({
      transport: s.network.bind('10.0.0.2', 40000),
      clock: s.clock,
      random: seededRandom(2),
    });
    const obs = await drive(s.clock, client.observe('coap://10.0.0.1/observed/with/a/longer/path'));
    const it = obs[Symbol.asyncIterator]();
    const first = await drive(s.clock, it.next());
    expect(new TextDecoder().decode(first.value!.payload)).toBe(BIG);
    await s.clock.advance(1000);
    expect(obs.done).toBe(true);
    expect(s.server.observerTotal()).toBe(0);
    expect(s.server.amplificationCuts).toBe(1);
  });

  it('RFC 9175 §2.4 + RFC 7959 §2.4: an unverified GET of 1,000 bytes gets its first block within 3×, with M, Size2, ETag and Echo', async () => {
    const s = setup(true);
    const r = await s.send(['big', 'with', 'a', 'longer', 'path']);
    expect(r.ratio).toBeLessThanOrEqual(3);
    expect(r.response.code).toBe(Code.Content);
    const block = r.response.getUint(OptionNumber.Block2)!;
    expect(block >>> 4).toBe(0); // NUM 0
    expect(block & 8).toBe(8); // M
    expect(16 << (block & 7)).toBe(r.response.payloadLength);
    expect(r.response.payloadLength).toBeGreaterThanOrEqual(16);
    expect(r.response.getUint(OptionNumber.Size2)).toBe(1000);
    expect(r.response.getOption(OptionNumber.ETag)).toBeDefined();
    expect(r.response.getOption(OptionNumber.Echo)).toHaveLength(8);
    expect(s.server.amplificationChallenges).toBe(0);
    expect(s.server.amplificationCuts).toBe(1);
    // the Echo value verifies the peer: the next answer is whole
    const echo = r.response.getOption(OptionNumber.Echo)!.slice();
    const full = await s.send(['big', 'with', 'a', 'longer', 'path'], echo);
    expect(full.response.payloadLength).toBe(1000);
    // /.well-known/core is cut the same way
    const other = setup(true);
    const wk = await other.send(['.well-known', 'core']);
    expect(wk.ratio).toBeLessThanOrEqual(3);
    expect(wk.response.code).toBe(Code.Content);
    expect(wk.response.getUint(OptionNumber.Block2)! & 8).toBe(8);
  });

  it('a request too small for a block beside the Echo option gets a block without it', async () => {
    const s = setup(true);
    const r = await s.send(['big']);
    expect(r.ratio).toBeLessThanOrEqual(3);
    expect(r.response.code).toBe(Code.Content);
    expect(r.response.payloadLength).toBe(16);
    expect(r.response.getOption(OptionNumber.Echo)).toBeUndefined();
  });

  for (const [method, path, body] of [
    ['GET', 'big', BIG],
    ['FETCH', 'big', BIG],
    ['GET', 'huge', HUGE],
  ] as const) {
    it(`our client assembles a ${body.length}-byte ${method} answer: a first block within 3×, then verified by its Echo value (RFC 9175 §2.4, RFC 7959 §2.4)`, async () => {
      const s = setup(true);
      const log: { from: string; mid: number; length: number; code: number }[] = [];
      const transmit = s.network.transmit.bind(s.network);
      s.network.transmit = (from, to, data) => {
        const m = decodeMessage(data);
        log.push({ from: from.address, mid: m.messageId, length: data.length, code: m.code });
        transmit(from, to, data);
      };
      const client = new CoapEndpoint({
        transport: s.network.bind('10.0.0.2', 40000),
        clock: s.clock,
        random: seededRandom(2),
      });
      const uri = `coap://10.0.0.1/${path}/with/a/longer/path`;
      const res = await drive(s.clock, method === 'GET' ? client.get(uri) : client.fetch(uri, 'q'));
      expect(res.code).toBe(Code.Content);
      expect(new TextDecoder().decode(res.payload)).toBe(body);
      expect(s.server.amplificationChallenges).toBe(0);
      expect(s.server.amplificationCuts).toBe(1);
      // the first answer is a block within 3× of the request; our client repeats the request with its Echo
      // value, is verified, and gets the rest at full size
      const first = log.find((d) => d.from === '10.0.0.1')!;
      const request = log.find((d) => d.from === '10.0.0.2' && d.mid === first.mid)!;
      expect(first.length).toBeLessThanOrEqual(3 * request.length);
      expect(log.filter((d) => d.from === '10.0.0.1').length).toBeGreaterThanOrEqual(2);
    });
  }

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
    // a device the server never reached is limited (a cut first block; our client answers its Echo)
    const other = device('10.0.0.5', 6);
    expect((await drive(s.clock, other.get('coap://10.0.0.1/big'))).code).toBe(Code.Content);
    const limited = () => s.server.amplificationChallenges + s.server.amplificationCuts;
    expect(limited()).toBe(1);
    // the server's request reaches this device at its address and its response comes back with our token
    const reached = device('10.0.0.4', 5);
    const put = await drive(s.clock, s.server.put('coap://10.0.0.4:40000/5/0/1', 'coap://10.0.0.1/big'));
    expect(put.code).toBe(Code.Changed);
    const res = await drive(s.clock, reached.get('coap://10.0.0.1/big'));
    expect(res.code).toBe(Code.Content);
    expect(new TextDecoder().decode(res.payload)).toBe(BIG);
    expect(limited()).toBe(1);
  });
});
