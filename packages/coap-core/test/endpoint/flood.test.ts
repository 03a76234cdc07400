/**
 * 100,000 random and mutated datagrams against a running UDP server: nothing crashes, state stays
 * bounded, and once the exchange lifetime has passed memory is back to its baseline (RFC 7252 §4.2,
 * docs/ARCHITECTURE.md, "Bad input is normal input", "Bounded everything").
 */
import { createSocket } from 'node:dgram';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  Code,
  encodeMessage,
  exchangeLifetime,
  FakeClock,
  MessageType,
  OptionNumber,
  seededRandom,
} from '../../src/index.js';
import { createUdpEndpoint } from '../../src/node.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

describe('flood of random and mutated datagrams', () => {
  it('100,000 datagrams: no crash, bounded state, memory back to baseline', async () => {
    const clock = new FakeClock(Date.now());
    const limits = { maxDedupEntries: 5_000, maxDedupPerPeer: 2_000, maxPeers: 100 };
    const server = await createUdpEndpoint({ address: '127.0.0.1', port: 0, clock, limits });
    server.route('GET', '/r/:id', (req) => ({ code: Code.Content, payload: `r${req.params.id}` }));
    server.route('PUT', '/r/:id', async (req) => ({ code: Code.Changed, payload: req.payload }));
    const port = server.local.port;
    const random = seededRandom(424242);
    const valid = [
      encodeMessage({
        type: MessageType.CON,
        code: Code.GET,
        messageId: 1,
        token: Uint8Array.of(1, 2, 3, 4),
        options: [
          { number: OptionNumber.UriPath, value: 'r' },
          { number: OptionNumber.UriPath, value: '7' },
          { number: OptionNumber.Accept, value: 0 },
        ],
      }),
      encodeMessage({
        type: MessageType.NON,
        code: Code.PUT,
        messageId: 2,
        token: Uint8Array.of(9),
        options: [
          { number: OptionNumber.UriPath, value: 'r' },
          { number: OptionNumber.UriPath, value: '1' },
          { number: OptionNumber.ContentFormat, value: 0 },
        ],
        payload: new Uint8Array(40).fill(0x41),
      }),
    ];
    const sockets = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<ReturnType<typeof createSocket>>((resolve) => {
            const s = createSocket('udp4');
            s.on('message', () => {}); // replies are not interesting here
            s.bind(0, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    const datagram = (i: number): Uint8Array => {
      const kind = random.nextUint32() % 4;
      if (kind === 0) return random.fill(new Uint8Array(random.nextUint32() % 64));
      const base = valid[i % valid.length]!.slice();
      base[2] = (i >>> 8) & 0xff; // fresh message IDs: exercise deduplication state
      base[3] = i & 0xff;
      if (kind === 1) return base;
      const flips = 1 + (random.nextUint32() % 4);
      for (let f = 0; f < flips; f++) base[random.nextUint32() % base.length] = random.nextUint32() & 0xff;
      return kind === 2 ? base : base.subarray(0, random.nextUint32() % base.length);
    };
    // Warm up so lazily created structures exist before the baseline is taken.
    for (let i = 0; i < 2000; i++) sockets[i % 4]!.send(datagram(i), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    await clock.advance(exchangeLifetime(server.messaging.parameters) + 10_000);
    await clock.advance(exchangeLifetime(server.messaging.parameters) + 10_000);
    const baseline = heapAfterGc();

    const total = 100_000;
    for (let i = 0; i < total; i++) {
      sockets[i % 4]!.send(datagram(i), port, '127.0.0.1');
      if (i % 500 === 499) await new Promise((r) => setImmediate(r)); // let the server drain its socket
    }
    await new Promise((r) => setTimeout(r, 500));
    const during = server.messaging.stats();
    expect(during.dedupEntries).toBeGreaterThan(1_000); // the flood did arrive
    expect(during.dedupEntries).toBeLessThanOrEqual(limits.maxDedupEntries);
    expect(during.peers).toBeLessThanOrEqual(limits.maxPeers);

    // still serving
    const client = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const r = await client.get(`coap://127.0.0.1:${port}/r/42`, { timeout: 5000 });
    expect(r.text()).toBe('r42');
    await client.close();

    // after the exchange lifetime everything is forgotten and the heap is back near its baseline
    await clock.advance(exchangeLifetime(server.messaging.parameters) + 10_000);
    await clock.advance(exchangeLifetime(server.messaging.parameters) + 10_000);
    const after = server.messaging.stats();
    expect(after.dedupEntries).toBe(0);
    expect(after.inflight).toBe(0);
    const growth = heapAfterGc() - baseline;
    expect(growth).toBeLessThan(4 * 1024 * 1024);
    for (const s of sockets) s.close();
    await server.close();
  }, 60_000);
});
