import { describe, expect, it } from 'vitest';
import {
  CoapRequestError,
  Code,
  ContentFormat,
  decodeMessage,
  encodeMessage,
  exchangeLifetime,
  fromHex,
  MessageType,
  OptionNumber,
  type Peer,
  parseLinkFormat,
  toHex,
} from '../../src/index.js';
import { drive, harness } from './harness.js';

const SERVER: Peer = { address: '10.0.0.1', port: 5683 };

describe('requests and responses (RFC 7252 §5)', () => {
  it('GET gets a piggybacked 2.05 with payload and Content-Format', async () => {
    const h = harness();
    h.server.route('GET', '/hello', () => ({ code: Code.Content, payload: 'world', contentFormat: 0 }));
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/hello`));
    expect(r.code).toBe(Code.Content);
    expect(r.text()).toBe('world');
    expect(r.contentFormat).toBe(0);
    expect(r.message.type).toBe(MessageType.ACK);
    expect(r.peer).toEqual(SERVER);
  });

  it('routes on method and path with :params and wildcards, literals first', async () => {
    const h = harness();
    h.server.route('GET', '/a/:id', (req) => ({ code: Code.Content, payload: `param ${req.params.id}` }));
    h.server.route('GET', '/a/fixed', () => ({ code: Code.Content, payload: 'literal' }));
    h.server.route('GET', '/files/*', (req) => ({ code: Code.Content, payload: `rest ${req.params['*']}` }));
    h.server.route(['PUT', 'POST'], '/a/:id', (req) => ({ code: Code.Changed, payload: req.text() }));
    expect((await drive(h.clock, h.client.get(`${h.serverUri}/a/7`))).text()).toBe('param 7');
    expect((await drive(h.clock, h.client.get(`${h.serverUri}/a/fixed`))).text()).toBe('literal');
    expect((await drive(h.clock, h.client.get(`${h.serverUri}/files/x/y/z`))).text()).toBe('rest x/y/z');
    const put = await drive(h.clock, h.client.put(`${h.serverUri}/a/1`, 'body'));
    expect([put.code, put.text()]).toEqual([Code.Changed, 'body']);
  });

  it('answers 4.04, 4.05, and 5.00 for a throwing handler, and keeps serving', async () => {
    const h = harness();
    h.server.route('GET', '/boom', () => {
      throw new Error('handler bug');
    });
    h.server.route('GET', '/async-boom', async () => {
      throw new Error('async bug');
    });
    h.server.route('GET', '/ok', () => ({ code: Code.Content }));
    expect((await drive(h.clock, h.client.get(`${h.serverUri}/nothing`))).code).toBe(Code.NotFound);
    expect((await drive(h.clock, h.client.delete(`${h.serverUri}/ok`))).code).toBe(Code.MethodNotAllowed);
    expect((await drive(h.clock, h.client.get(`${h.serverUri}/boom`))).code).toBe(Code.InternalServerError);
    expect((await drive(h.clock, h.client.get(`${h.serverUri}/async-boom`))).code).toBe(
      Code.InternalServerError,
    );
    expect((await drive(h.clock, h.client.get(`${h.serverUri}/ok`))).code).toBe(Code.Content);
  });

  it('answers 4.02 to an unrecognised critical option, ignores an unknown elective one (§5.4.1)', async () => {
    const h = harness();
    h.server.route('GET', '/r', () => ({ code: Code.Content }));
    const bad = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/r`, { options: [{ number: 65001, value: '' }] }),
    );
    expect(bad.code).toBe(Code.BadOption);
    expect(bad.text()).toContain('65001');
    const ok = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/r`, { options: [{ number: 65000, value: '' }] }),
    );
    expect(ok.code).toBe(Code.Content);
    const twice = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/r`, {
        options: [
          { number: OptionNumber.Accept, value: 0 },
          { number: OptionNumber.Accept, value: 50 },
        ],
      }),
    );
    expect(twice.code).toBe(Code.BadOption);
  });

  it('answers 4.15 when the handler does not accept the Content-Format (§5.10.3)', async () => {
    const h = harness();
    h.server.route('POST', '/json', () => ({ code: Code.Changed }), { accepts: [ContentFormat.Json] });
    const wrong = await drive(
      h.clock,
      h.client.post(`${h.serverUri}/json`, 'x', { contentFormat: ContentFormat.TextPlain }),
    );
    expect(wrong.code).toBe(Code.UnsupportedContentFormat);
    const right = await drive(h.clock, h.client.post(`${h.serverUri}/json`, '{}', { contentFormat: 50 }));
    expect(right.code).toBe(Code.Changed);
  });

  it('serves /.well-known/core with link attributes and ?rt= / ?href= filtering (RFC 6690 §4)', async () => {
    const h = harness();
    h.server.route('GET', '/sensors/temp', () => ({ code: Code.Content }), {
      link: { rt: 'temperature-c', if: 'sensor', obs: true, ct: 0 },
    });
    h.server.route('GET', '/sensors/light', () => ({ code: Code.Content }), { link: { rt: 'light-lux' } });
    h.server.route('GET', '/hidden', () => ({ code: Code.Content }));
    h.server.route('GET', '/param/:x', () => ({ code: Code.Content }), { link: { rt: 'p' } });
    const all = await drive(h.clock, h.client.get(`${h.serverUri}/.well-known/core`));
    expect(all.contentFormat).toBe(ContentFormat.LinkFormat);
    const links = parseLinkFormat(all.text());
    expect(links.map((l) => l.target).sort()).toEqual(['/sensors/light', '/sensors/temp']);
    expect(links.find((l) => l.target === '/sensors/temp')!.attributes).toContainEqual({
      name: 'obs',
      value: true,
    });
    const rt = await drive(h.clock, h.client.get(`${h.serverUri}/.well-known/core?rt=light*`));
    expect(parseLinkFormat(rt.text()).map((l) => l.target)).toEqual(['/sensors/light']);
    const href = await drive(h.clock, h.client.get(`${h.serverUri}/.well-known/core?href=/sensors/temp`));
    expect(parseLinkFormat(href.text()).map((l) => l.target)).toEqual(['/sensors/temp']);
  });

  it('honours No-Response (RFC 7967): suppressed classes get only an empty ACK', async () => {
    const h = harness({}, { parameters: { maxRetransmit: 0, ackTimeout: 100 } });
    let calls = 0;
    h.server.route('POST', '/quiet', () => {
      calls++;
      return { code: Code.Changed };
    });
    const p = h.client.post(`${h.serverUri}/quiet`, 'x', {
      options: [{ number: OptionNumber.NoResponse, value: 2 }],
      timeout: 1000,
    });
    const err = await drive(
      h.clock,
      p.catch((e: unknown) => e),
    );
    expect(calls).toBe(1);
    expect(err).toBeInstanceOf(CoapRequestError);
    expect((err as CoapRequestError).reason).toBe('timeout');
    // 4.xx is not suppressed by value 2
    const nf = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/missing`, { options: [{ number: OptionNumber.NoResponse, value: 2 }] }),
    );
    expect(nf.code).toBe(Code.NotFound);
  });

  it('NON requests get NON responses (§5.2.3)', async () => {
    const h = harness();
    h.server.route('GET', '/n', () => ({ code: Code.Content, payload: 'non' }));
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/n`, { confirmable: false }));
    expect(r.message.type).toBe(MessageType.NON);
    expect(r.text()).toBe('non');
  });

  it('a slow handler gets an empty ACK and a separate CON response the client accepts (§5.2.2)', async () => {
    const sent: string[] = [];
    const h = harness({}, { trace: (dir, bytes) => dir === 'out' && sent.push(toHex(bytes.subarray(0, 2))) });
    h.server.route('GET', '/slow', async () => {
      await new Promise<void>((resolve) => h.clock.setTimeout(resolve, 5_000));
      return { code: Code.Content, payload: 'late' };
    });
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/slow`));
    expect(r.text()).toBe('late');
    expect(r.message.type).toBe(MessageType.CON);
    // client CON GET, server empty ACK, server CON 2.05, client empty ACK
    expect(sent.map((s) => s.slice(0, 1) + s.slice(2))).toEqual(['401', '600', '445', '600']);
    await h.clock.advance(1000);
    expect(h.server.messaging.stats().inflight).toBe(0);
  });

  it('after an empty ACK the request still times out at its deadline, counted from sending (§5.2.2)', async () => {
    const h = harness();
    h.server.route('GET', '/never', () => new Promise(() => {})); // acknowledged, never answered
    for (const timeout of [undefined, 120_000, 3_000]) {
      const started = h.clock.now();
      const err = await drive(
        h.clock,
        h.client
          .get(`${h.serverUri}/never`, timeout === undefined ? {} : { timeout })
          .catch((e: unknown) => e),
        600_000,
      );
      expect(err).toBeInstanceOf(CoapRequestError);
      expect((err as CoapRequestError).reason).toBe('timeout');
      const expected = timeout ?? 95_000; // MAX_TRANSMIT_WAIT + PROCESSING_DELAY
      expect((err as CoapRequestError).message).toBe(`no response within ${expected} ms`);
      expect(h.clock.now() - started).toBe(expected);
      expect(h.client.pendingRequests).toBe(0);
    }
  });

  it('rejects with a timeout when the server never answers, after MAX_RETRANSMIT retransmissions (§4.2)', async () => {
    const h = harness();
    await h.server.close();
    const started = h.clock.now();
    const err = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/x`).catch((e: unknown) => e),
    );
    expect((err as CoapRequestError).reason).toBe('timeout');
    const elapsed = h.clock.now() - started;
    // first timeout in [2, 3] s, doubled 4 times: gives up between 62 s and 93 s (MAX_TRANSMIT_WAIT)
    expect(elapsed).toBeGreaterThanOrEqual(62_000);
    expect(elapsed).toBeLessThanOrEqual(93_100);
    expect(h.network.stats.sent).toBe(5);
    expect(h.client.pendingRequests).toBe(0);
  });

  it('cancels a request with an AbortSignal', async () => {
    const h = harness();
    h.server.route('GET', '/slow', () => new Promise(() => {}));
    const ac = new AbortController();
    const p = h.client.get(`${h.serverUri}/slow`, { signal: ac.signal }).catch((e: unknown) => e);
    await h.clock.advance(100);
    ac.abort();
    const err = await drive(h.clock, p);
    expect((err as CoapRequestError).reason).toBe('aborted');
    expect(h.client.pendingRequests).toBe(0);
    expect(h.client.messaging.stats().inflight).toBe(0);
  });

  it('refuses a URI of another scheme and malformed URIs', async () => {
    const h = harness();
    await expect(h.client.get('coaps://10.0.0.1/x')).rejects.toMatchObject({ reason: 'invalid-request' });
    await expect(h.client.get('not a uri')).rejects.toMatchObject({ reason: 'invalid-request' });
  });
});

describe('message layer (RFC 7252 §4)', () => {
  /** Sends raw bytes from a bare transport and collects what comes back. */
  function raw(h: ReturnType<typeof harness>) {
    const t = h.network.bind('10.0.0.9', 9999);
    const received: Uint8Array[] = [];
    t.onDatagram((d) => received.push(d));
    return { send: (hex: string) => t.send(fromHex(hex), SERVER), received };
  }

  it('answers a CoAP ping (Empty CON) with RST (§4.3), and ping() sees it', async () => {
    const h = harness();
    const r = raw(h);
    r.send('40001234');
    await h.clock.advance(10);
    expect(r.received.map(toHex)).toEqual(['70001234']);
    expect(await drive(h.clock, h.client.ping(SERVER))).toBe(true);
  });

  it('rejects a malformed CON with RST and drops a malformed NON (§4.2, §4.3)', async () => {
    const h = harness();
    const r = raw(h);
    r.send('4001abcdff'); // CON, payload marker without payload
    r.send('5001abceff'); // NON, same error
    r.send('40'); // too short: no message ID to answer
    await h.clock.advance(10);
    expect(r.received.map(toHex)).toEqual(['7000abcd']);
  });

  it('rejects a CON with a reserved code class with RST', async () => {
    const h = harness();
    const r = raw(h);
    r.send('40e11111'); // code 7.01
    await h.clock.advance(10);
    expect(r.received.map(toHex)).toEqual(['70001111']);
  });

  it('deduplicates: a repeated CON gets the same response and reaches the handler once (§4.5)', async () => {
    const h = harness();
    let calls = 0;
    h.server.route('POST', '/count', () => ({ code: Code.Changed, payload: String(++calls) }));
    const r = raw(h);
    const request = toHex(
      encodeMessage({
        type: MessageType.CON,
        code: Code.POST,
        messageId: 0x2222,
        token: fromHex('aa'),
        options: [{ number: OptionNumber.UriPath, value: 'count' }],
      }),
    );
    r.send(request);
    await h.clock.advance(10);
    r.send(request);
    r.send(request);
    await h.clock.advance(10);
    expect(calls).toBe(1);
    expect(r.received.length).toBe(3);
    expect(new Set(r.received.map(toHex)).size).toBe(1);
    const m = decodeMessage(r.received[0]!);
    expect([m.type, m.code, m.messageId]).toEqual([MessageType.ACK, Code.Changed, 0x2222]);
  });

  it('a duplicate of a request still being handled gets the empty ACK once it was sent', async () => {
    const h = harness();
    let calls = 0;
    h.server.route('GET', '/slow', async () => {
      calls++;
      await new Promise<void>((resolve) => h.clock.setTimeout(resolve, 3_000));
      return { code: Code.Content };
    });
    const r = raw(h);
    const request = toHex(
      encodeMessage({
        type: MessageType.CON,
        code: Code.GET,
        messageId: 0x3333,
        token: fromHex('bb'),
        options: [{ number: OptionNumber.UriPath, value: 'slow' }],
      }),
    );
    r.send(request);
    await h.clock.advance(100);
    r.send(request); // before the empty ACK: silently absorbed
    await h.clock.advance(1000);
    r.send(request); // after the empty ACK: ACK repeated
    await h.clock.advance(10);
    expect(calls).toBe(1);
    expect(r.received.map(toHex)).toEqual(['60003333', '60003333']);
  });

  it('rejects a response nobody waits for with RST (§5.3.2)', async () => {
    const h = harness();
    const t = h.network.bind('10.0.0.9', 9998);
    const got: string[] = [];
    t.onDatagram((d) => got.push(toHex(d)));
    const client: Peer = h.client.local;
    t.send(fromHex('5145777701ff41'), client); // NON 2.05, token 01
    t.send(fromHex('4145777801ff41'), client); // CON 2.05, token 01
    await h.clock.advance(10);
    expect(got).toEqual(['70007777', '70007778']);
  });

  it('a Reset cancels the matching request (§4.2)', async () => {
    const h = harness();
    await h.server.close();
    const t = h.network.bind('10.0.0.1', 5683); // a peer that resets everything
    t.onDatagram((d, from) => t.send(Uint8Array.of(0x70, 0, d[2]!, d[3]!), from));
    const err = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/x`).catch((e: unknown) => e),
    );
    expect((err as CoapRequestError).reason).toBe('reset');
  });

  it('NSTART = 1: a second CON request to the same server waits for the first ACK (§4.7)', async () => {
    const h = harness();
    const order: string[] = [];
    h.server.route('GET', '/a', async () => {
      order.push('a');
      await new Promise<void>((resolve) => h.clock.setTimeout(resolve, 2_000));
      return { code: Code.Content, payload: 'a' };
    });
    h.server.route('GET', '/b', () => {
      order.push('b');
      return { code: Code.Content, payload: 'b' };
    });
    const a = h.client.get(`${h.serverUri}/a`);
    const b = h.client.get(`${h.serverUri}/b`);
    await h.clock.advance(100);
    expect(order).toEqual(['a']); // b is queued until a is acknowledged
    expect(h.client.messaging.stats().queued).toBe(1);
    await drive(h.clock, Promise.all([a, b]));
    expect(order).toEqual(['a', 'b']);
  });

  it('allows more parallel requests with a larger NSTART', async () => {
    const h = harness({}, { parameters: { nstart: 4 } });
    let concurrent = 0;
    let peak = 0;
    h.server.route('GET', '/p', async () => {
      peak = Math.max(peak, ++concurrent);
      await new Promise<void>((resolve) => h.clock.setTimeout(resolve, 100));
      concurrent--;
      return { code: Code.Content };
    });
    await drive(h.clock, Promise.all(Array.from({ length: 8 }, () => h.client.get(`${h.serverUri}/p`))));
    expect(peak).toBe(4);
  });

  it('forgets deduplication state after EXCHANGE_LIFETIME and idle peers after that', async () => {
    const h = harness();
    h.server.route('GET', '/x', () => ({ code: Code.Content }));
    await drive(h.clock, h.client.get(`${h.serverUri}/x`));
    expect(h.server.messaging.stats().dedupEntries).toBe(1);
    await h.clock.advance(exchangeLifetime(h.server.messaging.parameters) + 10_000);
    expect(h.server.messaging.stats().dedupEntries).toBe(0);
    await h.clock.advance(exchangeLifetime(h.server.messaging.parameters) + 10_000);
    expect(h.server.messaging.stats().peers).toBe(0);
  });

  it('bounds deduplication state per peer and in total under a flood', async () => {
    const h = harness({}, { limits: { maxDedupPerPeer: 50, maxDedupEntries: 120, maxPeers: 1000 } });
    h.server.route('GET', '/x', () => ({ code: Code.Content }));
    for (let port = 1; port <= 5; port++) {
      const t = h.network.bind('10.0.1.1', port);
      for (let mid = 0; mid < 100; mid++) {
        t.send(
          encodeMessage({
            type: MessageType.NON,
            code: Code.GET,
            messageId: mid,
            options: [{ number: 11, value: 'x' }],
          }),
          SERVER,
        );
      }
    }
    await h.clock.advance(10);
    const s = h.server.messaging.stats();
    expect(s.dedupEntries).toBeLessThanOrEqual(120);
    expect(s.peers).toBeLessThanOrEqual(6);
  });
});

describe('conditional requests (RFC 7252 §5.10.8 If-Match / If-None-Match, §5.10.6.2 ETag validation)', () => {
  it('checkConditions answers 4.12 and 2.03 from the resource state; handlers stay short', async () => {
    const h = harness();
    let value: Uint8Array | undefined;
    let version = 0;
    const etag = () => Uint8Array.of(version);
    const state = () => (value === undefined ? { exists: false } : { exists: true, etag: etag() });
    h.server.route('GET', '/doc', (req) => {
      if (value === undefined) return { code: Code.NotFound };
      return req.checkConditions(state()) ?? { code: Code.Content, payload: value, etag: etag() };
    });
    h.server.route('PUT', '/doc', (req) => {
      const refused = req.checkConditions(state());
      if (refused !== undefined) return refused;
      const created = value === undefined;
      value = req.payload;
      version++;
      return { code: created ? Code.Created : Code.Changed, etag: etag() };
    });
    const put = (payload: string, options: { number: number; value?: Uint8Array }[]) =>
      drive(
        h.clock,
        h.client.put(`${h.serverUri}/doc`, payload, {
          options: options.map((o) => ({ number: o.number, value: o.value ?? new Uint8Array(0) })),
        }),
      );
    // If-Match on a resource that does not exist: 4.12; If-None-Match creates it once
    expect((await put('a', [{ number: OptionNumber.IfMatch }])).code).toBe(Code.PreconditionFailed);
    expect((await put('a', [{ number: OptionNumber.IfNoneMatch }])).code).toBe(Code.Created);
    expect((await put('b', [{ number: OptionNumber.IfNoneMatch }])).code).toBe(Code.PreconditionFailed);
    // If-Match with the current ETag succeeds, with a stale one fails
    expect((await put('b', [{ number: OptionNumber.IfMatch, value: Uint8Array.of(1) }])).code).toBe(
      Code.Changed,
    );
    expect((await put('c', [{ number: OptionNumber.IfMatch, value: Uint8Array.of(1) }])).code).toBe(
      Code.PreconditionFailed,
    );
    // a GET naming the current ETag gets 2.03 Valid without a payload; a stale one gets the content
    const valid = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/doc`, {
        options: [{ number: OptionNumber.ETag, value: Uint8Array.of(2) }],
      }),
    );
    expect(valid.code).toBe(Code.Valid);
    expect(valid.payload.length).toBe(0);
    expect(valid.message.getOption(OptionNumber.ETag)).toEqual(Uint8Array.of(2));
    const stale = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/doc`, {
        options: [{ number: OptionNumber.ETag, value: Uint8Array.of(1) }],
      }),
    );
    expect([stale.code, stale.text()]).toEqual([Code.Content, 'b']);
  });
});

describe('server API: separate responses and parameterized routes in discovery', () => {
  it('separate: true acknowledges a CON request with an Empty ACK, then sends the response (RFC 7252 §5.2.2)', async () => {
    const h = harness();
    h.server.route('GET', '/slow', () => ({ code: Code.Content, payload: 'done' }), { separate: true });
    h.server.route('GET', '/fast', () => ({ code: Code.Content, payload: 'done' }));
    const fromServer: { type: number; code: number }[] = [];
    const transmit = h.network.transmit.bind(h.network);
    h.network.transmit = (from, to, data) => {
      if (from.port === 5683) {
        const m = decodeMessage(data);
        fromServer.push({ type: m.type, code: m.code });
      }
      transmit(from, to, data);
    };
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/slow`));
    expect(r.text()).toBe('done');
    expect(fromServer.slice(0, 2)).toEqual([
      { type: MessageType.ACK, code: 0 },
      { type: MessageType.CON, code: Code.Content },
    ]);
    fromServer.length = 0;
    await drive(h.clock, h.client.get(`${h.serverUri}/fast`));
    expect(fromServer).toEqual([{ type: MessageType.ACK, code: Code.Content }]);
  });

  it('a route with parameters is listed in /.well-known/core through linkTargets (RFC 6690 §4)', async () => {
    const h = harness();
    const ids = ['1', '2'];
    h.server.route('GET', '/sensors/:id', () => ({ code: Code.Content }), {
      link: { rt: 'temperature' },
      linkTargets: () => ids.map((id) => `/sensors/${id}`),
    });
    h.server.route('GET', '/hidden/:id', () => ({ code: Code.Content }), { link: { rt: 'x' } });
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/.well-known/core?rt=temperature`));
    expect(r.text()).toBe('</sensors/1>;rt="temperature",</sensors/2>;rt="temperature"');
    expect(h.server.links().map((l) => l.target)).toEqual(['/sensors/1', '/sensors/2']);
  });
});
