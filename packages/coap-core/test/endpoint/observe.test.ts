import { describe, expect, it } from 'vitest';
import {
  CoapEndpoint,
  type CoapResponse,
  Code,
  decodeMessage,
  encodeMessage,
  FakeClock,
  isFresher,
  MemoryNetwork,
  MessageType,
  OptionNumber,
  seededRandom,
} from '../../src/index.js';
import { drive, harness } from './harness.js';

function counterResource(h: ReturnType<typeof harness>, options: { maxAge?: number } = {}) {
  const state = { value: 0 };
  h.server.route(
    'GET',
    '/counter',
    () => ({ code: Code.Content, payload: String(state.value), maxAge: options.maxAge }),
    {
      observable: true,
      link: { rt: 'counter' },
    },
  );
  return state;
}

describe('Observe (RFC 7641)', () => {
  it('registers, receives notifications in order, and cancels with GET Observe=1 (§3.6)', async () => {
    const h = harness();
    const state = counterResource(h);
    const obs = await drive(h.clock, h.client.observe(`${h.serverUri}/counter`));
    const seen: string[] = [];
    obs.on('notification', (r) => seen.push(r.text()));
    expect(h.server.observerTotal('/counter')).toBe(1);
    for (let i = 1; i <= 3; i++) {
      state.value = i;
      h.server.notify('/counter');
      await h.clock.advance(10);
    }
    expect(seen).toEqual(['1', '2', '3']);
    await drive(h.clock, obs.cancel());
    expect(h.server.observerTotal('/counter')).toBe(0);
    expect(obs.done).toBe(true);
    expect(h.client.pendingRequests).toBe(0);
  });

  it('the async iterator yields the newest state when the consumer is slow (§3.4)', async () => {
    const h = harness();
    const state = counterResource(h);
    const obs = await drive(h.clock, h.client.observe(`${h.serverUri}/counter`));
    const it = obs[Symbol.asyncIterator]();
    expect((await it.next()).value!.text()).toBe('0');
    for (let i = 1; i <= 5; i++) {
      state.value = i;
      h.server.notify('/counter');
      await h.clock.advance(5);
    }
    expect((await it.next()).value!.text()).toBe('5');
    await drive(h.clock, obs.cancel());
    expect((await it.next()).done).toBe(true);
  });

  it('lists the resource with obs in /.well-known/core', async () => {
    const h = harness();
    counterResource(h);
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/.well-known/core`));
    expect(r.text()).toBe('</counter>;rt="counter";obs');
  });

  it('drops reordered notifications by sequence number, with the 128-second rule', () => {
    expect(isFresher(5, 0, 6, 1)).toBe(true);
    expect(isFresher(6, 0, 5, 1)).toBe(false);
    expect(isFresher(0xfffff0, 0, 3, 1)).toBe(true); // wrapped
    expect(isFresher(3, 0, 0xfffff0, 1)).toBe(false);
    expect(isFresher(6, 0, 5, 128_001)).toBe(true); // after 128 s anything is fresh
  });

  it('one registration per client and resource: a second GET Observe=0 replaces the first (§4.1)', async () => {
    const h = harness();
    counterResource(h);
    const a = await drive(h.clock, h.client.observe(`${h.serverUri}/counter`));
    const b = await drive(h.clock, h.client.observe(`${h.serverUri}/counter`));
    expect(h.server.observerTotal()).toBe(1);
    const seen: string[] = [];
    b.on('notification', (r) => seen.push(`b${r.text()}`));
    a.on('notification', (r) => seen.push(`a${r.text()}`));
    h.server.notify('/counter');
    await h.clock.advance(10);
    expect(seen).toEqual(['b0']);
  });

  it('an observer that answers a notification with RST is removed (§3.6)', async () => {
    const h = harness();
    const state = counterResource(h);
    const t = h.network.bind('10.0.0.9', 7777);
    t.onDatagram((d, from) => {
      const m = decodeMessage(d);
      if (m.getUint(OptionNumber.Observe) !== undefined && m.messageId !== 0x1111) {
        t.send(Uint8Array.of(0x70, 0, d[2]!, d[3]!), from);
      }
    });
    t.send(
      encodeMessage({
        type: MessageType.CON,
        code: Code.GET,
        messageId: 0x1111,
        token: Uint8Array.of(7),
        options: [
          { number: OptionNumber.Observe, value: 0 },
          { number: OptionNumber.UriPath, value: 'counter' },
        ],
      }),
      { address: '10.0.0.1', port: 5683 },
    );
    await h.clock.advance(10);
    expect(h.server.observerTotal()).toBe(1);
    state.value = 1;
    h.server.notify('/counter');
    await h.clock.advance(10);
    expect(h.server.observerTotal()).toBe(0);
  });

  it('a vanished observer is removed when a confirmable notification times out (§4.5)', async () => {
    const h = harness({}, { observe: { confirmable: true } });
    const state = counterResource(h);
    await drive(h.clock, h.client.observe(`${h.serverUri}/counter`));
    await h.client.close(); // the client disappears without deregistering
    state.value = 1;
    h.server.notify('/counter');
    await h.clock.runUntil(() => h.server.observerTotal() === 0, 200_000);
    expect(h.server.observerTotal()).toBe(0);
    expect(h.server.messaging.stats().inflight).toBe(0);
  });

  it('an error response ends the observation on both sides (§3.2)', async () => {
    const h = harness();
    let fail = false;
    h.server.route(
      'GET',
      '/r',
      () => (fail ? { code: Code.NotFound } : { code: Code.Content, payload: 'ok' }),
      {
        observable: true,
      },
    );
    const obs = await drive(h.clock, h.client.observe(`${h.serverUri}/r`));
    const codes: number[] = [];
    obs.on('notification', (r) => codes.push(r.code));
    let ended = false;
    obs.on('end', () => {
      ended = true;
    });
    fail = true;
    h.server.notify('/r');
    await h.clock.advance(10);
    expect(codes).toEqual([Code.NotFound]);
    expect(ended).toBe(true);
    expect(h.server.observerTotal()).toBe(0);
  });

  it('endObservations ends every observation of a resource with a last error notification (§3.2)', async () => {
    const h = harness();
    counterResource(h);
    const a = await drive(h.clock, h.client.observe(`${h.serverUri}/counter`));
    const other = new CoapEndpoint({
      transport: h.network.bind('10.0.0.3', 0),
      clock: h.clock,
      random: seededRandom(3),
    });
    const b = await drive(h.clock, other.observe(`${h.serverUri}/counter`));
    const codes: number[] = [];
    let ends = 0;
    for (const o of [a, b]) {
      o.on('notification', (r) => codes.push(r.code));
      o.on('end', () => ends++);
    }
    expect(h.server.observerTotal('/counter')).toBe(2);
    expect(h.server.endObservations('/counter')).toBe(2);
    await h.clock.advance(10);
    expect(codes).toEqual([Code.ServiceUnavailable, Code.ServiceUnavailable]);
    expect(ends).toBe(2);
    expect(h.server.observerTotal()).toBe(0);
    // the resource can be observed again afterwards (no new endpoint needed)
    const again = await drive(h.clock, h.client.observe(`${h.serverUri}/counter`));
    expect(h.server.observerTotal('/counter')).toBe(1);
    expect(h.server.endObservations('/counter', { code: Code.NotFound, payload: 'gone' })).toBe(1);
    await h.clock.advance(10);
    expect(again.done).toBe(true);
    expect(h.server.endObservations('/counter')).toBe(0);
    expect(() => h.server.endObservations('/counter', { code: Code.Content })).toThrow(RangeError);
    await other.close();
  });

  it('a server without Observe support gives one response and the observation ends', async () => {
    const h = harness();
    h.server.route('GET', '/plain', () => ({ code: Code.Content, payload: 'x' }));
    const obs = await drive(h.clock, h.client.observe(`${h.serverUri}/plain`));
    expect(obs.done).toBe(true);
    expect(obs.count).toBe(1);
    expect(h.client.pendingRequests).toBe(0);
  });

  it('re-registers when Max-Age runs out without a notification (§3.3.1)', async () => {
    const h = harness();
    let gets = 0;
    h.server.route(
      'GET',
      '/slow',
      () => {
        gets++;
        return { code: Code.Content, payload: 'x', maxAge: 10 };
      },
      { observable: true },
    );
    const obs = await drive(h.clock, h.client.observe(`${h.serverUri}/slow`));
    expect(gets).toBe(1);
    await h.clock.advance(14_000);
    expect(gets).toBe(2);
    expect(obs.done).toBe(false);
    expect(h.server.observerTotal()).toBe(1);
  });

  it('a notification for a token nobody wants gets RST after cancel (§3.6 fallback)', async () => {
    const h = harness();
    await h.server.close();
    // a hand-made server: registers, acknowledges the cancellation, then keeps notifying anyway
    const t = h.network.bind('10.0.0.1', 5683);
    let token = new Uint8Array(0);
    const resets: number[] = [];
    t.onDatagram((d, from) => {
      const m = decodeMessage(d);
      if (m.type === MessageType.RST) {
        resets.push(m.messageId);
        return;
      }
      if (m.code !== Code.GET) return;
      token = m.token.slice();
      const observe = m.getUint(OptionNumber.Observe);
      t.send(
        encodeMessage({
          type: MessageType.ACK,
          code: Code.Content,
          messageId: m.messageId,
          token,
          options: observe === 0 ? [{ number: OptionNumber.Observe, value: 1 }] : [],
          payload: Uint8Array.of(0x30),
        }),
        from,
      );
    });
    const obs = await drive(h.clock, h.client.observe(`${h.serverUri}/x`));
    await drive(h.clock, obs.cancel());
    t.send(
      encodeMessage({
        type: MessageType.NON,
        code: Code.Content,
        messageId: 0x4242,
        token,
        options: [{ number: OptionNumber.Observe, value: 2 }],
      }),
      h.client.local,
    );
    await h.clock.advance(10);
    expect(resets).toEqual([0x4242]);
    expect(obs.count).toBe(1);
  });

  it('a large notification sends its first block; the client fetches the rest (RFC 7959 §3.4)', async () => {
    const h = harness();
    let version = 0;
    const body = () => Uint8Array.from({ length: 3000 }, (_, i) => (i + version) & 0xff);
    h.server.route('GET', '/big', () => ({ code: Code.Content, payload: body() }), { observable: true });
    const obs = await drive(h.clock, h.client.observe(`${h.serverUri}/big`));
    const seen: CoapResponse[] = [];
    obs.on('notification', (r) => seen.push(r));
    version = 5;
    h.server.notify('/big');
    await h.clock.advance(100);
    expect(seen.length).toBe(1);
    expect(Buffer.compare(seen[0]!.payload, body())).toBe(0);
  });

  it('a slow observer does not hold back the others, and gets only the newest state (§4.5.2)', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 4 });
    const server = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(1),
      observe: { confirmable: true },
    });
    const state = { value: 0 };
    server.route('GET', '/c', () => ({ code: Code.Content, payload: String(state.value) }), {
      observable: true,
    });
    const fast = new CoapEndpoint({ transport: network.bind('10.0.0.2', 0), clock, random: seededRandom(2) });
    // a slow observer: a raw socket that acknowledges notifications only after 3 s
    const slow = network.bind('10.0.0.3', 6000);
    const slowSeen = new Map<number, string>(); // by message ID: retransmissions count once
    slow.onDatagram((d, from) => {
      const m = decodeMessage(d);
      if (m.getUint(OptionNumber.Observe) === undefined) return;
      slowSeen.set(m.messageId, new TextDecoder().decode(m.payload));
      if (m.type === MessageType.CON)
        clock.setTimeout(() => slow.send(Uint8Array.of(0x60, 0, d[2]!, d[3]!), from), 3_000);
    });
    slow.send(
      encodeMessage({
        type: MessageType.CON,
        code: Code.GET,
        messageId: 1,
        token: Uint8Array.of(1),
        options: [
          { number: OptionNumber.Observe, value: 0 },
          { number: OptionNumber.UriPath, value: 'c' },
        ],
      }),
      { address: '10.0.0.1', port: 5683 },
    );
    const obs = await drive(clock, fast.observe('coap://10.0.0.1/c'));
    const fastSeen: string[] = [];
    obs.on('notification', (r) => fastSeen.push(r.text()));
    for (let i = 1; i <= 5; i++) {
      state.value = i;
      server.notify('/c');
      await clock.advance(50);
    }
    expect(fastSeen).toEqual(['1', '2', '3', '4', '5']);
    await clock.advance(10_000);
    // the slow one got the registration response, the first notification, then straight the newest state
    expect([...slowSeen.values()]).toEqual(['0', '1', '5']);
  });

  it('after 1,000 rapid changes on a lossy network the observer ends with the final state', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({
      clock,
      seed: 8,
      loss: 0.2,
      duplication: 0.1,
      reorder: 0.2,
      delay: 1,
      jitter: 10,
      reorderDelay: 25,
    });
    const parameters = { maxRetransmit: 8 };
    const server = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(1),
      parameters,
      observe: { confirmable: true },
    });
    const state = { value: 0 };
    server.route('GET', '/c', () => ({ code: Code.Content, payload: String(state.value) }), {
      observable: true,
    });
    const client = new CoapEndpoint({
      transport: network.bind('10.0.0.2', 0),
      clock,
      random: seededRandom(2),
      parameters,
    });
    const obs = await drive(clock, client.observe('coap://10.0.0.1/c'));
    let latest = '';
    obs.on('notification', (r) => {
      latest = r.text();
    });
    for (let i = 1; i <= 1000; i++) {
      state.value = i;
      server.notify('/c');
      if (i % 10 === 0) await clock.advance(1);
    }
    await clock.runUntil(() => latest === '1000', 3600_000);
    expect(latest).toBe('1000');
  });
});

describe('vanished observers (RFC 7641 §4.5)', () => {
  it('500 observers that disappear are all removed and the server state returns to empty', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      for (let i = 0; i < 3; i++) gc();
      return process.memoryUsage().heapUsed;
    };
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 12 });
    const server = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(1),
      observe: { confirmable: true },
    });
    const state = { value: 0 };
    server.route('GET', '/c', () => ({ code: Code.Content, payload: `value ${state.value}` }), {
      observable: true,
    });
    const round = async () => {
      const clients = Array.from(
        { length: 500 },
        (_, i) =>
          new CoapEndpoint({
            transport: network.bind(`10.1.${i >> 8}.${i & 255}`, 0),
            clock,
            random: seededRandom(100 + i),
          }),
      );
      await drive(clock, Promise.all(clients.map((c) => c.observe('coap://10.0.0.1/c'))));
      expect(server.observerTotal('/c')).toBe(500);
      for (const c of clients) await c.close(); // gone without deregistering
      state.value++;
      server.notify('/c');
      await clock.runUntil(() => server.observerTotal() === 0, 300_000);
      expect(server.observerTotal()).toBe(0);
      expect(server.messaging.stats().inflight).toBe(0);
      await clock.advance(600_000); // past EXCHANGE_LIFETIME: deduplication state and peers expire
      expect(server.messaging.stats()).toMatchObject({ peers: 0, dedupEntries: 0 });
    };
    await round(); // warm-up: lazily created structures exist before the baseline
    const baseline = heap();
    await round();
    expect(heap() - baseline).toBeLessThan(2 * 1024 * 1024);
  }, 60_000);
});
