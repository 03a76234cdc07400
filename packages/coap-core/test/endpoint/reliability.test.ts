import { describe, expect, it } from 'vitest';
import { CoapEndpoint, Code, FakeClock, MemoryNetwork, seededRandom } from '../../src/index.js';
import { drive } from './harness.js';

describe('reliability on a lossy network (RFC 7252 §4.2, §4.5)', () => {
  it('1,000 CON requests with 20% loss, 10% duplication and reordering: each handled exactly once, each answered', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({
      clock,
      seed: 20261125,
      loss: 0.2,
      duplication: 0.1,
      reorder: 0.2,
      delay: 5,
      jitter: 20,
      reorderDelay: 50,
    });
    // With 20% loss each way an attempt fails 36% of the time; the RFC default MAX_RETRANSMIT = 4
    // gives up on ~0.6% of exchanges (0.36^5). Eight retransmissions make that ~1e-4 per exchange.
    const parameters = { maxRetransmit: 8 };
    const server = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(11),
      parameters,
    });
    const handled = new Map<string, number>();
    server.route('POST', '/work', (req) => {
      const id = req.text();
      handled.set(id, (handled.get(id) ?? 0) + 1);
      return { code: Code.Changed, payload: `done ${id}` };
    });
    const clients = Array.from(
      { length: 10 },
      (_, i) =>
        new CoapEndpoint({
          transport: network.bind(`10.0.1.${i}`, 0),
          clock,
          random: seededRandom(100 + i),
          parameters,
        }),
    );
    const requests: Promise<string>[] = [];
    for (let i = 0; i < 1000; i++) {
      const client = clients[i % clients.length]!;
      requests.push(client.post('coap://10.0.0.1/work', String(i)).then((r) => r.text()));
    }
    const answers = await drive(clock, Promise.all(requests), 24 * 3600_000);
    expect(answers).toEqual(Array.from({ length: 1000 }, (_, i) => `done ${i}`));
    expect(handled.size).toBe(1000);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(network.stats.lost).toBeGreaterThan(300);
    expect(network.stats.duplicated).toBeGreaterThan(100);
    expect(network.stats.reordered).toBeGreaterThan(100);
    for (const c of clients) expect(c.pendingRequests).toBe(0);
  }, 60_000);
});
