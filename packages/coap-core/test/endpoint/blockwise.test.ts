import { describe, expect, it } from 'vitest';
import {
  CoapEndpoint,
  CoapStatusError,
  Code,
  decodeBlock,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  FakeClock,
  fromHex,
  MemoryNetwork,
  MessageType,
  OptionNumber,
  seededRandom,
  toHex,
} from '../../src/index.js';
import { drive, harness } from './harness.js';

const pattern = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);

describe('Block2 (RFC 7959 §2.4)', () => {
  it('reassembles a large response transparently, with progress per block', async () => {
    const h = harness();
    const body = pattern(5000);
    h.server.route('GET', '/big', () => ({ code: Code.Content, payload: body, contentFormat: 42 }));
    const progress: number[] = [];
    const r = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/big`, { onBlock: (p) => progress.push(p.offset) }),
    );
    expect(r.payload).toEqual(body);
    expect(r.contentFormat).toBe(42);
    expect(progress).toEqual([0, 1024, 2048, 3072, 4096]);
  });

  it('negotiates a smaller block size early (client) and late (server)', async () => {
    const h = harness();
    const body = pattern(700);
    h.server.route('GET', '/b', () => ({ code: Code.Content, payload: body }));
    const sizes: number[] = [];
    const r = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/b`, { blockSize: 64, onBlock: (p) => sizes.push(p.data.length) }),
    );
    expect(r.payload).toEqual(body);
    expect(sizes.slice(0, 3)).toEqual([64, 64, 64]);
    expect(sizes.length).toBe(11);
    // a server configured for 128-byte blocks answers a 1024-byte request with 128-byte blocks
    const h2 = harness({}, { blockSize: 128 });
    h2.server.route('GET', '/b', () => ({ code: Code.Content, payload: body }));
    const sizes2: number[] = [];
    const r2 = await drive(
      h2.clock,
      h2.client.get(`${h2.serverUri}/b`, { onBlock: (p) => sizes2.push(p.data.length) }),
    );
    expect(r2.payload).toEqual(body);
    expect(sizes2[0]).toBe(128);
  });

  it('serves every block from one snapshot: a resource changing mid-transfer never yields a mixed body', async () => {
    const h = harness();
    let version = 0;
    h.server.route('GET', '/changing', () => ({ code: Code.Content, payload: pattern(3000, ++version) }));
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/changing`));
    expect(r.payload).toEqual(pattern(3000, 1));
    expect(version).toBe(1); // blocks 1.. came from the snapshot, not from the handler
  });

  it('restarts when the ETag changes between blocks (snapshot lost)', async () => {
    const h = harness({}, { blockwise: { transferTimeout: 1 } }); // snapshots expire at once
    let version = 0;
    h.server.route('GET', '/changing', () => ({ code: Code.Content, payload: pattern(3000, ++version) }));
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/changing`));
    const v = version;
    // whatever version it ended on, the body is one consistent representation
    expect([...Array(v)].some((_, i) => toHex(r.payload) === toHex(pattern(3000, i + 1)))).toBe(true);
  });

  it('answers Size2 and refuses a body beyond maxBodySize', async () => {
    const h = harness();
    h.server.route('GET', '/big', () => ({ code: Code.Content, payload: pattern(5000) }));
    const err = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/big`, { maxBodySize: 2000 }).catch((e: unknown) => e),
    );
    expect(String(err)).toContain('maxBodySize');
  });
});

describe('Block1 (RFC 7959 §2.5)', () => {
  it('splits a large body; the handler sees it reassembled; Size1 and Request-Tag are sent', async () => {
    const sent: string[] = [];
    const h = harness({}, {});
    const body = pattern(4500);
    let received: Uint8Array | undefined;
    h.server.route('PUT', '/up', (req) => {
      received = req.payload;
      return { code: Code.Changed };
    });
    const h2 = h;
    h2.client.messaging; // client trace via network stats below
    const r = await drive(
      h.clock,
      h.client.put(`${h.serverUri}/up`, body, { onBlock: (p) => sent.push(`${p.offset}`) }),
    );
    expect(r.code).toBe(Code.Changed);
    expect(received).toEqual(body);
    expect(sent).toEqual(['0', '1024', '2048', '3072', '4096']);
    expect(decodeBlock(r.message.getUint(OptionNumber.Block1)!)).toMatchObject({ num: 4, more: false });
    expect(h.server.transfersInProgress).toBe(0);
  });

  it('follows a server that asks for smaller blocks (late negotiation, §2.3)', async () => {
    const h = harness({}, { blockSize: 256 });
    const body = pattern(3000);
    let received: Uint8Array | undefined;
    h.server.route('POST', '/up', (req) => {
      received = req.payload;
      return { code: Code.Changed };
    });
    const sizes: number[] = [];
    const r = await drive(
      h.clock,
      h.client.post(`${h.serverUri}/up`, body, {
        blockSize: 1024,
        onBlock: (p) => sizes.push(p.data.length),
      }),
    );
    expect(r.code).toBe(Code.Changed);
    expect(received).toEqual(body);
    expect(sizes[0]).toBe(1024);
    expect(sizes[1]).toBe(256);
  });

  it('answers 4.13 with Size1 beyond the route limit, before receiving everything', async () => {
    const h = harness();
    let called = false;
    h.server.route(
      'PUT',
      '/small',
      () => {
        called = true;
        return { code: Code.Changed };
      },
      { maxBodySize: 2000 },
    );
    const r = await drive(h.clock, h.client.put(`${h.serverUri}/small`, pattern(5000)));
    expect(r.code).toBe(Code.RequestEntityTooLarge);
    expect(r.message.getUint(OptionNumber.Size1)).toBe(2000);
    expect(called).toBe(false);
  });

  it('answers 4.08 to a block out of sequence (§2.9.2)', async () => {
    const h = harness();
    h.server.route('PUT', '/x', () => ({ code: Code.Changed }));
    const t = h.network.bind('10.0.0.9', 7000);
    const got: Uint8Array[] = [];
    t.onDatagram((d) => got.push(d));
    const block = (num: number, mid: number) =>
      encodeMessage({
        type: MessageType.CON,
        code: Code.PUT,
        messageId: mid,
        token: Uint8Array.of(mid),
        options: [
          { number: OptionNumber.UriPath, value: 'x' },
          { number: OptionNumber.Block1, value: encodeBlock({ num, more: true, szx: 2 }) },
        ],
        payload: pattern(64),
      });
    t.send(block(0, 1), { address: '10.0.0.1', port: 5683 });
    t.send(block(2, 2), { address: '10.0.0.1', port: 5683 });
    await h.clock.advance(10);
    expect(got.map((d) => decodeMessage(d).code)).toEqual([Code.Continue, Code.RequestEntityIncomplete]);
  });

  it('keeps concurrent transfers from different clients and to different paths apart', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3, jitter: 10 });
    const server = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(1),
    });
    const got = new Map<string, string>();
    server.route('PUT', '/:name', (req) => {
      got.set(`${req.peer.address}/${req.params.name}`, toHex(req.payload));
      return { code: Code.Changed };
    });
    const clients = [1, 2, 3].map(
      (i) =>
        new CoapEndpoint({
          transport: network.bind(`10.0.1.${i}`, 0),
          clock,
          random: seededRandom(10 + i),
          parameters: { nstart: 4 },
        }),
    );
    const jobs: Promise<unknown>[] = [];
    for (const [i, c] of clients.entries()) {
      for (const name of ['a', 'b'])
        jobs.push(c.put(`coap://10.0.0.1/${name}`, pattern(3000, i * 10 + name.charCodeAt(0))));
    }
    await drive(clock, Promise.all(jobs));
    for (const [i] of clients.entries()) {
      for (const name of ['a', 'b']) {
        expect(got.get(`10.0.1.${i + 1}/${name}`)).toBe(toHex(pattern(3000, i * 10 + name.charCodeAt(0))));
      }
    }
  });

  it('Request-Tag separates two concurrent transfers from one client to one resource (RFC 9175 §3)', async () => {
    const h = harness({}, { parameters: { nstart: 4 } });
    const bodies: string[] = [];
    h.server.route('PUT', '/same', (req) => {
      bodies.push(toHex(req.payload));
      return { code: Code.Changed };
    });
    const a = pattern(2500, 1);
    const b = pattern(2500, 2);
    await drive(
      h.clock,
      Promise.all([h.client.put(`${h.serverUri}/same`, a), h.client.put(`${h.serverUri}/same`, b)]),
    );
    expect(bodies.sort()).toEqual([toHex(a), toHex(b)].sort());
  });

  it('streams blocks to a sink in order; the sink can refuse with a code', async () => {
    const h = harness();
    const chunks: [number, number, boolean][] = [];
    let handlerPayload = -1;
    h.server.route(
      'PUT',
      '/fw',
      (req) => {
        handlerPayload = req.payload.length;
        return { code: Code.Changed };
      },
      {
        blockSink: (_req, chunk, offset, more) => {
          chunks.push([offset, chunk.length, more]);
          if (offset >= 8192) throw new CoapStatusError(Code.RequestEntityTooLarge);
        },
      },
    );
    const r = await drive(h.clock, h.client.put(`${h.serverUri}/fw`, pattern(3000)));
    expect(r.code).toBe(Code.Changed);
    expect(chunks).toEqual([
      [0, 1024, true],
      [1024, 1024, true],
      [2048, 952, false],
    ]);
    expect(handlerPayload).toBe(0);
    const big = await drive(h.clock, h.client.put(`${h.serverUri}/fw`, pattern(10000)));
    expect(big.code).toBe(Code.RequestEntityTooLarge);
  });
});

describe('Block-wise under loss (RFC 7959 with RFC 7252 §4)', () => {
  it('1 MiB up with Block1 and down with Block2 are byte-exact with 20% loss, duplication and reordering', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({
      clock,
      seed: 99,
      loss: 0.2,
      duplication: 0.1,
      reorder: 0.1,
      delay: 2,
      jitter: 5,
      reorderDelay: 30,
    });
    const parameters = { maxRetransmit: 8 }; // see reliability.test.ts: 0.36^9 per exchange
    const server = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(5),
      parameters,
    });
    let stored = new Uint8Array(0);
    server.route('PUT', '/file', (req) => {
      stored = req.payload.slice();
      return { code: Code.Changed };
    });
    server.route('GET', '/file', () => ({ code: Code.Content, payload: stored }));
    const client = new CoapEndpoint({
      transport: network.bind('10.0.0.2', 0),
      clock,
      random: seededRandom(6),
      parameters,
    });
    const body = pattern(1024 * 1024, 5);
    const up = await drive(clock, client.put('coap://10.0.0.1/file', body), 48 * 3600_000);
    expect(up.code).toBe(Code.Changed);
    expect(toHex(stored.subarray(0, 64))).toBe(toHex(body.subarray(0, 64)));
    expect(stored.length).toBe(body.length);
    expect(Buffer.compare(stored, body)).toBe(0);
    const down = await drive(clock, client.get('coap://10.0.0.1/file'), 48 * 3600_000);
    expect(Buffer.compare(down.payload, body)).toBe(0);
    expect(network.stats.lost).toBeGreaterThan(500);
    expect(server.transfersInProgress).toBe(0);
    expect(fromHex('00').length).toBe(1);
  }, 120_000);
});

describe('Block2 one block at a time (resumable downloads)', () => {
  it('a request naming a Block2 block gets that block only, so a download can resume at any block', async () => {
    const h = harness();
    const body = pattern(3000);
    let calls = 0;
    h.server.route('GET', '/img', () => {
      calls++;
      return { code: Code.Content, payload: body, contentFormat: 42 };
    });
    const block = (num: number) =>
      drive(
        h.clock,
        h.client.request({
          uri: `${h.serverUri}/img`,
          options: [{ number: OptionNumber.Block2, value: encodeBlock({ num, more: false, szx: 6 }) }],
        }),
      );
    const second = await block(1);
    expect(decodeBlock(second.message.getUint(OptionNumber.Block2)!)).toMatchObject({ num: 1, more: true });
    expect(second.payload).toEqual(body.subarray(1024, 2048));
    const last = await block(2);
    expect(decodeBlock(last.message.getUint(OptionNumber.Block2)!)).toMatchObject({ num: 2, more: false });
    expect(last.payload).toEqual(body.subarray(2048));
    const first = await block(0);
    expect(first.payload).toEqual(body.subarray(0, 1024));
    // block 2 came from the snapshot block 1 left (consistent representation, §2.4)
    expect(calls).toBe(2);
  });

  it('a handler that sets Block2 itself serves its own blocks: sent as they are, no snapshot kept', async () => {
    const h = harness();
    const body = pattern(2500);
    const served: number[] = [];
    h.server.route('GET', '/own', (req) => {
      const asked = req.message.getUint(OptionNumber.Block2);
      const b = asked === undefined ? { num: 0, szx: 6 } : decodeBlock(asked);
      const size = 1 << (b.szx + 4);
      const offset = b.num * size;
      served.push(offset);
      const more = offset + size < body.length;
      return {
        code: Code.Content,
        payload: body.subarray(offset, offset + size),
        options: [{ number: OptionNumber.Block2, value: encodeBlock({ num: b.num, more, szx: b.szx }) }],
      };
    });
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/own`));
    expect(r.payload).toEqual(body);
    expect(served).toEqual([0, 1024, 2048]);
    expect(h.server.transfersInProgress).toBe(0);
  });
});

describe('two-way Block-wise: Block1 request answered with Block2 (RFC 7959 §2.6, Figure 10)', () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'iPATCH', 'FETCH'] as const) {
    it(`${method}: the whole response comes back, the action runs once, blocks carry the Request-Tag`, async () => {
      const h = harness({}, { blockSize: 64 });
      const body = pattern(300, 3);
      const answer = pattern(1280, 5);
      let calls = 0;
      let received: Uint8Array | undefined;
      h.server.route(method, '/options', (req) => {
        calls++;
        received = req.payload;
        return { code: method === 'FETCH' ? Code.Content : Code.Changed, payload: answer };
      });
      // watch the requests on the wire
      const seen: { block1?: number; block2?: number; tag?: string; payload: number }[] = [];
      const transmit = h.network.transmit.bind(h.network);
      h.network.transmit = (from, to, data) => {
        const m = decodeMessage(data);
        if (to.port === 5683 && m.code !== 0) {
          const tag = m.getOption(OptionNumber.RequestTag);
          seen.push({
            block1: m.getUint(OptionNumber.Block1),
            block2: m.getUint(OptionNumber.Block2),
            tag: tag === undefined ? undefined : toHex(tag),
            payload: m.payload.length,
          });
        }
        transmit(from, to, data);
      };
      const r = await drive(
        h.clock,
        h.client.request({ method, uri: `${h.serverUri}/options`, payload: body }),
      );
      expect(r.payload).toEqual(answer);
      expect(r.payload.length).toBe(1280);
      expect(received).toEqual(body);
      expect(calls).toBe(1);
      expect(seen.filter((s) => s.block1 !== undefined).length).toBe(5);
      const continued = seen.filter((s) => s.block2 !== undefined);
      expect(continued.map((s) => decodeBlock(s.block2!).num)).toEqual(
        Array.from({ length: 19 }, (_, i) => i + 1),
      );
      expect(continued.every((s) => s.block1 === undefined)).toBe(true);
      const tags = new Set(seen.map((s) => s.tag));
      expect(tags.size).toBe(1);
      expect([...tags][0]).toMatch(/^[0-9a-f]{8}$/);
      if (method !== 'FETCH') expect(continued.every((s) => s.payload === 0)).toBe(true);
      expect(h.server.transfersInProgress).toBe(0);
    });
  }

  it('POST without Block1 answered with Block2 is continued too (no payload repeated)', async () => {
    const h = harness({}, { blockSize: 64 });
    const answer = pattern(700, 9);
    let calls = 0;
    h.server.route('POST', '/act', () => {
      calls++;
      return { code: Code.Changed, payload: answer };
    });
    const r = await drive(h.clock, h.client.post(`${h.serverUri}/act`, 'go'));
    expect(r.payload).toEqual(answer);
    expect(calls).toBe(1);
  });
});
