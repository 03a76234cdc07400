/**
 * Several LwM2M Servers at once (TS Core 1.1 §6.2, accounts from Security and Server instances paired by
 * Short Server ID, Appendix E.1 / E.2), version fallback, the registration retry schedule of /1/x/17–20
 * (§6.2.1.1), and the choice of transport per account (NoSec, DTLS PSK, OSCORE).
 */
import {
  CoapEndpoint,
  type CoapRequest,
  Code,
  decodeMessage,
  FakeClock,
  MemoryNetwork,
  type MemoryTransport,
  type Peer,
  type ResponseInit,
  seededRandom,
  type Transport,
  utf8Decode,
  utf8Encode,
} from '@thimble/coap-core';
import {
  Lwm2mClient,
  type Lwm2mClientOptions,
  Lwm2mServer,
  MemoryClientStateStore,
  parseRegistrationLinks,
  type ServerTransportRequest,
} from '@thimble/lwm2m';
import { deriveContext, OSCORE_KIND, oscoreClient, oscoreServer } from '@thimble/oscore';
import { nodeCrypto } from '@thimble/oscore/node';
import { describe, expect, it } from 'vitest';
import { CLIENT, CLIENT_PORT, drive, FakeServer, SERVER, setup, until } from './harness.js';

const SERVER_B = '10.0.0.3';

/** A client with two server accounts (SSID 1 at 10.0.0.1, SSID 2 at 10.0.0.3) sharing one endpoint. */
function twoServers(options: Partial<Lwm2mClientOptions> = {}, up: [boolean, boolean] = [true, true]) {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 3 });
  const servers: Lwm2mServer[] = [];
  const bind = (address: string) => {
    const s = new Lwm2mServer({
      endpoint: new CoapEndpoint({ transport: network.bind(address, 5683), clock, random: seededRandom(1) }),
      clock,
      random: seededRandom(7),
    });
    return s;
  };
  const a = up[0] ? bind(SERVER) : undefined;
  const b = up[1] ? bind(SERVER_B) : undefined;
  if (a) servers.push(a);
  if (b) servers.push(b);
  const endpoint = new CoapEndpoint({
    transport: network.bind(CLIENT, CLIENT_PORT),
    clock,
    random: seededRandom(2),
  });
  const client = new Lwm2mClient({
    endpointName: 'multi',
    endpoint,
    lifetime: 300,
    clock,
    random: seededRandom(9),
    requestTimeout: 5_000,
    retry: { count: 5, timer: 10, sequenceDelay: 60, sequenceCount: 10 },
    ...options,
  });
  client.addInstance(0, 0, { 0: `coap://${SERVER}:5683`, 1: false, 2: 3, 10: 1 });
  client.addInstance(0, 1, { 0: `coap://${SERVER_B}:5683`, 1: false, 2: 3, 10: 2 });
  client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U' });
  client.addInstance(1, 1, { 0: 2, 1: 600, 6: false, 7: 'U' });
  client.addInstance(3, 0, { 0: 'Thimble', 1: 'Model T', 16: 'U' });
  client.addInstance(3303, 0, { 5700: 21.5, 5701: 'Cel' });
  return { clock, network, client, a, b, bind };
}

const state = (c: Lwm2mClient, ssid: number) => c.servers().find((s) => s.shortServerId === ssid)?.state;

describe('several LwM2M Servers (Core §6.2, Appendix E.1/E.2)', () => {
  it('registers with each account, with its own lifetime, and both servers see the device', async () => {
    const { clock, client, a, b } = twoServers();
    const seen: number[] = [];
    client.on('registered', (_loc, ssid) => seen.push(ssid));
    client.start();
    await until(clock, () => state(client, 1) === 'registered' && state(client, 2) === 'registered');
    expect(seen.sort()).toEqual([1, 2]);
    expect(a!.registration('multi')?.lifetime).toBe(300);
    expect(b!.registration('multi')?.lifetime).toBe(600);
    expect(client.servers().map((s) => s.uri)).toEqual([`coap://${SERVER}:5683`, `coap://${SERVER_B}:5683`]);
  });

  it('updates each server on its own schedule and both when objects change (§6.2.2)', async () => {
    const { clock, client, a, b } = twoServers();
    const updates: number[] = [];
    client.on('updated', (ssid) => updates.push(ssid));
    client.start();
    await until(clock, () => client.servers().every((s) => s.state === 'registered'));
    client.addInstance(3303, 1, { 5700: 3 });
    await until(clock, () => updates.length >= 2);
    expect(updates.sort()).toEqual([1, 2]);
    expect(a!.registration('multi')!.objects.some((l) => l.path.join('/') === '3303/1')).toBe(true);
    expect(b!.registration('multi')!.objects.some((l) => l.path.join('/') === '3303/1')).toBe(true);
    // lifetime 300 s → server 1 is updated at 270 s; lifetime 600 s → server 2 at 540 s
    updates.length = 0;
    const t0 = clock.now();
    const at: { [ssid: number]: number } = {};
    client.on('updated', (ssid) => {
      at[ssid] ??= clock.now() - t0;
    });
    await until(clock, () => at[1] !== undefined && at[2] !== undefined, 1_000_000);
    expect(at[1]).toBeGreaterThanOrEqual(270_000);
    expect(at[1]).toBeLessThan(300_000);
    expect(at[2]).toBeGreaterThanOrEqual(540_000);
    expect(at[2]).toBeLessThan(600_000);
  });

  it('de-registers from every server on stop (§6.2.3)', async () => {
    const { clock, client, a, b } = twoServers();
    const gone: number[] = [];
    client.on('deregistered', (ssid) => gone.push(ssid));
    client.start();
    await until(clock, () => client.servers().every((s) => s.state === 'registered'));
    await drive(clock, client.stop());
    expect(gone.sort()).toEqual([1, 2]);
    expect(a!.registration('multi')).toBeUndefined();
    expect(b!.registration('multi')).toBeUndefined();
    expect(client.registrationState).toBe('stopped');
  });

  it('a server that is down does not hold up the other; it registers when it comes up', async () => {
    const { clock, client, a, bind } = twoServers({}, [true, false]);
    client.start();
    await until(clock, () => state(client, 1) === 'registered');
    expect(a!.registration('multi')).toBeDefined();
    expect(state(client, 2)).not.toBe('registered');
    const b = bind(SERVER_B);
    await until(clock, () => state(client, 2) === 'registered', 3_000_000);
    expect(b.registration('multi')).toBeDefined();
    expect(state(client, 1)).toBe('registered');
  });

  it('requests are attributed to the server they come from', async () => {
    const { clock, client, a, b } = twoServers({ accessControl: false });
    const ops: string[] = [];
    client.on('operation', (op) => ops.push(`${op.operation} ${op.path}`));
    client.start();
    await until(clock, () => client.servers().every((s) => s.state === 'registered'));
    await drive(clock, a!.read('multi', '/3/0/0'));
    await drive(clock, b!.read('multi', '/3/0/0'));
    expect(ops).toEqual(['Read /3/0/0', 'Read /3/0/0']);
  });
});

describe('LwM2M version fallback (Core §6.2.1)', () => {
  it('registers again with 1.1 when the server answers 4.12 to 1.2, and keeps 1.1', async () => {
    const s = setup({ version: '1.2' });
    s.server.registerHook = (req) =>
      req.query.includes('lwm2m=1.2') ? { code: Code.PreconditionFailed } : undefined;
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    const versions = s.server.registers().map((r) => r.query.find((q) => q.startsWith('lwm2m=')));
    expect(versions).toEqual(['lwm2m=1.2', 'lwm2m=1.1']);
    expect(s.client.servers()[0]!.version).toBe('1.1');
  });

  it('falls back to 1.0 on a 4.00 about the version, and speaks 1.0 then (UQ, TLV)', async () => {
    const s = setup({ version: '1.1', queueMode: true });
    s.server.registerHook = (req) =>
      req.query.includes('lwm2m=1.0')
        ? undefined
        : {
            code: Code.BadRequest,
            payload: utf8Encode('lwm2m "1.1" is not a supported version'),
          };
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    const last = s.server.registers().at(-1)!;
    expect(last.query).toEqual(['ep=dev1', 'lt=300', 'lwm2m=1.0', 'b=UQ']);
    const read = await drive(s.clock, s.server.send({ method: 'GET', path: '/3303/0' }));
    expect(read.contentFormat).toBe(11542);
  });

  it('a 4.00 for another reason is a failed attempt, not a fallback', async () => {
    const s = setup({ version: '1.2', retry: { count: 1, timer: 1, sequenceDelay: 1, sequenceCount: 1 } });
    s.server.registerHook = () => ({ code: Code.BadRequest, payload: utf8Encode('bad endpoint name') });
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'failed');
    expect(s.server.registers()).toHaveLength(1);
  });

  it('tries only the versions /1/x/25 (Supported Server Versions) lists', async () => {
    const s = setup({ version: '1.2' });
    s.client.removeInstance(1, 0);
    s.client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U', 25: ['1.0', '1.1'] });
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    expect(s.server.registers()[0]!.query).toContain('lwm2m=1.1');
  });
});

/**
 * A server that answers like Wakaama's: one LwM2M version (its build's), one `ct` value of 11543, 110 or
 * 112, and a 4.00 without a payload for anything else.
 */
function wakaamaLike(version: '1.0' | '1.1') {
  return (req: CoapRequest): ResponseInit | undefined => {
    if (!req.query.includes(`lwm2m=${version}`)) return { code: Code.BadRequest };
    const root = utf8Decode(req.payload).split(',')[0]!;
    const ct = /;ct=("?)([^",;]*)\1/.exec(root);
    if (ct !== null && !['11543', '110', '112'].includes(ct[2]!)) return { code: Code.BadRequest };
    return undefined;
  };
}

describe('Register with a server that answers like Wakaama (Core 1.1 §6.2.1, issue 16)', () => {
  it('a 1.1 client announces one preferred content format (ct=112) and registers at once', async () => {
    const s = setup({ version: '1.1' });
    s.server.registerHook = wakaamaLike('1.1');
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    expect(s.server.registers()).toHaveLength(1);
    expect(s.server.registers()[0]!.payload).toMatch(/^<\/>;rt="oma.lwm2m";ct=112,/);
    expect(parseRegistrationLinks(s.server.registers()[0]!.payload).contentFormats).toEqual([112]);
  });

  it('falls back to the next lower version after a bare 4.00, and says so', async () => {
    const s = setup({ version: '1.2' });
    s.server.registerHook = wakaamaLike('1.0');
    const fallbacks: string[] = [];
    s.client.on('versionFallback', (from, to, code) => fallbacks.push(`${from}->${to} ${code}`));
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'registered');
    const versions = s.server.registers().map((r) => r.query.find((q) => q.startsWith('lwm2m=')));
    expect(versions).toEqual(['lwm2m=1.2', 'lwm2m=1.1', 'lwm2m=1.0']);
    expect(fallbacks).toEqual(['1.2->1.1 4.00', '1.1->1.0 4.00']);
    expect(s.client.servers()[0]!.version).toBe('1.0');
  });

  it('the fallback is bounded: a server that answers every Register with a bare 4.00 is a failed attempt', async () => {
    const s = setup({ version: '1.1', retry: { count: 1, timer: 1, sequenceDelay: 1, sequenceCount: 1 } });
    s.server.registerHook = () => ({ code: Code.BadRequest });
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'failed');
    expect(s.server.registers().map((r) => r.query.find((q) => q.startsWith('lwm2m=')))).toEqual([
      'lwm2m=1.1',
      'lwm2m=1.0',
    ]);
  });
});

/** Records the first transmission of every CON request arriving at `address` (a server that is down). */
function sink(network: MemoryNetwork, clock: FakeClock, address = SERVER) {
  const attempts: number[] = [];
  const seen: number[] = [];
  const t = network.bind(address, 5683);
  t.onDatagram((data) => {
    const m = decodeMessage(data);
    if (m.code !== Code.POST || seen.includes(m.messageId)) return;
    seen.push(m.messageId);
    attempts.push(clock.now());
  });
  return { attempts, close: () => t.close() };
}

describe('registration retry with a server down at start (Core §6.2.1.1, /1/x/17–20)', () => {
  it('follows the Server object: timer × 2^(n−1) within a sequence, the sequence delay between sequences', async () => {
    const s = setup({ requestTimeout: 5_000 }, false);
    s.client.removeInstance(1, 0);
    // 3 attempts a sequence, 10 s first wait, 100 s between sequences, 2 sequences
    s.client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U', 17: 3, 18: 10, 19: 100, 20: 2 });
    const down = sink(s.network, s.clock);
    const bootstrap: number[] = [];
    s.client.on('bootstrapRequired', (ssid) => bootstrap.push(ssid));
    s.client.start();
    await until(s.clock, () => s.client.registrationState === 'failed', 3_600_000);
    // /1/x/16 Bootstrap on Registration Failure is absent, so true (Appendix E.2)
    expect(bootstrap).toEqual([1]);
    const t = down.attempts;
    expect(t).toHaveLength(6);
    // each attempt fails after the 5 s request timeout, then waits (jitter: at most +10 %)
    const waits = t.slice(1).map((x, i) => (x - t[i]! - 5_000) / 1000);
    const expected = [10, 20, 100, 10, 20];
    waits.forEach((w, i) => {
      expect(w).toBeGreaterThanOrEqual(expected[i]!);
      expect(w).toBeLessThanOrEqual(expected[i]! * 1.1 + 0.001);
    });
    // given up: no timer left to fire again, no more attempts however long we wait
    await s.clock.advance(10_000_000);
    expect(t).toHaveLength(6);
    expect(s.clock.pending).toBeLessThan(3);
  });

  it('registers once the server comes up, without a busy loop while it is down', async () => {
    const s = setup({ requestTimeout: 5_000 }, false);
    s.client.removeInstance(1, 0);
    s.client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U', 17: 4, 18: 30, 19: 600, 20: 100 });
    const down = sink(s.network, s.clock);
    s.client.start();
    // an hour down: sequences of 4 attempts (waits 30, 60, 120 s) with 600 s between them
    await s.clock.advance(3_600_000);
    // per sequence: 4 × 5 s + 210 s of waits + 600 s ≈ 830 s → 5 sequences in an hour, ≈ 20 attempts
    expect(down.attempts.length).toBeGreaterThanOrEqual(16);
    expect(down.attempts.length).toBeLessThanOrEqual(24);
    const gaps = down.attempts.slice(1).map((x, i) => x - down.attempts[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(35_000);
    await down.close();
    s.server.up();
    await until(s.clock, () => s.client.registrationState === 'registered', 3_600_000);
    expect(s.server.registers()).toHaveLength(1);
  });
});

/** Wraps an in-memory transport as another scheme (a stand-in for DTLS in unit tests). */
function asScheme(t: MemoryTransport, scheme: string): Transport {
  return {
    scheme,
    get local(): Peer {
      return t.local;
    },
    maxDatagramSize: t.maxDatagramSize,
    send: (d, p) => t.send(d, p),
    onDatagram: (h) => t.onDatagram(h),
    onError: (h) => t.onError(h),
    close: () => t.close(),
  };
}

describe('transport per account (Security Mode, OSCORE object 21)', () => {
  it('Security Mode PSK asks the factory for coaps:// with /0/x/3 and /0/x/5', async () => {
    const s = setup({ serverUri: undefined });
    const asked: ServerTransportRequest[] = [];
    const client = new Lwm2mClient({
      endpointName: 'psk',
      clock: s.clock,
      random: seededRandom(4),
      transports: (r) => {
        asked.push(r);
        return asScheme(s.network.bind('10.0.0.9', 0), 'coaps');
      },
    });
    client.addInstance(0, 0, {
      0: `coaps://${SERVER}:5683`,
      1: false,
      2: 0,
      3: utf8Encode('dev-identity'),
      5: new Uint8Array([1, 2, 3, 4]),
      10: 7,
    });
    client.addInstance(1, 0, { 0: 7, 1: 300, 6: false, 7: 'U' });
    client.start();
    await until(s.clock, () => client.registrationState === 'registered');
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ scheme: 'coaps', host: SERVER, port: 5683 });
    expect(asked[0]!.psk!.identity).toBe('dev-identity');
    expect([...asked[0]!.psk!.key]).toEqual([1, 2, 3, 4]);
    expect(client.servers()[0]).toMatchObject({ shortServerId: 7, securityMode: 0, oscore: false });
  });

  it('refuses mismatched or unsupported security set-ups with a security error', async () => {
    const clock = new FakeClock();
    const cases: [number, string][] = [
      [0, 'coap://10.0.0.1:5683'], // PSK over coap://
      [3, 'coaps://10.0.0.1:5684'], // NoSec over coaps://
      [2, 'coaps://10.0.0.1:5684'], // certificates
    ];
    for (const [mode, uri] of cases) {
      const client = new Lwm2mClient({
        endpointName: 'x',
        clock,
        random: seededRandom(1),
        transports: () => {
          throw new Error('not reached');
        },
      });
      client.addInstance(0, 0, {
        0: uri,
        1: false,
        2: mode,
        3: utf8Encode('i'),
        5: new Uint8Array([1]),
        10: 1,
      });
      client.addInstance(1, 0, { 0: 1, 1: 60, 6: false, 7: 'U' });
      const errors: Error[] = [];
      client.on('error', (e) => errors.push(e));
      client.start();
      await clock.advance(1);
      expect(errors.map((e) => (e as { reason?: string }).reason)).toEqual(['security']);
    }
  });

  it('OSCORE: requests both ways are protected with the object 21 context; unprotected ones get 4.01', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3 });
    const secret = new Uint8Array(16).fill(7);
    const serverCtx = deriveContext({
      masterSecret: secret,
      senderId: new Uint8Array([0x01]),
      recipientId: new Uint8Array([0x02]),
      crypto: nodeCrypto,
    });
    const server = new FakeServer(network, clock, SERVER, { serverSecurity: oscoreServer([serverCtx]) }).up();
    const kinds: (string | undefined)[] = [];
    server.registerHook = (req) => {
      kinds.push(req.security?.kind);
      return undefined;
    };
    const store = new MemoryClientStateStore();
    let clientPeer: Peer | undefined;
    const client = new Lwm2mClient({
      endpointName: 'osc',
      clock,
      random: seededRandom(4),
      oscoreCrypto: nodeCrypto,
      stateStore: store,
      transports: (r) => {
        expect(r.scheme).toBe('coap');
        expect(r.psk).toBeUndefined();
        const t = network.bind(CLIENT, CLIENT_PORT);
        clientPeer = t.local;
        return t;
      },
    });
    client.addInstance(21, 0, { 0: secret, 1: new Uint8Array([0x02]), 2: new Uint8Array([0x01]) });
    client.addInstance(0, 0, {
      0: `coap://${SERVER}:5683`,
      1: false,
      2: 3,
      10: 1,
      17: { objectId: 21, instanceId: 0 },
    });
    client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U' });
    client.addInstance(3, 0, { 0: 'Thimble' });
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    expect(kinds).toEqual([OSCORE_KIND]);
    expect(client.servers()[0]!.oscore).toBe(true);
    // the server's Read, protected with its side of the context
    const serverClientCtx = oscoreClient(serverCtx);
    const read = await drive(
      clock,
      server.endpoint!.request({
        peer: clientPeer!,
        path: ['3', '0', '0'],
        accept: 0,
        security: serverClientCtx,
      }),
    );
    expect(read.code).toBe(Code.Content);
    expect(read.text()).toBe('Thimble');
    // the same Read without OSCORE is refused
    const plain = await drive(clock, server.endpoint!.request({ peer: clientPeer!, path: ['3', '0', '0'] }));
    expect(plain.code).toBe(Code.Unauthorized);
    // sequence numbers are reserved in the state store before use (RFC 8613 Appendix B.1.1)
    expect(store.sequenceStore('oscore-02-01').load()).toBeGreaterThan(0);
  });
});
