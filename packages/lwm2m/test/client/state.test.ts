/**
 * Restart from stored state: the bootstrap result (objects 0, 1, 21) and the registrations survive a
 * reboot, so the client resumes its registration with an Update (TS Core 1.1 §6.2.2) and never needs
 * bootstrapping again while it has server accounts (§6.1).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoapEndpoint, Code, FakeClock, MemoryNetwork, seededRandom } from '@thimble/coap-core';
import { type ClientStateStore, Lwm2mClient, MemoryClientStateStore } from '@thimble/lwm2m';
import { afterEach, describe, expect, it } from 'vitest';
import { FileClientStateStore } from '../../src/node/client.js';
import { CLIENT, CLIENT_PORT, drive, FakeServer, SERVER, until } from './harness.js';

/** A device that was "bootstrapped": a bootstrap-server account plus the server account it got. */
let boots = 0;

function device(network: MemoryNetwork, clock: FakeClock, store: ClientStateStore) {
  // a rebooted device starts with other message IDs (the server's deduplication would answer a reused one
  // from its cache)
  const seed = 100 + boots++;
  const client = new Lwm2mClient({
    endpointName: 'phoenix',
    endpoint: new CoapEndpoint({
      transport: network.bind(CLIENT, CLIENT_PORT),
      clock,
      random: seededRandom(seed),
    }),
    clock,
    random: seededRandom(9),
    stateStore: store,
  });
  // what the factory put on the device: only the Bootstrap-Server account
  client.addInstance(0, 0, { 0: 'coap://10.0.0.5:5683', 1: true, 2: 3 });
  client.addInstance(3, 0, { 0: 'Thimble' });
  return client;
}

/** What a bootstrap would write (the other helper's Bootstrap-Finish calls restartRegistration()). */
function bootstrapWrites(client: Lwm2mClient) {
  client.addInstance(0, 1, { 0: `coap://${SERVER}:5683`, 1: false, 2: 3, 10: 4 });
  client.addInstance(1, 0, { 0: 4, 1: 300, 6: false, 7: 'U' });
}

describe('client state across a restart', () => {
  it('without server accounts the client has nothing to register with (it needs bootstrapping)', () => {
    const clock = new FakeClock();
    const client = device(new MemoryNetwork({ clock }), clock, new MemoryClientStateStore());
    expect(client.serverAccounts()).toEqual([]);
  });

  it('resumes with an Update, not a Register, and does not need bootstrapping again', async () => {
    const clock = new FakeClock(1_000_000);
    const network = new MemoryNetwork({ clock, seed: 3 });
    const server = new FakeServer(network, clock).up();
    const store = new MemoryClientStateStore();
    const first = device(network, clock, store);
    bootstrapWrites(first);
    await drive(clock, first.restartRegistration());
    await until(clock, () => first.registrationState === 'registered');
    expect(server.registers()).toHaveLength(1);
    // power loss: no De-register
    await drive(clock, first.stop({ deregister: false }));
    await first.endpoint.close();
    await clock.advance(60_000);

    const second = device(network, clock, store);
    // the stored bootstrap result is back before anything else happens
    second.start();
    expect(second.serverAccounts().map((a) => [a.shortServerId, a.uri])).toEqual([
      [4, `coap://${SERVER}:5683`],
    ]);
    const events: string[] = [];
    second.on('registered', () => events.push('registered'));
    second.on('updated', () => events.push('updated'));
    await until(clock, () => events.length > 0);
    expect(events).toEqual(['updated']);
    expect(server.registers()).toHaveLength(1);
    expect(server.updates()).toHaveLength(1);
    expect(server.updates()[0]!.path).toBe('/rd/r1');
    expect(second.registrationLocation).toBe('/rd/r1');
    // the next Update falls due within the lifetime counted from the resumed Update
    const t = clock.now();
    await until(clock, () => server.updates().length === 2, 400_000);
    expect(server.updates()[1]!.at - t).toBeLessThan(300_000);
  });

  it('registers anew when the server forgot the registration (Update → 4.04)', async () => {
    const clock = new FakeClock(1_000_000);
    const network = new MemoryNetwork({ clock, seed: 3 });
    const server = new FakeServer(network, clock).up();
    const store = new MemoryClientStateStore();
    const first = device(network, clock, store);
    bootstrapWrites(first);
    await drive(clock, first.restartRegistration());
    await until(clock, () => first.registrationState === 'registered');
    await drive(clock, first.stop({ deregister: false }));
    await first.endpoint.close();
    server.updateCode = Code.NotFound;
    const second = device(network, clock, store);
    second.start();
    await until(clock, () => server.registers().length === 2);
    await until(clock, () => second.registrationState === 'registered');
    expect(second.registrationLocation).toBe('/rd/r2');
  });

  it('registers anew when the stored registration has expired', async () => {
    const clock = new FakeClock(1_000_000);
    const network = new MemoryNetwork({ clock, seed: 3 });
    const server = new FakeServer(network, clock).up();
    const store = new MemoryClientStateStore();
    const first = device(network, clock, store);
    bootstrapWrites(first);
    await drive(clock, first.restartRegistration());
    await until(clock, () => first.registrationState === 'registered');
    await drive(clock, first.stop({ deregister: false }));
    await first.endpoint.close();
    await clock.advance(400_000); // longer than the 300 s lifetime
    const second = device(network, clock, store);
    second.start();
    await until(clock, () => second.registrationState === 'registered');
    expect(server.registers()).toHaveLength(2);
    expect(server.updates()).toHaveLength(0);
  });

  it('a de-registered client forgets its registration (the next start registers)', async () => {
    const clock = new FakeClock(1_000_000);
    const network = new MemoryNetwork({ clock, seed: 3 });
    const server = new FakeServer(network, clock).up();
    const store = new MemoryClientStateStore();
    const first = device(network, clock, store);
    bootstrapWrites(first);
    await drive(clock, first.restartRegistration());
    await until(clock, () => first.registrationState === 'registered');
    await drive(clock, first.stop());
    expect(server.deletes()).toHaveLength(1);
    expect(store.state!.registrations).toEqual({});
    // the server accounts stay
    expect(store.state!.objects!.some((o) => o.objectId === 1)).toBe(true);
    first.start();
    await until(clock, () => first.registrationState === 'registered');
    expect(server.registers()).toHaveLength(2);
  });
});

describe('FileClientStateStore (Node)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('keeps objects (opaque, object links, multiple resources) and registrations in state.json', () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-state-'));
    const store = new FileClientStateStore(join(dir, 'device'));
    expect(store.load()).toBeUndefined();
    store.save({
      format: 1,
      objects: [
        {
          objectId: 0,
          instanceId: 1,
          resources: { '0': 'coaps://h:5684', '3': { hex: '6964' }, '17': { objlnk: '21:0' } },
        },
        { objectId: 1, instanceId: 0, resources: { '25': { instances: [[0, '1.1']] } } },
      ],
      registrations: {
        '4': { uri: 'coap://h', location: ['rd', 'x'], lifetime: 60, binding: 'U', version: '1.1', at: 5 },
      },
    });
    const again = new FileClientStateStore(join(dir, 'device'));
    expect(again.load()).toEqual(store.load());
    expect(JSON.parse(readFileSync(join(dir, 'device', 'state.json'), 'utf8')).format).toBe(1);
  });

  it('round-trips a client: a restarted process resumes from the directory', async () => {
    dir = mkdtempSync(join(tmpdir(), 'thimble-state-'));
    const clock = new FakeClock(1_000_000);
    const network = new MemoryNetwork({ clock, seed: 3 });
    const server = new FakeServer(network, clock).up();
    const first = device(network, clock, new FileClientStateStore(dir));
    bootstrapWrites(first);
    await drive(clock, first.restartRegistration());
    await until(clock, () => first.registrationState === 'registered');
    await drive(clock, first.stop({ deregister: false }));
    await first.endpoint.close();
    const second = device(network, clock, new FileClientStateStore(dir));
    second.start();
    await until(clock, () => second.registrationState === 'registered');
    expect(server.registers()).toHaveLength(1);
    expect(server.updates()).toHaveLength(1);
    // the OSCORE sequence store lives beside it
    const seq = new FileClientStateStore(dir).sequenceStore('oscore-02-01');
    seq.reserve(64);
    expect(new FileClientStateStore(dir).sequenceStore('oscore-02-01').load()).toBe(64);
  });
});
