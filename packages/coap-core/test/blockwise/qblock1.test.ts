import { createHash } from 'node:crypto';
import { drive } from '@thimble/test-support';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CoapEndpoint,
  Code,
  decodeMessage,
  decodeMissingBlocks,
  encodeMessage,
  encodeMissingBlocks,
  FakeClock,
  MemoryNetwork,
  type NetworkConditions,
  OptionNumber,
  type Peer,
  QBlock1Receiver,
  QBlock1Upload,
  QBlockError,
  type QBlockParameters,
  seededRandom,
} from '../../src/index.js';

const SERVER: Peer = { address: '10.0.0.1', port: 5683 };

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function firmware(size: number, seed: number): Uint8Array {
  const r = seededRandom(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 4) {
    const v = r.nextUint32();
    out[i] = v & 0xff;
    out[i + 1] = (v >>> 8) & 0xff;
    out[i + 2] = (v >>> 16) & 0xff;
    out[i + 3] = v >>> 24;
  }
  return out;
}

interface QBlockRun {
  clock: FakeClock;
  network: MemoryNetwork;
  upload: QBlock1Upload;
  received: Uint8Array[];
  receiver: QBlock1Receiver;
}

/**
 * A Q-Block1 client and server on an in-memory network (fake time): each side gives its messages an ID,
 * encodes them and puts them on the wire; what comes in is decoded and handed to the upload / receiver.
 */
function qblockRun(
  body: Uint8Array,
  conditions: NetworkConditions & { seed: number },
  parameters: Partial<QBlockParameters> = {},
): QBlockRun {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ ...conditions, clock });
  const st = network.bind(SERVER.address, SERVER.port);
  const ct = network.bind('10.0.1.1', 0);
  let serverMid = 1;
  let clientMid = 1;
  let tokens = 0;
  const received: Uint8Array[] = [];
  const receiver = new QBlock1Receiver({
    clock,
    parameters,
    maxBodySize: 2 << 20,
    send: (peer, m) => st.send(encodeMessage({ ...m, messageId: serverMid++ & 0xffff }), peer),
    complete: (whole) => {
      received.push(whole.slice());
      return { code: Code.Changed, payload: new TextEncoder().encode(sha256(whole)) };
    },
  });
  st.onDatagram((data, from) => {
    const m = decodeMessage(data);
    if (m.isRequest) receiver.receive(m, from);
  });
  const upload = new QBlock1Upload({
    code: Code.PUT,
    options: [{ number: OptionNumber.UriPath, value: 'fw' }],
    body,
    szx: 6,
    requestTag: Uint8Array.of(0x7a, 0x01),
    newToken: () => {
      const n = ++tokens;
      return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    },
    send: (m) => ct.send(encodeMessage({ ...m, messageId: clientMid++ & 0xffff }), SERVER),
    clock,
    random: seededRandom(conditions.seed + 1),
    parameters,
  });
  ct.onDatagram((data) => {
    const m = decodeMessage(data);
    if (m.isResponse) upload.receive(m);
  });
  return { clock, network, upload, received, receiver };
}

/** Runs a Q-Block1 upload to its end; returns the fake time it took (ms) and the response text. */
async function runQBlock(run: QBlockRun): Promise<{ ms: number; text: string }> {
  const t0 = run.clock.now();
  const outcome = await drive(run.clock, run.upload.start(), 24 * 3600_000);
  expect(outcome.kind).toBe('done');
  expect(outcome.response.code).toBe(Code.Changed);
  return { ms: run.clock.now() - t0, text: new TextDecoder().decode(outcome.response.payload) };
}

describe('missing-blocks list (RFC 9177 §5, CBOR Sequence of unsigned integers)', () => {
  it('round-trips any list of block numbers', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 50 }), (nums) => {
        expect(decodeMissingBlocks(encodeMissingBlocks(nums))).toEqual(nums);
      }),
    );
  });

  it('encodes in the shortest form (RFC 8949 §4.2.1) and rejects anything but uints', () => {
    expect([...encodeMissingBlocks([0, 23, 24, 255, 256, 65536])]).toEqual([
      0x00, 0x17, 0x18, 0x18, 0x18, 0xff, 0x19, 0x01, 0x00, 0x1a, 0x00, 0x01, 0x00, 0x00,
    ]);
    for (const bad of [[0x20], [0x18], [0x19, 0x01], [0x1b, 0, 0, 0, 0, 0, 0, 0, 1], [0x1c]]) {
      let error: unknown;
      try {
        decodeMissingBlocks(Uint8Array.from(bad));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(QBlockError);
      expect((error as QBlockError).reason).toBe('malformed-missing-list');
    }
  });
});

describe('Q-Block1 upload (RFC 9177 §4.3, §4.4, §7.2)', () => {
  it('sends a 100 KiB body in payload sets on a clean link, byte-exact, one 2.31 per set', async () => {
    const body = firmware(100 * 1024, 1);
    const run = qblockRun(body, { seed: 3, delay: 200 });
    const { ms, text } = await runQBlock(run);
    expect(run.received).toHaveLength(1);
    expect(sha256(run.received[0]!)).toBe(sha256(body));
    expect(text).toBe(sha256(body));
    // 100 blocks: the probe, then sets 0 (rest) … 9: one round trip each, no waits, no resends
    expect(run.upload.stats.sent).toBe(100);
    expect(run.upload.stats.resent).toBe(0);
    expect(run.upload.stats.timeouts).toBe(0);
    expect(run.upload.stats.continues).toBe(10);
    expect(ms).toBe(11 * 400);
    expect(run.receiver.pending).toBe(0);
  });

  it('recovers lost blocks from 4.08 missing-blocks lists (5 % loss each way)', async () => {
    const body = firmware(200 * 1024 + 17, 2);
    const run = qblockRun(body, { seed: 5, delay: 200, loss: 0.05 });
    await runQBlock(run);
    expect(run.network.stats.lost).toBeGreaterThan(0);
    expect(run.upload.stats.incompletes).toBeGreaterThan(0);
    expect(run.upload.stats.resent).toBeGreaterThan(0);
    expect(sha256(run.received[0]!)).toBe(sha256(body));
  });

  it('falls back: a server without Q-Block1 answers 4.02 (critical option) and the upload says so', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 9, delay: 10 });
    const server = new CoapEndpoint({ transport: network.bind(SERVER.address, SERVER.port), clock });
    const got: Uint8Array[] = [];
    server.route('PUT', '/fw', (req) => {
      got.push(req.payload.slice());
      return { code: Code.Changed };
    });
    const ct = network.bind('10.0.1.1', 0);
    let mid = 1;
    const upload = new QBlock1Upload({
      code: Code.PUT,
      options: [{ number: OptionNumber.UriPath, value: 'fw' }],
      body: firmware(5000, 4),
      szx: 6,
      requestTag: Uint8Array.of(1),
      newToken: () => Uint8Array.of(mid),
      send: (m) => ct.send(encodeMessage({ ...m, messageId: mid++ }), SERVER),
      clock,
      random: seededRandom(1),
    });
    ct.onDatagram((data) => upload.receive(decodeMessage(data)));
    const outcome = await drive(clock, upload.start());
    expect(outcome.kind).toBe('unsupported');
    expect(outcome.response.code).toBe(Code.BadOption);
    expect(upload.stats.sent).toBe(1); // only the probe went out
    expect(got).toHaveLength(0); // the server's handler never saw a partial body
    await ct.close();
    // The caller then sends the body with Block1 (RFC 7959) through its endpoint.
    const client = new CoapEndpoint({ transport: network.bind('10.0.1.2', 0), clock });
    const body = firmware(5000, 4);
    const res = await drive(clock, client.put('coap://10.0.0.1/fw', body));
    expect(res.code).toBe(Code.Changed);
    expect(sha256(got[0]!)).toBe(sha256(body));
  });

  it('gives up with QBlockError timeout when the server never answers', async () => {
    const run = qblockRun(firmware(3000, 6), { seed: 1, delay: 10, loss: 1 });
    const error = await drive(run.clock, run.upload.start()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QBlockError);
    expect((error as QBlockError).reason).toBe('timeout');
    expect(run.upload.stats.timeouts).toBe(5); // NON_MAX_RETRANSMIT = 4 retransmissions, then give up
  });
});

describe('1 MiB firmware push on a slow lossy link: 200 ms each way, 5 % loss (RFC 9177 vs RFC 7959)', () => {
  /** Fake time (ms) of a 1 MiB Block1 PUT through two endpoints (RFC 7959, CON, one block per round trip). */
  async function block1Push(body: Uint8Array, seed: number): Promise<number> {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ delay: 200, loss: 0.05, clock, seed });
    const parameters = { maxRetransmit: 8 };
    const server = new CoapEndpoint({
      transport: network.bind(SERVER.address, SERVER.port),
      clock,
      random: seededRandom(seed + 2),
      parameters,
    });
    let got: Uint8Array | undefined;
    server.route('PUT', '/fw', (req) => {
      got = req.payload.slice();
      return { code: Code.Changed };
    });
    const client = new CoapEndpoint({
      transport: network.bind('10.0.1.1', 0),
      clock,
      random: seededRandom(seed + 3),
      parameters,
    });
    const res = await drive(clock, client.put('coap://10.0.0.1/fw', body), 24 * 3600_000);
    expect(res.code).toBe(Code.Changed);
    expect(sha256(got!)).toBe(sha256(body));
    return clock.now();
  }

  it('Q-Block1 is at least 10× faster than Block1 (median of 5 seeded links), every push byte-exact (SHA-256)', async () => {
    const body = firmware(1024 * 1024, 21);
    const digest = sha256(body);
    const ratios: number[] = [];
    const lines: string[] = [];
    for (const seed of [1, 2, 3, 4, 5]) {
      const run = qblockRun(body, { delay: 200, loss: 0.05, seed });
      const q = await runQBlock(run);
      expect(sha256(run.received[0]!)).toBe(digest);
      expect(q.text).toBe(digest);
      const blockMs = await block1Push(body, seed);
      ratios.push(blockMs / q.ms);
      lines.push(
        `seed ${seed}: Block1 ${(blockMs / 1000).toFixed(1)} s, Q-Block1 ${(q.ms / 1000).toFixed(1)} s, ${(blockMs / q.ms).toFixed(1)}×`,
      );
    }
    console.log(`1 MiB push, 200 ms each way, 5 % loss (fake time)\n${lines.join('\n')}`);
    const sorted = ratios.slice().sort((a, b) => a - b);
    expect(sorted[2]!).toBeGreaterThanOrEqual(10);
    expect(sorted[0]!).toBeGreaterThanOrEqual(8);
  }, 120_000);

  it('Q-Block1 still completes with 20 % loss each way, byte-exact', async () => {
    const body = firmware(1024 * 1024, 22);
    const run = qblockRun(body, { seed: 2020, delay: 200, loss: 0.2 }, { nonMaxRetransmit: 8 });
    const q = await runQBlock(run);
    expect(sha256(run.received[0]!)).toBe(sha256(body));
    expect(run.network.stats.lost).toBeGreaterThan(200);
    console.log(
      `1 MiB Q-Block1 push, 20 % loss: ${(q.ms / 1000).toFixed(1)} s fake time, ${run.upload.stats.resent} blocks resent, ${run.network.stats.sent} datagrams`,
    );
  }, 120_000);
});

describe('Q-Block1 receiver: bad input and bounds (RFC 9177 §4.4, RFC 7959 §2.9.3)', () => {
  const peer: Peer = { address: '10.0.9.9', port: 1234 };
  function receiver(maxBodySize = 4096) {
    const sent: { code: number; options: readonly { number: number; value: unknown }[] }[] = [];
    const r = new QBlock1Receiver({
      clock: new FakeClock(),
      maxBodySize,
      send: (_p, m) => sent.push({ code: m.code, options: m.options ?? [] }),
      complete: () => ({ code: Code.Changed }),
    });
    return { r, sent };
  }
  const block = (qblock1: number, payload: Uint8Array, extra: { number: number; value: number }[] = []) =>
    decodeMessage(
      encodeMessage({
        type: 1,
        code: Code.PUT,
        messageId: 1,
        token: Uint8Array.of(1),
        options: [{ number: OptionNumber.QBlock1, value: qblock1 }, ...extra],
        payload,
      }),
    );

  it('ignores requests without Q-Block1 (returns false)', () => {
    const { r, sent } = receiver();
    const m = decodeMessage(
      encodeMessage({ type: 1, code: Code.PUT, messageId: 1, payload: Uint8Array.of(1) }),
    );
    expect(r.receive(m, peer)).toBe(false);
    expect(sent).toHaveLength(0);
  });

  it('answers 4.00 to BERT (SZX 7) on UDP and to a short non-final block', () => {
    const { r, sent } = receiver();
    expect(r.receive(block((0 << 4) | 8 | 7, new Uint8Array(1024)), peer)).toBe(true);
    expect(r.receive(block((0 << 4) | 8 | 2, new Uint8Array(10)), peer)).toBe(true); // M set, 10 of 64 bytes
    expect(sent.map((s) => s.code)).toEqual([Code.BadRequest, Code.BadRequest]);
    expect(r.pending).toBe(0);
  });

  it('answers 4.13 with Size1 to a body beyond maxBodySize (Size1 or block offset)', () => {
    const { r, sent } = receiver(1000);
    r.receive(
      block((0 << 4) | 8 | 6, new Uint8Array(1024), [{ number: OptionNumber.Size1, value: 5000 }]),
      peer,
    );
    r.receive(block((3 << 4) | 8 | 6, new Uint8Array(1024)), peer);
    expect(sent.map((s) => s.code)).toEqual([Code.RequestEntityTooLarge, Code.RequestEntityTooLarge]);
    expect(sent[0]!.options).toContainEqual({ number: OptionNumber.Size1, value: 1000 });
    expect(r.pending).toBe(0);
  });

  it('keeps at most maxTransfers bodies in progress', () => {
    const clock = new FakeClock();
    const r = new QBlock1Receiver({
      clock,
      maxTransfers: 2,
      send: () => {},
      complete: () => ({ code: Code.Changed }),
    });
    for (let tag = 0; tag < 5; tag++) {
      r.receive(
        block((0 << 4) | 8 | 6, new Uint8Array(1024), [{ number: OptionNumber.RequestTag, value: tag + 1 }]),
        peer,
      );
    }
    expect(r.pending).toBe(2);
    r.close();
    expect(r.pending).toBe(0);
  });
});

describe('Q-Block1 upload: a malformed 4.08 (RFC 9177 §5)', () => {
  it('ends the upload with QBlockError malformed-missing-list', async () => {
    const clock = new FakeClock();
    const tokens: Uint8Array[] = [];
    const upload = new QBlock1Upload({
      code: Code.PUT,
      options: [],
      body: new Uint8Array(3000),
      szx: 6,
      requestTag: Uint8Array.of(1),
      newToken: () => Uint8Array.of(tokens.length + 1),
      send: (m) => tokens.push(m.token!),
      clock,
      random: seededRandom(1),
    });
    const done = upload.start().catch((e: unknown) => e);
    const response = decodeMessage(
      encodeMessage({
        type: 1,
        code: Code.RequestEntityIncomplete,
        messageId: 9,
        token: tokens[0]!,
        options: [{ number: OptionNumber.ContentFormat, value: 272 }],
        payload: Uint8Array.of(0x20),
      }),
    );
    expect(upload.receive(response)).toBe(true);
    const error = await done;
    expect(error).toBeInstanceOf(QBlockError);
    expect((error as QBlockError).reason).toBe('malformed-missing-list');
    expect(
      upload.receive(
        decodeMessage(encodeMessage({ type: 1, code: 0x44, messageId: 2, token: Uint8Array.of(99) })),
      ),
    ).toBe(false);
  });
});
