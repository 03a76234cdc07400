/**
 * Per-endpoint credentials (LwM2M TS Core 1.1 §7.1, §6.2.1): a device authenticated by a credential may
 * only act under the endpoint name the credential is bound to, an endpoint with credentials may not
 * register without security (4.03 Forbidden), and device management goes out through the security the
 * device registered with. PSK stands for a secure transport's authenticated identity (`Peer.identity`, as
 * a DTLS server transport would fill it); OSCORE runs for real (RFC 8613 with Echo recovery, RFC 9175).
 */
import {
  CoapEndpoint,
  type CoapResponse,
  decodeMessage,
  fromHex,
  OptionNumber,
  seededRandom,
} from '@thimble/coap-core';
import { type Lwm2mClient, Lwm2mServerError, MemorySecurityStore, singleResource } from '@thimble/lwm2m';
import { deriveContext, oscoreClient, oscoreServer, type SecurityContext } from '@thimble/oscore';
import { nodeCrypto } from '@thimble/oscore/node';
import { describe, expect, it } from 'vitest';
import { drive, registered, SERVER, type ServerSetup, serverSetup, until } from './harness.js';

const LINKS = '</1/0>,</3/0>';
const SECRET = '0102030405060708090a0b0c0d0e0f10';

function rawAt(s: ServerSetup, address: string, identity?: string): CoapEndpoint {
  return new CoapEndpoint({
    transport: s.network.bind(address, 5683, identity === undefined ? {} : { identity }),
    clock: s.clock,
    random: seededRandom(address.length * 31 + (identity?.length ?? 0)),
  });
}

function register(s: ServerSetup, from: CoapEndpoint, ep: string): Promise<CoapResponse> {
  return drive(
    s.clock,
    from.request({
      method: 'POST',
      peer: { address: SERVER, port: 5683 },
      path: 'rd',
      query: [`ep=${ep}`, 'lt=300', 'lwm2m=1.1'],
      contentFormat: 40,
      payload: LINKS,
    }),
  );
}

const text = (r: CoapResponse) => `${r.code >> 5}.${String(r.code & 31).padStart(2, '0')}`;

describe('MemorySecurityStore', () => {
  it('indexes by endpoint, PSK identity and kid; normalises hex; refuses a credential bound elsewhere', () => {
    const store = new MemorySecurityStore();
    store.put({ endpoint: 'a', psk: { identity: 'id-a', key: 'AABB' } });
    store.put({ endpoint: 'b', oscore: { masterSecret: SECRET, senderId: '01', recipientId: 'B2' } });
    expect(store.get('a')?.psk).toEqual({ identity: 'id-a', key: 'aabb' });
    expect(store.getByPskIdentity('id-a')?.endpoint).toBe('a');
    expect(store.getByOscoreKid('b2')?.endpoint).toBe('b');
    expect(store.getByOscoreKid('B2')?.endpoint).toBe('b');
    const conflict = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return (e as Lwm2mServerError).reason;
      }
      return 'no error';
    };
    expect(conflict(() => store.put({ endpoint: 'c', psk: { identity: 'id-a', key: '00' } }))).toBe(
      'conflict',
    );
    expect(
      conflict(() =>
        store.put({ endpoint: 'c', oscore: { masterSecret: SECRET, senderId: '01', recipientId: 'b2' } }),
      ),
    ).toBe('conflict');
    // replacing an endpoint's own credentials frees its old identity
    store.put({ endpoint: 'a', psk: { identity: 'id-a2', key: '00' } });
    expect(store.getByPskIdentity('id-a')).toBeUndefined();
    store.put({ endpoint: 'c', psk: { identity: 'id-a', key: '00' } });
    expect(store.getByPskIdentity('id-a')?.endpoint).toBe('c');
    expect(store.remove('c')).toBe(true);
    expect(store.remove('c')).toBe(false);
    expect(store.getByPskIdentity('id-a')).toBeUndefined();
    expect(
      store
        .list()
        .map((c) => c.endpoint)
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('validates credentials (bad-request) and is bounded (limit)', () => {
    const store = new MemorySecurityStore({ maxEntries: 1 });
    const reason = (f: () => void) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(Lwm2mServerError);
        return (e as Lwm2mServerError).reason;
      }
      return 'no error';
    };
    expect(reason(() => store.put({ endpoint: 'x' }))).toBe('bad-request');
    expect(reason(() => store.put({ endpoint: '', psk: { identity: 'i', key: '00' } }))).toBe('bad-request');
    expect(reason(() => store.put({ endpoint: 'x', psk: { identity: 'i', key: 'zz' } }))).toBe('bad-request');
    expect(reason(() => store.put({ endpoint: 'x', psk: { identity: 'i', key: '' } }))).toBe('bad-request');
    expect(
      reason(() =>
        store.put({ endpoint: 'x', oscore: { masterSecret: SECRET, senderId: '01', recipientId: '01' } }),
      ),
    ).toBe('bad-request');
    expect(
      reason(() =>
        store.put({ endpoint: 'x', oscore: { masterSecret: SECRET, senderId: '01', recipientId: '0' } }),
      ),
    ).toBe('bad-request');
    store.put({ endpoint: 'x', oscore: { masterSecret: SECRET, senderId: '', recipientId: '01' } });
    expect(reason(() => store.put({ endpoint: 'y', psk: { identity: 'i', key: '00' } }))).toBe('limit');
    // sequence number reservations outlive the credentials (the same secret may come back)
    const seq = store.oscoreSequence('x');
    seq.reserve(64);
    store.remove('x');
    expect(store.oscoreSequence('x').load()).toBe(64);
  });
});

describe('PSK identities (the secure transport hook, Peer.identity)', () => {
  function pskSetup() {
    const security = new MemorySecurityStore();
    security.put({ endpoint: 'dev1', psk: { identity: 'id-1', key: '0011' } });
    security.put({ endpoint: 'dev2', psk: { identity: 'id-2', key: '0022' } });
    return serverSetup({ server: { security } });
  }

  it('registers a device under the endpoint its identity is bound to, and refuses any other name (4.03)', async () => {
    const s = pskSetup();
    const dev1 = s.device(1, {}, { identity: 'id-1' });
    const r = await registered(s, dev1);
    expect(r.authentication).toBe('psk');
    expect(r.peer.identity).toBe('id-1');
    // device management goes to it as usual (the secure transport protects the session)
    expect(await drive(s.clock, s.server.read('dev1', '/3/0/0'))).toMatchObject({ value: 'Thimble' });

    const other = rawAt(s, '10.0.3.1', 'id-1');
    expect(text(await register(s, other, 'dev2'))).toBe('4.03');
    expect(text(await register(s, other, 'dev3'))).toBe('4.03');
    const unknown = rawAt(s, '10.0.3.2', 'id-unknown');
    expect(text(await register(s, unknown, 'dev3'))).toBe('4.03');
    expect(s.server.registrations().map((x) => x.endpoint)).toEqual(['dev1']);
  });

  it('RPK: a session with a bound raw public key (Peer.identity rpk:<hex>) registers only under its endpoint', async () => {
    const security = new MemorySecurityStore();
    security.put({ endpoint: 'dev-rpk', rpk: { publicKey: 'AABBCC' } });
    security.put({ endpoint: 'dev1', psk: { identity: 'id-1', key: '0011' } });
    expect(security.getByRpk('aabbcc')?.endpoint).toBe('dev-rpk');
    const s = serverSetup({ server: { security } });
    const dev = s.device(1, { endpointName: 'dev-rpk' }, { identity: 'rpk:aabbcc' });
    const r = await registered(s, dev);
    expect(r.authentication).toBe('rpk');
    const other = rawAt(s, '10.0.4.1', 'rpk:aabbcc');
    expect(text(await register(s, other, 'dev1'))).toBe('4.03');
    const stranger = rawAt(s, '10.0.4.2', 'rpk:ddeeff');
    expect(text(await register(s, stranger, 'dev-rpk'))).toBe('4.03');
    // a certificate identity is bound to nothing yet: refused for an endpoint with credentials
    const cert = rawAt(s, '10.0.4.3', 'x509:CN=dev-rpk');
    expect(text(await register(s, cert, 'dev-rpk'))).toBe('4.03');
    // a PSK identity may not pose as a key or certificate identity
    expect(() => security.put({ endpoint: 'x', psk: { identity: 'rpk:aabbcc', key: '00' } })).toThrow(/rpk:/);
    expect(() => security.put({ endpoint: 'y', rpk: { publicKey: 'aabbcc' } })).toThrow(/another endpoint/);
  });

  it('refuses NoSec for an endpoint with credentials, and keeps NoSec for the others', async () => {
    const s = pskSetup();
    const plain = rawAt(s, '10.0.3.3');
    const refused = await register(s, plain, 'dev2');
    expect(text(refused)).toBe('4.03');
    expect(refused.text()).toMatch(/credentials/);
    expect(text(await register(s, plain, 'dev9'))).toBe('2.01');
    expect(s.server.registration('dev9')?.authentication).toBeUndefined();
  });

  it('Update, De-register and Send are held to the registration’s endpoint (4.03)', async () => {
    const s = pskSetup();
    const dev1 = s.device(1, {}, { identity: 'id-1' });
    const r = await registered(s, dev1);
    const asDev2 = rawAt(s, '10.0.3.4', 'id-2');
    const plain = rawAt(s, '10.0.3.5');
    const to = { address: SERVER, port: 5683 };
    for (const from of [asDev2, plain]) {
      const update = await drive(s.clock, from.request({ method: 'POST', peer: to, path: ['rd', r.id] }));
      expect(text(update)).toBe('4.03');
      const del = await drive(s.clock, from.request({ method: 'DELETE', peer: to, path: ['rd', r.id] }));
      expect(text(del)).toBe('4.03');
    }
    expect(s.server.registration('dev1')).toBeDefined();
    // the same address without the identity (a NoSec datagram from the device's address) may not Send
    await dev1.endpoint.close();
    const spoofer = new CoapEndpoint({
      transport: s.network.bind('10.0.1.1', 56830),
      clock: s.clock,
      random: seededRandom(77),
    });
    const send = await drive(
      s.clock,
      spoofer.request({
        method: 'POST',
        peer: to,
        path: 'dp',
        contentFormat: 110,
        payload: '[{"n":"/3/0/0","vs":"x"}]',
      }),
    );
    expect(text(send)).toBe('4.03');
    // and the genuine device updates fine
    await spoofer.close();
    const back = new CoapEndpoint({
      transport: s.network.bind('10.0.1.1', 56830, { identity: 'id-1' }),
      clock: s.clock,
      random: seededRandom(78),
    });
    const ok = await drive(s.clock, back.request({ method: 'POST', peer: to, path: ['rd', r.id] }));
    expect(text(ok)).toBe('2.04');
    expect(s.server.registration('dev1')?.authentication).toBe('psk');
  });
});

// ---------------------------------------------------------------------------------------------- OSCORE

const SERVER_ID = '01';

/** The device's side of the OSCORE context the store holds for it (sender and recipient swapped). */
function deviceContext(kid: string, secret = SECRET): SecurityContext {
  return deriveContext({
    masterSecret: fromHex(secret),
    senderId: fromHex(kid),
    recipientId: fromHex(SERVER_ID),
    crypto: nodeCrypto,
  });
}

function oscoreDevice(
  s: ServerSetup,
  n: number,
  kid: string,
  name = `dev${n}`,
  secret = SECRET,
): Lwm2mClient {
  const ctx = deviceContext(kid, secret);
  return s.device(
    n,
    { endpointName: name },
    { clientSecurity: oscoreClient(ctx), serverSecurity: oscoreServer([ctx]) },
  );
}

function oscoreSetup(options: { maxContexts?: number } = {}) {
  const security = new MemorySecurityStore();
  for (const [ep, kid] of [
    ['dev1', '11'],
    ['dev2', '12'],
    ['dev3', '13'],
  ] as const)
    security.put({ endpoint: ep, oscore: { masterSecret: SECRET, senderId: SERVER_ID, recipientId: kid } });
  const s = serverSetup({
    server: {
      security,
      oscore: {
        crypto: nodeCrypto,
        ...(options.maxContexts === undefined ? {} : { maxContexts: options.maxContexts }),
      },
    },
  });
  return { s, security };
}

describe('OSCORE contexts from the security store', () => {
  it('a device registers with OSCORE (freshness proven with Echo first) and device management goes out protected', async () => {
    const { s } = oscoreSetup();
    const seen: boolean[] = [];
    const ctx = deviceContext('11');
    const dev = s.device(
      1,
      {},
      {
        clientSecurity: oscoreClient(ctx),
        serverSecurity: oscoreServer([ctx]),
        trace: (direction, bytes) => {
          if (direction !== 'in') return;
          const m = decodeMessage(bytes);
          if (m.code >= 1 && m.code <= 7) seen.push(m.hasOption(OptionNumber.OSCORE));
        },
      },
    );
    const r = await registered(s, dev);
    expect(r.authentication).toBe('oscore');
    expect(await drive(s.clock, s.server.read('dev1', '/3/0/0'))).toMatchObject({ value: 'Thimble' });
    await drive(s.clock, s.server.write('dev1', '/1/0/1', singleResource(1, 'Integer', 600)));
    expect(dev.get('/1/0/1')).toBe(600);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((x) => x)).toBe(true);
    // observations are protected too (notifications verified with the request's binding)
    const obs = await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    const values: unknown[] = [];
    obs.on('notification', (n) => values.push((n as { value: unknown }).value));
    dev.set('/3303/0/5700', 30.5);
    await until(s.clock, () => values.length >= 1);
    expect(values).toEqual([30.5]);
    // updates go through too
    await drive(s.clock, dev.triggerUpdate());
    expect(s.events.updated.at(-1)?.authentication).toBe('oscore');
  });

  it('a context bound to another endpoint, NoSec for an OSCORE endpoint and an unknown kid are refused', async () => {
    const { s } = oscoreSetup();
    // the context of dev2 claims to be dev1
    const impostor = oscoreDevice(s, 2, '12', 'dev1');
    const errors: Error[] = [];
    impostor.on('error', (e) => errors.push(e));
    impostor.start();
    await until(s.clock, () => errors.length > 0);
    expect(errors[0]!.message).toMatch(/4\.03/);
    expect(s.server.registration('dev1')).toBeUndefined();
    // NoSec for an endpoint with OSCORE credentials
    const plain = rawAt(s, '10.0.3.1');
    expect(text(await register(s, plain, 'dev3'))).toBe('4.03');
    // an unknown kid: the OSCORE layer answers 4.01 (RFC 8613 §8.2), the request never reaches /rd
    const stranger = deviceContext('7f');
    const ep = new CoapEndpoint({
      transport: s.network.bind('10.0.3.2', 5683),
      clock: s.clock,
      random: seededRandom(3),
      clientSecurity: oscoreClient(stranger),
    });
    await expect(register(s, ep, 'dev9')).rejects.toThrow(/4\.01|security/i);
    expect(s.server.registrations()).toHaveLength(0);
  });

  it('a context dropped from the bounded cache is built again without reusing a sequence number', async () => {
    const { s } = oscoreSetup({ maxContexts: 1 });
    const d1 = oscoreDevice(s, 1, '11');
    const d2 = oscoreDevice(s, 2, '12');
    await registered(s, d1);
    await registered(s, d2);
    // alternate: each read evicts the other's context; the device's replay window would refuse a reused
    // Partial IV, so every read succeeding shows the numbers only move forward
    for (let i = 0; i < 5; i++) {
      expect(await drive(s.clock, s.server.read('dev1', '/3/0/2'))).toMatchObject({ value: 'SN-1' });
      expect(await drive(s.clock, s.server.read('dev2', '/3/0/2'))).toMatchObject({ value: 'SN-1' });
    }
    // and the devices still update (the rebuilt context asks for freshness with Echo first)
    await drive(s.clock, d1.triggerUpdate());
    await drive(s.clock, d2.triggerUpdate());
    expect(s.events.updated.map((r) => r.endpoint)).toEqual(['dev1', 'dev2']);
  });

  it('without OSCORE options the server cannot reach an OSCORE device (and says why)', async () => {
    const security = new MemorySecurityStore();
    const s = serverSetup({ server: { security } });
    const plain = rawAt(s, '10.0.3.1');
    expect(text(await register(s, plain, 'devx'))).toBe('2.01');
    expect(() => serverSetup({ server: { oscore: { crypto: nodeCrypto } } })).toThrow(/security store/);
    await expect(drive(s.clock, s.server.read('devx', '/3/0/0'), 60_000)).rejects.toThrow(Lwm2mServerError);
  });
});
