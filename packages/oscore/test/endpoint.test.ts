/**
 * OSCORE as a layer of the CoAP endpoint (RFC 8613 §8): our client and server on an in-memory network with
 * the RFC 8613 Appendix C.1 keying material, on fake time.
 */
import {
  CoapEndpoint,
  type CoapEndpointOptions,
  Code,
  seededRandom as coapRandom,
  decodeMessage,
  FakeClock,
  MemoryNetwork,
  OptionNumber,
  utf8Decode,
  utf8Encode,
} from '@thimble/coap-core';
import { requestRejection, drive as runFakeTime } from '@thimble/test-support';
import { describe, expect, it } from 'vitest';
import {
  oscoreClient,
  oscoreContextOf,
  oscoreServer,
  protectRequest,
  type SecurityContext,
} from '../src/index.js';
import { contextOf, seededRandom } from './helpers.js';

interface Setup {
  clock: FakeClock;
  client: CoapEndpoint;
  plain: CoapEndpoint;
  server: CoapEndpoint;
  clientCtx: SecurityContext;
  serverCtx: SecurityContext;
  /** Every datagram the server received, decoded outer code and payload text. */
  seen: { code: number; text: string }[];
  calls: string[];
}

const URI = 'coap://10.0.0.1/';

function setup(
  serverExtra: Parameters<typeof contextOf>[1] = {},
  serverOptions: Partial<CoapEndpointOptions> = {},
): Setup {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 3 });
  const clientCtx = contextOf(0);
  const serverCtx = contextOf(1, serverExtra);
  const seen: { code: number; text: string }[] = [];
  const server = new CoapEndpoint({
    transport: network.bind('10.0.0.1', 5683),
    clock,
    random: coapRandom(1),
    serverSecurity: oscoreServer([serverCtx]),
    trace: (direction, bytes) => {
      if (direction !== 'in') return;
      const m = decodeMessage(bytes.slice());
      seen.push({ code: m.code, text: utf8Decode(m.payload) });
    },
    ...serverOptions,
  });
  const client = new CoapEndpoint({
    transport: network.bind('10.0.0.2', 0),
    clock,
    random: coapRandom(2),
    clientSecurity: oscoreClient(clientCtx),
  });
  const plain = new CoapEndpoint({ transport: network.bind('10.0.0.3', 0), clock, random: coapRandom(3) });
  const calls: string[] = [];
  let stored = 'initial';
  server.route('GET', '/hello', (req) => {
    calls.push('hello');
    return { code: Code.Content, payload: `hello ${req.security?.peerId ?? 'anonymous'}` };
  });
  server.route('PUT', '/store', (req) => {
    calls.push('store');
    stored = req.text();
    return { code: Code.Changed };
  });
  server.route('GET', '/store', () => ({ code: Code.Content, payload: stored }));
  server.route(
    'GET',
    '/secret',
    (req) => {
      calls.push('secret');
      return {
        code: Code.Content,
        payload: `for ${oscoreContextOf(req) === serverCtx ? 'C.1 client' : '?'}`,
      };
    },
    { requireOscore: true },
  );
  server.route('GET', '/big', () => ({ code: Code.Content, payload: 'B'.repeat(3000) }));
  server.route('GET', '/counter', () => ({ code: Code.Content, payload: String(counter) }), {
    observable: true,
  });
  let counter = 0;
  (server as CoapEndpoint & { bump?: () => void }).bump = () => {
    counter++;
    server.notify('/counter');
  };
  return { clock, client, plain, server, clientCtx, serverCtx, seen, calls };
}

// This file's fake-time limit: five minutes per request
const drive = <T>(clock: FakeClock, promise: Promise<T>): Promise<T> => runFakeTime(clock, promise, 300_000);
const rejection = (clock: FakeClock, promise: Promise<unknown>) => requestRejection(clock, promise, 300_000);

describe('OSCORE through CoapEndpoint (RFC 8613 §8)', () => {
  it('GET: protected on the wire (outer POST / 2.04), decrypted for the handler with the peer identity', async () => {
    const s = setup();
    const r = await drive(s.clock, s.client.get(`${URI}hello`));
    expect(r.code).toBe(Code.Content);
    // the Sender ID of the C.1 client is empty
    expect(r.text()).toBe('hello ');
    expect(s.seen).toHaveLength(1);
    expect(s.seen[0]!.code).toBe(Code.POST); // §4.2: outer code POST
    expect(s.seen[0]!.text).not.toContain('hello');
    expect(s.calls).toEqual(['hello']);
  });

  it('PUT with a payload, then GET it back', async () => {
    const s = setup();
    const put = await drive(s.clock, s.client.put(`${URI}store`, 'secret value'));
    expect(put.code).toBe(Code.Changed);
    expect(s.seen.every((m) => !m.text.includes('secret value'))).toBe(true);
    const get = await drive(s.clock, s.client.get(`${URI}store`));
    expect(get.text()).toBe('secret value');
  });

  it('Block-wise above OSCORE: each block is its own protected message (§4.1.3.4.1)', async () => {
    const s = setup();
    const big = await drive(s.clock, s.client.get(`${URI}big`, { blockSize: 256 }));
    expect(big.text()).toBe('B'.repeat(3000));
    expect(s.seen.length).toBe(12);
    const body = 'x'.repeat(2500);
    const put = await drive(s.clock, s.client.put(`${URI}store`, body, { blockSize: 512 }));
    expect(put.code).toBe(Code.Changed);
    const back = await drive(s.clock, s.client.get(`${URI}store`, { blockSize: 1024 }));
    expect(back.text()).toBe(body);
    expect(s.seen.every((m) => m.code === Code.POST)).toBe(true);
  });

  it('Observe: outer FETCH, notifications protected with new Partial IVs (§4.1.3.5, §8.3.1)', async () => {
    const s = setup();
    const bump = (s.server as CoapEndpoint & { bump: () => void }).bump;
    const observation = await drive(s.clock, s.client.observe(`${URI}counter`));
    expect(s.seen[0]!.code).toBe(Code.FETCH);
    const got: string[] = [];
    observation.on('notification', (r) => got.push(r.text()));
    bump();
    await s.clock.advance(100);
    bump();
    await s.clock.advance(100);
    expect(got).toEqual(['1', '2']);
    expect(s.server.observerTotal('counter')).toBe(1);
    await drive(s.clock, observation.cancel());
    expect(s.server.observerTotal('counter')).toBe(0);
  });

  it('requireOscore: an unprotected request gets 4.01 and never reaches the handler', async () => {
    const s = setup();
    const r = await drive(s.clock, s.plain.get(`${URI}secret`));
    expect(r.code).toBe(Code.Unauthorized);
    const ok = await drive(s.clock, s.client.get(`${URI}secret`));
    expect(ok.text()).toBe('for C.1 client');
    expect(s.calls).toEqual(['secret']);
    // unprotected requests to other routes still work
    expect((await drive(s.clock, s.plain.get(`${URI}hello`))).text()).toBe('hello anonymous');
  });

  it('§8.2 errors: bad option 4.02, unknown kid 4.01, decryption failure 4.00 — never reaching a handler', async () => {
    const s = setup();
    const send = (option: Uint8Array, payload: Uint8Array) =>
      drive(
        s.clock,
        s.plain.request({
          uri: `${URI}hello`,
          method: 'POST',
          options: [{ number: OptionNumber.OSCORE, value: option }],
          payload,
        }),
      );
    const bad = await send(Uint8Array.of(0xff), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9));
    expect(bad.code).toBe(Code.BadOption);
    // Partial IV 05, kid 'ff' (unknown)
    const unknown = await send(Uint8Array.of(0x09, 0x05, 0xff), new Uint8Array(16));
    expect([unknown.code, unknown.text()]).toEqual([Code.Unauthorized, 'Security context not found']);
    // Partial IV 05, kid '' (the C.1 client), garbage ciphertext
    const tampered = await send(Uint8Array.of(0x09, 0x05), new Uint8Array(16));
    expect([tampered.code, tampered.text()]).toEqual([Code.BadRequest, 'Decryption failed']);
    expect(s.calls).toEqual([]);
  });

  it('a replayed protected request gets 4.01 Replay detected and the handler runs once (§7.4)', async () => {
    const s = setup();
    const { message } = protectRequest(s.clientCtx, {
      type: 0,
      code: Code.GET,
      messageId: 1,
      options: [{ number: OptionNumber.UriPath, value: 'hello' }],
    });
    const replay = () =>
      drive(
        s.clock,
        s.plain.request({
          peer: { address: '10.0.0.1', port: 5683 },
          method: message.code,
          options: message.options,
          payload: message.payload,
        }),
      );
    expect((await replay()).code).toBe(Code.Changed); // outer 2.04 of a protected 2.05
    const second = await replay();
    expect([second.code, second.text()]).toEqual([Code.Unauthorized, 'Replay detected']);
    expect(s.calls).toEqual(['hello']);
  });

  it('a tampered protected request (one flipped ciphertext bit) is rejected with 4.00', async () => {
    const s = setup();
    const { message } = protectRequest(s.clientCtx, {
      type: 0,
      code: Code.GET,
      messageId: 1,
      options: [{ number: OptionNumber.UriPath, value: 'hello' }],
    });
    const payload = message.payload!.slice();
    payload[2]! ^= 0x10;
    const r = await drive(
      s.clock,
      s.plain.request({
        peer: { address: '10.0.0.1', port: 5683 },
        method: message.code,
        options: message.options,
        payload,
      }),
    );
    expect(r.code).toBe(Code.BadRequest);
    expect(s.calls).toEqual([]);
  });

  it('300 protected requests with one flipped bit each: only §8.2 errors, no handler call (§8.2, §7.4)', async () => {
    const s = setup();
    const rand = seededRandom(77);
    const codes = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const { message } = protectRequest(s.clientCtx, {
        type: 0,
        code: Code.GET,
        messageId: 1,
        options: [{ number: OptionNumber.UriPath, value: 'hello' }],
      });
      const option = message.options!.find((o) => o.number === OptionNumber.OSCORE)!.value as Uint8Array;
      const inOption = rand(1)[0]! % 4 === 0; // a quarter of the flips hit the OSCORE option value
      const target = inOption ? option.slice() : message.payload!.slice();
      const [a, b] = rand(2);
      target[((a! << 8) | b!) % target.length]! ^= 1 << (rand(1)[0]! % 8);
      const r = await drive(
        s.clock,
        s.plain.request({
          peer: { address: '10.0.0.1', port: 5683 },
          method: message.code,
          options: [
            ...message.options!.filter((o) => o.number !== OptionNumber.OSCORE),
            { number: OptionNumber.OSCORE, value: inOption ? target : option },
          ],
          payload: inOption ? message.payload : target,
        }),
      );
      codes.add(r.code);
    }
    expect(
      [...codes].every((c) => c === Code.BadRequest || c === Code.Unauthorized || c === Code.BadOption),
    ).toBe(true);
    expect(s.calls).toEqual([]);
  });

  it('an unprotected answer to a protected request rejects it (reason security), never passed on', async () => {
    const s = setup({}, { serverSecurity: undefined });
    // this server does not do OSCORE: the critical OSCORE option gets an unprotected 4.02 (RFC 8613 §2)
    const e = await rejection(s.clock, s.client.get(`${URI}hello`));
    expect(e.reason).toBe('security');
    expect(e.message).toContain('4.02');
    expect(s.calls).toEqual([]);
  });

  it('a response from the wrong context fails verification (reason security)', async () => {
    const s = setup();
    const wrong = contextOf(0, { masterSecret: new Uint8Array(16) });
    const e = await rejection(s.clock, s.client.get(`${URI}hello`, { security: oscoreClient(wrong) }));
    expect(e.reason).toBe('security');
    expect(e.message).toContain('4.00');
    expect(s.calls).toEqual([]);
  });

  it('Echo recovery (Appendix B.1.2): a server that lost its replay state challenges once, our client retries transparently', async () => {
    const s = setup({ replayState: 'lost', random: seededRandom(9) });
    expect(s.serverCtx.awaitingFreshness).toBe(true);
    const r = await drive(s.clock, s.client.get(`${URI}hello`));
    expect(r.text()).toBe('hello ');
    expect(s.seen).toHaveLength(2); // the challenged request and its retry with Echo
    expect(s.calls).toEqual(['hello']);
    expect(s.serverCtx.awaitingFreshness).toBe(false);
    // later requests go straight through
    await drive(s.clock, s.client.get(`${URI}hello`));
    expect(s.seen).toHaveLength(3);
  });

  it('Echo recovery also works for an Observe registration', async () => {
    const s = setup({ replayState: 'lost', random: seededRandom(11) });
    const bump = (s.server as CoapEndpoint & { bump: () => void }).bump;
    const observation = await drive(s.clock, s.client.observe(`${URI}counter`));
    expect(observation.peek()?.text()).toBe('0');
    const got: string[] = [];
    observation.on('notification', (r) => got.push(r.text()));
    bump();
    await s.clock.advance(100);
    expect(got).toEqual(['1']);
    await drive(s.clock, observation.cancel());
  });

  it('a forged unprotected notification is dropped; the observation goes on (§8.4)', async () => {
    const s = setup();
    const bump = (s.server as CoapEndpoint & { bump: () => void }).bump;
    const observation = await drive(s.clock, s.client.observe(`${URI}counter`));
    const got: string[] = [];
    observation.on('notification', (r) => got.push(r.text()));
    const token = observation.peek()?.message.token.slice();
    expect(token).toBeDefined();
    // an attacker spoofing the server's address sends an unprotected notification with the token
    s.server.messaging.send(
      {
        code: Code.Content,
        token,
        options: [{ number: OptionNumber.Observe, value: 99 }],
        payload: utf8Encode('forged'),
      },
      s.client.local,
      false,
    );
    await s.clock.advance(100);
    expect(got).toEqual([]);
    bump();
    await s.clock.advance(100);
    expect(got).toEqual(['1']);
    await drive(s.clock, observation.cancel());
  });

  it('Non-confirmable requests through OSCORE', async () => {
    const s = setup();
    const r = await drive(s.clock, s.client.get(`${URI}hello`, { confirmable: false }));
    expect(r.text()).toBe('hello ');
  });

  it('group requests are refused on an OSCORE endpoint unless explicitly unprotected', async () => {
    const s = setup();
    const e = await rejection(s.clock, s.client.groupRequest({ uri: 'coap://10.0.0.1/hello', window: 100 }));
    expect(e.reason).toBe('invalid-request');
  });

  it('security: null sends a request unprotected even on an OSCORE endpoint', async () => {
    const s = setup();
    const r = await drive(s.clock, s.client.get(`${URI}hello`, { security: null }));
    expect(r.text()).toBe('hello anonymous');
  });
});
