import { Code } from '@thimble/coap-core';
import {
  type BootstrapConfig,
  BootstrapConfigError,
  type BootstrapConfigStore,
  checkBootstrapConsistency,
  Lwm2mClient,
  MemoryBootstrapConfigStore,
  validateBootstrapConfig,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { BS_URI, drive, SERVER_URI, serverConfig, until, world } from './harness.js';

const problems = (config: unknown): string[] => {
  try {
    validateBootstrapConfig(config);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(BootstrapConfigError);
    return [...(e as BootstrapConfigError).problems];
  }
};

describe('bootstrap configurations', () => {
  it('a consistent configuration comes back clean and frozen', () => {
    const c = validateBootstrapConfig({
      ...serverConfig(),
      toDelete: ['/0', '1/'],
      read: ['/1'],
      discover: true,
    });
    expect(c.toDelete).toEqual(['/0', '/1']);
    expect(Object.isFrozen(c.security)).toBe(true);
    expect(problems(serverConfig())).toEqual([]);
  });

  it('an inconsistent one is refused with every problem named', () => {
    expect(problems(null)).toEqual(['a configuration is a JSON object']);
    expect(problems({ security: {}, servers: { 0: { shortServerId: 5, lifetime: 60 } } })).toEqual([
      'servers/0: no security instance has shortServerId 5',
    ]);
    const p = problems({
      security: {
        1: { uri: 'http://x', bootstrapServer: false, securityMode: 'psk', shortServerId: 3 },
        2: {
          uri: 'coaps://h:5684',
          bootstrapServer: false,
          securityMode: 'nosec',
          shortServerId: 3,
          oscoreInstance: 9,
        },
        x: {},
      },
      servers: { 0: { shortServerId: 3, lifetime: -1, binding: 'Z' } },
      toDelete: ['/0/0/0'],
      read: ['/3'],
      extra: 1,
    });
    expect(p).toEqual(
      expect.arrayContaining([
        'security: "x" is not an instance id 0–65534',
        'security/1: "http://x": scheme http is not one of coap, coaps, coap+tcp, coaps+tcp',
        'security/1: psk mode needs pskIdentity',
        'security/1: psk mode needs pskKey',
        'security/2: nosec with a coaps URI',
        'security/2: shortServerId 3 is also security/1',
        'security/2: oscoreInstance 9 is not in oscore',
        'servers/0: lifetime must be an integer 0–2147483647',
        'servers/0: binding "Z" is not made of U, T, S, N, Q',
        'toDelete: "/0/0/0" is not /, an object or an object instance',
        'read: "/3" is not the Server (1) or Access Control (2) object or one of their instances',
        'unknown field "extra"',
      ]),
    );
    expect(
      problems({
        security: {
          1: {
            uri: 'coaps://h',
            bootstrapServer: false,
            securityMode: 'psk',
            shortServerId: 1,
            pskIdentity: 'id',
            pskKey: 'zz',
          },
        },
        servers: { 1: { shortServerId: 1, lifetime: 60 } },
      }),
    ).toEqual(['security/1: pskKey must be hex', 'security/1: psk mode needs pskKey']);
  });

  it('MemoryBootstrapConfigStore validates on set and lists, gets and deletes', () => {
    const store = new MemoryBootstrapConfigStore();
    expect(() => store.set('a', { security: {}, servers: { 0: { shortServerId: 1, lifetime: 1 } } })).toThrow(
      /no security instance has shortServerId 1/,
    );
    expect(() => store.set('', serverConfig())).toThrow(/endpoint name/);
    store.set('a', serverConfig());
    expect(store.get('a')!.servers['0']!.lifetime).toBe(120);
    expect(store.list().map((e) => e.endpoint)).toEqual(['a']);
    expect(store.delete('a')).toBe(true);
    expect(store.delete('a')).toBe(false);
    expect(store.get('a')).toBeUndefined();
  });
});

describe('Lwm2mBootstrapServer', () => {
  it('sessions are bounded: 5.03 past maxSessions; a new request of the same endpoint replaces its session', async () => {
    const w = world();
    const bs = w.bootstrapServer(new MemoryBootstrapConfigStore({ a: serverConfig(), b: serverConfig() }), {
      maxSessions: 1,
    });
    const failed: string[] = [];
    bs.on('sessionFailed', (s, r) => failed.push(`${s.endpoint}: ${r}`));
    const ep = w.device().endpoint;
    const ask = (q: string) => drive(w.clock, ep.request({ method: 'POST', uri: `${BS_URI}/bs?${q}` }), 1000);
    expect((await ask('ep=a')).code).toBe(Code.Changed);
    expect(bs.activeSessions().map((s) => s.endpoint)).toEqual(['a']);
    expect((await ask('ep=b')).code).toBe(Code.ServiceUnavailable);
    expect((await ask('ep=a')).code).toBe(Code.Changed);
    expect(failed).toEqual(['a: replaced by a new Bootstrap-Request']);
    // the device (a bare endpoint) answers nothing: the session fails on the request timeout
    await until(w.clock, () => failed.length === 2);
    expect(failed[1]).toContain('Bootstrap-Delete /0');
    expect(bs.activeSessions()).toEqual([]);
    bs.close();
    expect((await ask('ep=a')).code).toBe(Code.ServiceUnavailable);
  });

  it('a Bootstrap-Finish answered 4.06 fails the session with the device diagnostic', async () => {
    const w = world();
    // a store that does not validate (the contract is an interface): a server without its security
    const bad: BootstrapConfig = { security: {}, servers: { 0: { shortServerId: 5, lifetime: 60 } } };
    const store: BootstrapConfigStore = {
      get: () => bad,
      set: () => {},
      delete: () => false,
      list: () => [],
    };
    const bs = w.bootstrapServer(store);
    const failed: string[] = [];
    bs.on('sessionFailed', (_s, r) => failed.push(r));
    const d = w.device({ bootstrap: { retry: { initialDelay: 100 } } });
    d.client.start();
    await until(w.clock, () => failed.length === 1);
    expect(failed[0]).toMatch(
      /^Bootstrap-Finish \/bs answered 4\.06: .*no Security instance with Short Server ID 5/,
    );
    await until(w.clock, () => failed.length === 2);
    expect(d.client.registrationState).toBe('bootstrapping');
  });
});

describe('factory bootstrap (Core 1.1 §6.1.2)', () => {
  it('instances from the configuration: the client registers without a bootstrap', async () => {
    const w = world();
    const endpoint = w.device().endpoint;
    void endpoint;
    const w2 = world();
    const raw = w2.rawBootstrap();
    const d = w2.device({ factoryBootstrap: serverConfig() });
    expect(d.client.get('/0/1/0')).toBe(SERVER_URI);
    expect(checkBootstrapConsistency).toBeTypeOf('function');
    d.client.start();
    expect(d.client.registrationState).toBe('registering');
    await until(w2.clock, () => d.client.registrationState === 'registered');
    expect(w2.lwm2m.registration('dev1')!.lifetime).toBe(120);
    expect(raw.requests).toHaveLength(0);
  });

  it('an inconsistent factory configuration throws; a bootstrap account alone means bootstrap', async () => {
    const w = world();
    const endpoint = w.device().endpoint;
    expect(
      () =>
        new Lwm2mClient({
          endpointName: 'x',
          endpoint,
          factoryBootstrap: { security: {}, servers: { 0: { shortServerId: 4, lifetime: 60 } } },
        }),
    ).toThrow(/no security instance has shortServerId 4/);
    const w2 = world();
    w2.bootstrapServer(new MemoryBootstrapConfigStore({ dev1: serverConfig() }));
    const d = w2.device({
      factoryBootstrap: {
        security: { 5: { uri: BS_URI, bootstrapServer: true, securityMode: 'nosec', clientHoldOffTime: 2 } },
        servers: {},
      },
    });
    d.client.removeInstance(0, 0);
    d.client.start();
    expect(d.client.registrationState).toBe('bootstrapping');
    await until(w2.clock, () => d.client.registrationState === 'registered');
    expect(d.client.get('/0/5/11')).toBe(2);
    expect(d.client.get('/0/1/0')).toBe(SERVER_URI);
  });

  it('Execute /1/x/9 (Bootstrap-Request Trigger) de-registers and bootstraps again', async () => {
    const w = world();
    const bs = w.bootstrapServer(new MemoryBootstrapConfigStore({ dev1: serverConfig() }));
    let sessions = 0;
    bs.on('sessionSucceeded', () => sessions++);
    const d = w.device();
    d.client.start();
    await until(w.clock, () => d.client.registrationState === 'registered');
    const registered = w.lwm2m.registration('dev1')!;
    await drive(w.clock, w.lwm2m.execute('dev1', '/1/0/9'));
    await until(w.clock, () => sessions === 2 && d.client.registrationState === 'registered');
    expect(w.lwm2m.registration('dev1')!.id).not.toBe(registered.id);
  });
});
