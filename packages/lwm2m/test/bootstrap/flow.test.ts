import { Code } from '@thimble/coap-core';
import {
  type BootstrapOperationEvent,
  type BootstrapResult,
  MemoryBootstrapConfigStore,
  type ObjectLink,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { BS_URI, drive, SERVER_URI, serverConfig, until, world } from './harness.js';

describe('bootstrap: our client, our bootstrap server, our LwM2M server (LwM2M TS Core 1.1 §6.1)', () => {
  it('bootstraps (Discover, Read, Delete, Write, Finish) then registers with the server it was given', async () => {
    const w = world();
    const store = new MemoryBootstrapConfigStore();
    store.set('dev1', serverConfig({ discover: true, read: ['/1'] }));
    const bs = w.bootstrapServer(store);
    const ops: BootstrapOperationEvent[] = [];
    const results: BootstrapResult[] = [];
    bs.on('operation', (_s, op) => ops.push(op));
    bs.on('sessionSucceeded', (_s, r) => results.push(r));
    const d = w.device();
    const events: string[] = [];
    d.client.on('bootstrapStarted', (uri) => events.push(`started ${uri}`));
    d.client.on('bootstrapped', () => events.push('bootstrapped'));
    d.client.on('registered', () => events.push('registered'));
    d.client.start();
    expect(d.client.registrationState).toBe('bootstrapping');
    const fails: string[] = [];
    bs.on('sessionFailed', (_s, r) => fails.push(r));
    await until(w.clock, () => d.client.registrationState === 'registered').catch((e) => {
      throw new Error(`${e}: ${JSON.stringify({ ops, fails, errors: d.errors.map(String), dops: d.ops })}`);
    });
    expect(events).toEqual([`started ${BS_URI}`, 'bootstrapped', 'registered']);
    expect(ops.map((o) => `${o.operation} ${o.path} ${o.code}`)).toEqual([
      'Bootstrap-Discover / 2.05',
      'Bootstrap-Read /1 2.05',
      'Bootstrap-Delete /0 2.02',
      'Bootstrap-Delete /1 2.02',
      'Bootstrap-Write /0/1 2.04',
      'Bootstrap-Write /1/0 2.04',
      'Bootstrap-Finish /bs 2.04',
    ]);
    expect(results).toHaveLength(1);
    expect(results[0]!.version).toBe('1.1');
    // a 1.1 client asks for SenML CBOR (pct=112) and gets it
    expect(results[0]!.format).toBe(112);
    expect(results[0]!.read[0]!.node).toMatchObject({ kind: 'object', id: 1, instances: [] });
    // the device kept its bootstrap account and Device object, and holds the new server account
    expect(d.client.get('/0/0/0')).toBe(BS_URI);
    expect(d.client.get('/0/0/1')).toBe(true);
    expect(d.client.get('/0/1/0')).toBe(SERVER_URI);
    expect(d.client.get('/0/1/1')).toBe(false);
    expect(d.client.get('/0/1/10')).toBe(101);
    expect(d.client.get('/1/0/1')).toBe(120);
    expect(d.client.get('/3/0/0')).toBe('Thimble');
    // Bootstrap-Delete on /0 and /1 leaves other objects alone
    expect(d.client.get('/3303/0/5700')).toBe(21.5);
    const r = w.lwm2m.registration('dev1')!;
    expect(r.lifetime).toBe(120);
    expect(r.objects.map((o) => o.path.join('/'))).toEqual(expect.arrayContaining(['1/0', '3/0', '3303/0']));
    // the LwM2M server can manage the device; Security stays out of its reach
    const node = await drive(w.clock, w.lwm2m.read('dev1', '/1/0/1'));
    expect(node).toMatchObject({ kind: 'resource', value: 120 });
    await expect(drive(w.clock, w.lwm2m.read('dev1', '/0/1'))).rejects.toThrow(/4\.01/);
    expect(d.client.bootstrapState).toBe('idle');
  });

  it('writes TLV to a 1.0 client (no pct, no Discover) and the client registers in 1.0', async () => {
    const w = world();
    const store = new MemoryBootstrapConfigStore({ dev1: serverConfig() });
    const bs = w.bootstrapServer(store);
    const results: BootstrapResult[] = [];
    bs.on('sessionSucceeded', (_s, r) => results.push(r));
    const d = w.device({ version: '1.0' });
    d.client.start();
    await until(w.clock, () => d.client.registrationState === 'registered');
    expect(results[0]!.format).toBe(11542);
    expect(w.lwm2m.registration('dev1')!.version).toBe('1.0');
  });

  it('moves a Security instance off the device bootstrap account it learnt from Bootstrap-Discover', async () => {
    const w = world();
    const store = new MemoryBootstrapConfigStore({
      dev1: {
        discover: true,
        security: { 0: { uri: SERVER_URI, bootstrapServer: false, securityMode: 'nosec', shortServerId: 7 } },
        servers: { 0: { shortServerId: 7, lifetime: 300 } },
      },
    });
    w.bootstrapServer(store);
    const d = w.device();
    d.client.start();
    await until(w.clock, () => d.client.registrationState === 'registered');
    expect(d.client.get('/0/0/0')).toBe(BS_URI);
    expect(d.client.get('/0/1/0')).toBe(SERVER_URI);
  });

  it('writes OSCORE instances and the link to them (LwM2M 1.1)', async () => {
    const w = world();
    const store = new MemoryBootstrapConfigStore({
      dev1: serverConfig({
        toDelete: ['/0', '/1', '/21'],
        security: {
          1: {
            uri: SERVER_URI,
            bootstrapServer: false,
            securityMode: 'nosec',
            shortServerId: 101,
            oscoreInstance: 4,
          },
        },
        oscore: {
          4: { masterSecret: '0102030405060708', senderId: '01', recipientId: '', masterSalt: 'aa' },
        },
      }),
    });
    w.bootstrapServer(store);
    const d = w.device();
    // the server account now asks for OSCORE, which this test's LwM2M server does not speak: check what
    // the bootstrap wrote, at Bootstrap-Finish
    let finished = false;
    d.client.on('bootstrapped', () => {
      finished = true;
    });
    d.client.start();
    await until(w.clock, () => finished);
    expect(d.client.get('/0/1/17') as ObjectLink).toEqual({ objectId: 21, instanceId: 4 });
    expect(d.client.get('/21/4/0')).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(d.client.get('/21/4/1')).toEqual(new Uint8Array([1]));
    expect(d.client.get('/21/4/3')).toBe(10);
  });

  it('answers an unknown endpoint 4.00, then the client retries with a growing back-off', async () => {
    const w = world();
    const bs = w.bootstrapServer();
    const rejected: string[] = [];
    bs.on('rejected', (ep, _p, reason) => rejected.push(`${ep}: ${reason}`));
    const d = w.device({ bootstrap: { retry: { initialDelay: 10, maxDelay: 40 } } });
    const failures: { at: number; retryIn: number | undefined }[] = [];
    d.client.on('bootstrapFailed', (_e, retryIn) => failures.push({ at: w.clock.now(), retryIn }));
    d.client.start();
    await until(w.clock, () => failures.length >= 5);
    expect(rejected[0]).toBe('dev1: unknown endpoint client name');
    expect(d.errors[0]!.message).toContain('4.00');
    // 10 s, 20 s, 40 s, 40 s (capped), each with up to 10 % jitter
    const waits = failures.slice(0, 4).map((f) => f.retryIn!);
    expect(waits[0]).toBeGreaterThanOrEqual(10_000);
    expect(waits[0]).toBeLessThanOrEqual(11_000);
    expect(waits[1]).toBeGreaterThanOrEqual(20_000);
    expect(waits[2]).toBeGreaterThanOrEqual(40_000);
    expect(waits[3]).toBeLessThanOrEqual(44_000);
    expect(failures[1]!.at - failures[0]!.at).toBe(waits[0]);
    // the store gets the configuration: the next try succeeds
    (bs.store as MemoryBootstrapConfigStore).set('dev1', serverConfig());
    await until(w.clock, () => d.client.registrationState === 'registered');
    expect(d.client.bootstrapState).toBe('idle');
  });

  it('Bootstrap-Request answers: 4.15 for a pct it cannot write, 5.03 past the session bound', async () => {
    const w = world();
    const bs = w.bootstrapServer(new MemoryBootstrapConfigStore({ a: serverConfig(), b: serverConfig() }));
    const ep = w.device().endpoint;
    const ask = (q: string) =>
      drive(w.clock, ep.request({ method: 'POST', uri: `coap://10.0.0.5:5683/bs?${q}` }));
    expect((await ask('ep=a&pct=0')).code).toBe(Code.UnsupportedContentFormat);
    expect((await ask('pct=112')).code).toBe(Code.BadRequest);
    expect((await ask('ep=zz')).code).toBe(Code.BadRequest);
    void bs;
  });
});
