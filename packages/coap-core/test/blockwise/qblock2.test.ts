import { createHash } from 'node:crypto';
import { drive } from '@thimble/test-support';
import { describe, expect, it } from 'vitest';
import {
  CoapEndpoint,
  Code,
  decodeMessage,
  encodeMessage,
  FakeClock,
  MemoryNetwork,
  type NetworkConditions,
  OptionNumber,
  type Peer,
  QBlock2Download,
  QBlock2Sender,
  QBlockError,
  seededRandom,
} from '../../src/index.js';

const SERVER: Peer = { address: '10.0.0.1', port: 5683 };
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function representation(size: number, seed: number): Uint8Array {
  const r = seededRandom(seed);
  return r.fill(new Uint8Array(size));
}

/** A Q-Block2 server (QBlock2Sender) and client (QBlock2Download) on an in-memory network, fake time. */
function q2Run(body: Uint8Array, conditions: NetworkConditions & { seed: number }) {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ ...conditions, clock });
  const st = network.bind(SERVER.address, SERVER.port);
  const ct = network.bind('10.0.1.1', 0);
  let smid = 1;
  let cmid = 1;
  let tokens = 0;
  let represented = 0;
  const sender = new QBlock2Sender({
    clock,
    send: (peer, m) => st.send(encodeMessage({ ...m, messageId: smid++ & 0xffff }), peer),
    represent: () => {
      represented++;
      return { code: Code.Content, payload: body, contentFormat: 42 };
    },
  });
  st.onDatagram((data, from) => {
    const m = decodeMessage(data);
    if (m.isRequest) sender.receive(m, from);
  });
  const download = new QBlock2Download({
    code: Code.GET,
    options: [{ number: OptionNumber.UriPath, value: 'fw' }],
    szx: 6,
    newToken: () => {
      const n = ++tokens;
      return Uint8Array.of(n >>> 8, n & 0xff);
    },
    send: (m) => ct.send(encodeMessage({ ...m, messageId: cmid++ & 0xffff }), SERVER),
    clock,
  });
  ct.onDatagram((data) => {
    const m = decodeMessage(data);
    if (m.isResponse) download.receive(m);
  });
  return { clock, network, sender, download, represented: () => represented };
}

describe('Q-Block2 download (RFC 9177 §4.5, §7.2)', () => {
  it('fetches 100 KiB in payload sets on a clean link, byte-exact, one snapshot', async () => {
    const body = representation(100 * 1024 + 5, 1);
    const run = q2Run(body, { seed: 1, delay: 200 });
    const outcome = await drive(run.clock, run.download.start());
    expect(outcome.kind).toBe('done');
    if (outcome.kind !== 'done') return;
    expect(outcome.code).toBe(Code.Content);
    expect(outcome.contentFormat).toBe(42);
    expect(sha256(outcome.payload)).toBe(sha256(body));
    expect(run.download.stats.requests).toBe(11); // block 0 set, then one "continue" per set
    expect(run.download.stats.timeouts).toBe(0);
    expect(run.sender.sent).toBe(101);
    expect(run.represented()).toBe(1);
    expect(run.clock.now()).toBe(11 * 400);
  });

  it('recovers lost blocks by asking for them (5 % loss each way), 1 MiB byte-exact, faster than Block2', async () => {
    const body = representation(1024 * 1024, 2);
    const run = q2Run(body, { seed: 5, delay: 200, loss: 0.05 });
    const outcome = await drive(run.clock, run.download.start(), 24 * 3600_000);
    expect(outcome.kind).toBe('done');
    if (outcome.kind !== 'done') return;
    expect(sha256(outcome.payload)).toBe(sha256(body));
    expect(run.download.stats.missingRequests).toBeGreaterThan(0);
    const qMs = run.clock.now();

    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 5, delay: 200, loss: 0.05 });
    const parameters = { maxRetransmit: 8 };
    const server = new CoapEndpoint({
      transport: network.bind(SERVER.address, SERVER.port),
      clock,
      parameters,
    });
    server.route('GET', '/fw', () => ({ code: Code.Content, payload: body }));
    const client = new CoapEndpoint({ transport: network.bind('10.0.1.1', 0), clock, parameters });
    const res = await drive(clock, client.get('coap://10.0.0.1/fw'), 24 * 3600_000);
    expect(sha256(res.payload)).toBe(sha256(body));
    const bMs = clock.now();
    console.log(
      `1 MiB GET, 200 ms each way, 5 % loss: Block2 ${(bMs / 1000).toFixed(1)} s, Q-Block2 ${(qMs / 1000).toFixed(1)} s, ${(bMs / qMs).toFixed(1)}×`,
    );
    expect(bMs / qMs).toBeGreaterThanOrEqual(5);
  }, 60_000);

  it('falls back: a server without Q-Block2 answers 4.02 (critical option)', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3, delay: 10 });
    const server = new CoapEndpoint({ transport: network.bind(SERVER.address, SERVER.port), clock });
    server.route('GET', '/fw', () => ({ code: Code.Content, payload: 'x' }));
    const ct = network.bind('10.0.1.1', 0);
    let mid = 1;
    const download = new QBlock2Download({
      code: Code.GET,
      options: [{ number: OptionNumber.UriPath, value: 'fw' }],
      szx: 6,
      newToken: () => Uint8Array.of(mid),
      send: (m) => ct.send(encodeMessage({ ...m, messageId: mid++ }), SERVER),
      clock,
    });
    ct.onDatagram((data) => download.receive(decodeMessage(data)));
    const outcome = await drive(clock, download.start());
    expect(outcome.kind).toBe('unsupported');
  });

  it('gives up with QBlockError timeout when nothing comes back', async () => {
    const run = q2Run(representation(3000, 3), { seed: 1, delay: 10, loss: 1 });
    const error = await drive(run.clock, run.download.start()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QBlockError);
    expect((error as QBlockError).reason).toBe('timeout');
  });
});
