import { CoapEndpoint, FakeClock, MemoryNetwork, seededRandom } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { Fleet, Lwm2mServer, type Registration } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createUdpFleet, fileDescriptorLimit } from '../../src/node/fleet.js';

const SERVER = '10.0.0.1';

function memorySetup(seed = 3) {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed });
  const serverEndpoint = new CoapEndpoint({
    transport: network.bind(SERVER, 5683),
    clock,
    random: seededRandom(1),
  });
  const server = new Lwm2mServer({ endpoint: serverEndpoint, clock, random: seededRandom(7) });
  const registered: { r: Registration; at: number }[] = [];
  const deregistered: Registration[] = [];
  server.on('registered', (r) => registered.push({ r, at: clock.now() }));
  server.on('deregistered', (r) => deregistered.push(r));
  // one address per device: the server reaches each device where its registration came from
  const createEndpoint = (i: number) =>
    new CoapEndpoint({
      transport: network.bind(`10.1.${i >> 8}.${i & 255}`, 56830),
      clock,
      random: seededRandom(1000 + i),
    });
  return { clock, network, server, registered, deregistered, createEndpoint };
}

describe('Fleet on the in-memory network', () => {
  it('registers every device at the configured rate, with extra objects from setup(), and de-registers them on stop', async () => {
    const s = memorySetup();
    const setupCalls: number[] = [];
    const fleet = new Fleet({
      count: 60,
      serverUri: `coap://${SERVER}:5683`,
      prefix: 'dev',
      rate: 20,
      maxInFlight: 10,
      lifetime: 120,
      clock: s.clock,
      random: seededRandom(9),
      createEndpoint: s.createEndpoint,
      setup: (client, index) => {
        setupCalls.push(index);
        client.addInstance(5, 0, { 3: 0, 5: 0 });
      },
    });
    fleet.start();
    await s.clock.runUntil(() => fleet.stats().everRegistered === 60, 120_000);
    const stats = fleet.stats();
    expect(stats).toMatchObject({ count: 60, started: 60, registered: 60, failed: 0, errors: 0 });
    expect(stats.allRegisteredAt).toBeDefined();
    expect(setupCalls.sort((a, b) => a - b)).toEqual([...Array(60).keys()]);
    // 60 devices at 20/s: the last one starts about 3 s after the first
    const times = s.registered.map((e) => e.at);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(2900);
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(4500);
    // names are zero-padded and unique; each registration has its own peer; the extra object is there
    const names = new Set(s.registered.map((e) => e.r.endpoint));
    expect(names.size).toBe(60);
    expect(names.has('dev-00')).toBe(true);
    expect(names.has('dev-59')).toBe(true);
    const peers = new Set(s.registered.map((e) => `${e.r.peer.address}:${e.r.peer.port}`));
    expect(peers.size).toBe(60);
    const r7 = s.server.registration('dev-07')!;
    expect(r7.lifetime).toBe(120);
    expect(r7.objects.map((o) => o.path.join('/'))).toEqual(
      expect.arrayContaining(['1/0', '3/0', '3303/0', '5/0']),
    );
    // the server manages a device of the fleet
    let manufacturer: unknown;
    void s.server.read('dev-07', '/3/0/0').then((n) => {
      manufacturer = n.kind === 'resource' ? n.value : undefined;
    });
    await s.clock.runUntil(() => manufacturer !== undefined, 10_000);
    expect(manufacturer).toBe('Thimble');
    expect(fleet.device(7)?.name).toBe('dev-07');
    // stop: every device de-registers
    let stopped = false;
    void fleet.stop().then(() => {
      stopped = true;
    });
    await s.clock.runUntil(() => stopped, 60_000);
    expect(s.deregistered.length).toBe(60);
    expect(s.server.registrations().length).toBe(0);
  });

  /**
   * A fleet of `count` devices on a network with `delay` ms one-way, registered and then stopped; `most` is
   * the largest number of devices registering (set up, not yet registered) at once.
   */
  async function ramp(delay: number, count: number, rate: number, maxInFlight: number) {
    const s = memorySetup();
    s.network.conditions = { delay };
    let outstanding = 0;
    let most = 0;
    const fleet = new Fleet({
      count,
      serverUri: `coap://${SERVER}:5683`,
      rate,
      maxInFlight,
      clock: s.clock,
      createEndpoint: s.createEndpoint,
      setup: (client) => {
        outstanding++;
        most = Math.max(most, outstanding);
        client.on('registered', () => outstanding--);
      },
    });
    fleet.start();
    await s.clock.runUntil(() => fleet.stats().everRegistered === count, 120_000);
    const stats = fleet.stats();
    let stopped = false;
    void fleet.stop().then(() => {
      stopped = true;
    });
    await s.clock.runUntil(() => stopped, 60_000);
    return { most, stats };
  }

  it('never has more than maxInFlight registrations waiting for an answer', async () => {
    // 200 ms one-way: answers take 400 ms, so an unbounded ramp at 1000/s would have ~400 in flight
    const { most } = await ramp(200, 100, 1000, 8);
    expect(most).toBeLessThanOrEqual(8);
    expect(most).toBeGreaterThanOrEqual(4);
  });

  it('without a rate limit, an answered Register starts the next device at once (no polling)', async () => {
    // 3 ms one-way: a Register is answered 6 ms after it leaves
    const { most, stats } = await ramp(3, 40, Number.POSITIVE_INFINITY, 4);
    expect(most).toBe(4);
    // ten waves of four, each a 6 ms round trip: about 60 ms (a 10 ms poll for free slots made it ~100)
    expect(stats.allRegisteredAt! - stats.firstStartAt!).toBeLessThan(80);
  });

  it('moves the temperatures of its devices over time (one fleet timer)', async () => {
    const s = memorySetup();
    const fleet = new Fleet({
      count: 10,
      serverUri: `coap://${SERVER}:5683`,
      rate: 100,
      temperatureInterval: 5,
      clock: s.clock,
      createEndpoint: s.createEndpoint,
    });
    fleet.start();
    await s.clock.runUntil(() => fleet.stats().everRegistered === 10, 60_000);
    const before = [...fleet.all()].map((d) => d.client.get('/3303/0/5700'));
    await s.clock.advance(20_000);
    const after = [...fleet.all()].map((d) => d.client.get('/3303/0/5700'));
    expect(after.filter((v, i) => v !== before[i]).length).toBeGreaterThanOrEqual(8);
    for (const v of after) expect(v).toBeGreaterThanOrEqual(18);
    let stopped = false;
    void fleet.stop().then(() => {
      stopped = true;
    });
    await s.clock.runUntil(() => stopped, 60_000);
  });

  it('keeps ramping when the server does not answer: errors are counted, slots are freed', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 1 });
    const fleet = new Fleet({
      count: 20,
      serverUri: `coap://${SERVER}:5683`,
      rate: 100,
      maxInFlight: 4,
      requestTimeout: 1000,
      retry: { count: 2, timer: 1, sequenceDelay: 1, sequenceCount: 1 },
      clock,
      createEndpoint: (i) =>
        new CoapEndpoint({ transport: network.bind(`10.1.0.${i}`, 56830), clock, random: seededRandom(i) }),
    });
    const failed: number[] = [];
    fleet.on('failed', (i) => failed.push(i));
    let complete = false;
    void fleet.whenComplete().then(() => {
      complete = true;
    });
    fleet.start();
    await clock.runUntil(() => complete, 600_000);
    const st = fleet.stats();
    expect(st.started).toBe(20);
    expect(st.registered).toBe(0);
    expect(st.failed).toBe(20);
    expect(failed.length).toBe(20);
    expect(st.errors).toBeGreaterThanOrEqual(40);
    expect(st.allRegisteredAt).toBeUndefined();
    let stopped = false;
    void fleet.stop().then(() => {
      stopped = true;
    });
    await clock.runUntil(() => stopped, 60_000);
  });

  it('prepare() builds every device first; start() then only registers', async () => {
    const s = memorySetup();
    const fleet = new Fleet({
      count: 30,
      serverUri: `coap://${SERVER}:5683`,
      rate: Number.POSITIVE_INFINITY,
      maxInFlight: 16,
      clock: s.clock,
      createEndpoint: (i) => {
        if (i === 4) throw new Error('no socket');
        return s.createEndpoint(i);
      },
    });
    let prepared = false;
    void fleet.prepare(8).then(() => {
      prepared = true;
    });
    await s.clock.runUntil(() => prepared, 10_000);
    expect([...fleet.all()].length).toBe(29);
    expect(fleet.stats()).toMatchObject({ started: 0, registered: 0, failed: 1 });
    await s.clock.advance(5000);
    expect(s.registered.length).toBe(0);
    fleet.start();
    await s.clock.runUntil(() => fleet.stats().everRegistered === 29, 60_000);
    expect(fleet.stats()).toMatchObject({ started: 29, registered: 29, failed: 1 });
    let stopped = false;
    void fleet.stop().then(() => {
      stopped = true;
    });
    await s.clock.runUntil(() => stopped, 60_000);
  });

  it('reports a device whose endpoint cannot be created as failed', async () => {
    const s = memorySetup();
    const fleet = new Fleet({
      count: 3,
      serverUri: `coap://${SERVER}:5683`,
      clock: s.clock,
      createEndpoint: (i) => {
        if (i === 1) throw new Error('no socket');
        return s.createEndpoint(i);
      },
    });
    fleet.start();
    await s.clock.runUntil(() => fleet.stats().everRegistered + fleet.stats().failed === 3, 60_000);
    expect(fleet.stats()).toMatchObject({ registered: 2, failed: 1 });
    let stopped = false;
    void fleet.stop().then(() => {
      stopped = true;
    });
    await s.clock.runUntil(() => stopped, 60_000);
  });
});

describe('Fleet on UDP (Node adapter)', () => {
  it('gives every device its own socket; the server reaches each one at its registration address', async () => {
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const server = new Lwm2mServer({ endpoint });
    const fleet = createUdpFleet({
      count: 25,
      serverUri: `coap://127.0.0.1:${endpoint.transport.local.port}`,
      prefix: 'udp',
      rate: 200,
    });
    try {
      fleet.start();
      await fleet.whenComplete();
      expect(fleet.stats()).toMatchObject({ registered: 25, failed: 0 });
      const regs = server.registrations();
      expect(regs.length).toBe(25);
      expect(new Set(regs.map((r) => r.peer.port)).size).toBe(25);
      for (const r of regs) expect(r.peer.address).toBe('127.0.0.1');
      const node = await server.read('udp-13', '/3/0/2', { timeout: 2000 });
      expect(node.kind === 'resource' && node.value).toBe('TF-13');
    } finally {
      await fleet.stop();
      server.close();
      await endpoint.close();
    }
    expect(server.registrations().length).toBe(0);
  });

  it('reads the open-file limit on Linux', () => {
    const limit = fileDescriptorLimit();
    if (process.platform === 'linux') expect(limit).toBeGreaterThan(0);
  });
});

describe('lwm2m fleet command', () => {
  it('rejects bad arguments with exit code 2', async () => {
    let err = '';
    const io = { stdout: { write: () => true }, stderr: { write: (d: string) => (err += d) } };
    expect(await main(['fleet'], io)).toBe(2);
    expect(err).toContain('--count and --server are required');
    expect(await main(['fleet', '-n', '0', '-s', 'coap://127.0.0.1:5683'], io)).toBe(2);
    expect(await main(['fleet', '-n', '5', '-s', 'http://127.0.0.1:5683'], io)).toBe(2);
    expect(await main(['fleet', '-n', '999999999', '-s', 'coap://127.0.0.1:5683'], io)).toBe(2);
    expect(err).toContain('open-file limit');
  });

  it('--json reports progress as JSON lines', async () => {
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const server = new Lwm2mServer({ endpoint });
    let out = '';
    const io = { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (out += d) } };
    const controller = new AbortController();
    const port = endpoint.transport.local.port;
    const run = main(
      ['fleet', '-n', '4', '-s', `coap://127.0.0.1:${port}`, '--json', '--progress', '0.1'],
      io,
      controller.signal,
    );
    try {
      const end = Date.now() + 10_000;
      while (!out.includes('"phase":"registered"') && Date.now() < end)
        await new Promise((r) => setTimeout(r, 20));
      controller.abort();
      expect(await run).toBe(0);
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { phase: string; registered: number; rss: number; count: number });
      const done = lines.find((l) => l.phase === 'registered')!;
      expect(done).toMatchObject({ registered: 4, count: 4 });
      expect(done.rss).toBeGreaterThan(0);
      expect(lines[lines.length - 1]!.phase).toBe('stopped');
    } finally {
      controller.abort();
      server.close();
      await endpoint.close();
    }
  });

  it('registers N devices, logs progress and de-registers them all when stopped', async () => {
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const server = new Lwm2mServer({ endpoint });
    let deregistered = 0;
    server.on('deregistered', () => deregistered++);
    let out = '';
    const io = { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (out += d) } };
    const controller = new AbortController();
    const run = main(
      [
        'fleet',
        '--count',
        '12',
        '--server',
        `coap://127.0.0.1:${endpoint.transport.local.port}`,
        '--prefix',
        'cli',
        '--rate',
        '100',
        '--progress',
        '0.2',
      ],
      io,
      controller.signal,
    );
    try {
      const end = Date.now() + 10_000;
      while (server.registrations().length < 12 && Date.now() < end)
        await new Promise((r) => setTimeout(r, 20));
      expect(server.registrations().length).toBe(12);
      expect(server.registration('cli-11')).toBeDefined();
      controller.abort();
      expect(await run).toBe(0);
      expect(deregistered).toBe(12);
      expect(out).toContain('all 12 devices registered');
      expect(out).toMatch(/de-registering 12 devices/);
    } finally {
      controller.abort();
      server.close();
      await endpoint.close();
    }
  });
});
