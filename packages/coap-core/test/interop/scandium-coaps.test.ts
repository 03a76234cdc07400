/**
 * coaps:// interop with Eclipse Californium (Scandium DTLS + californium-core CoAP), RFC 7252 §9.1 and
 * RFC 9146: PSK and ECDHE-ECDSA (raw public keys) both directions, with a Connection ID, and a client
 * address change in the middle of a session that keeps working.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
// the Scandium peer's launcher lives with the dtls package's interop tests
import {
  requireScandium,
  runScandiumClient,
  runScandiumCoapClient,
  type ScandiumEvent,
  startScandiumServer,
} from '../../../dtls/test/interop/scandium-peer.js';
import { CoapEndpoint, Code } from '../../src/index.js';
import { DtlsClientTransport, DtlsServerTransport } from '../../src/node.js';

vi.setConfig({ testTimeout: 60_000 });

const available = requireScandium('coaps:// interop with Scandium');
const KEY_HEX = '7468696d626c652d707368';
const KEY = Uint8Array.from(Buffer.from(KEY_HEX, 'hex'));

function ecKeyFiles(dir: string, name: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  writeFileSync(key, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  writeFileSync(pub, publicKey.export({ format: 'pem', type: 'spki' }));
  return {
    key,
    pub,
    der: {
      privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
      publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    },
  };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function ourServer(transport: DtlsServerTransport) {
  const endpoint = new CoapEndpoint({ transport });
  const identities: (string | undefined)[] = [];
  endpoint.route('GET', '/hello', (req) => {
    identities.push(req.peer.identity);
    return { code: Code.Content, payload: 'Hello from Thimble' };
  });
  cleanup.push(() => endpoint.close());
  return { endpoint, identities };
}

describe.skipIf(!available)('Scandium coap-client -> our coaps:// server', () => {
  it('PSK with a Connection ID: GET /hello, the handler sees the PSK identity', async () => {
    const t = await DtlsServerTransport.listen({
      address: '127.0.0.1',
      pskLookup: (id) => (id === 'scandium' ? KEY : undefined),
    });
    const { identities } = await ourServer(t);
    const run = await runScandiumCoapClient({
      uri: `coaps://127.0.0.1:${t.local.port}/hello`,
      psk: [{ identity: 'scandium', keyHex: KEY_HEX }],
      cid: 4,
    });
    const response = run.events.find((e) => e.kind === 'response');
    expect(response, run.stdout + run.stderr).toEqual({
      kind: 'response',
      code: '2.05',
      payload: 'Hello from Thimble',
    });
    const session = run.events.find((e) => e.kind === 'session');
    expect(session).toMatchObject({ cipherSuite: expect.stringContaining('PSK') });
    expect(session && session.kind === 'session' && session.peerCid).toMatch(/^[0-9a-f]{12}$/);
    expect(identities).toEqual(['scandium']);
  });

  it('ECDHE-ECDSA with raw public keys: the handler sees rpk:<client key>', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-scandium-rpk-'));
    const server = ecKeyFiles(dir, 'server');
    const client = ecKeyFiles(dir, 'client');
    const t = await DtlsServerTransport.listen({
      address: '127.0.0.1',
      ecdsa: server.der,
      trustedPublicKeys: [client.der.publicKey],
    });
    const { identities } = await ourServer(t);
    const run = await runScandiumCoapClient({
      uri: `coaps://127.0.0.1:${t.local.port}/hello`,
      ecdsaKey: client.key,
      ecdsaCertOrRpk: client.pub,
      trustRpk: [server.pub],
      cid: 0,
    });
    expect(
      run.events.find((e) => e.kind === 'response'),
      run.stdout + run.stderr,
    ).toMatchObject({
      code: '2.05',
      payload: 'Hello from Thimble',
    });
    expect(identities).toEqual([`rpk:${Buffer.from(client.der.publicKey).toString('hex')}`]);
  });

  it('a client moving to a new port mid-session keeps its session through the CID (RFC 9146 §6)', async () => {
    const t = await DtlsServerTransport.listen({ address: '127.0.0.1', pskLookup: () => KEY });
    const ports: number[] = [];
    t.onDatagram((data, peer) => {
      ports.push(peer.port);
      expect(peer.identity).toBe('mover');
      t.send(data, peer);
    });
    cleanup.push(() => t.close());
    const run = await runScandiumClient({
      port: t.local.port,
      psk: [{ identity: 'mover', keyHex: KEY_HEX }],
      cid: 0,
      send: 'ping',
      count: 4,
      rebindAfter: 2,
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.events.filter((e) => e.kind === 'recv')).toHaveLength(4);
    const rebound = run.events.find(
      (e): e is Extract<ScandiumEvent, { kind: 'rebound' }> => e.kind === 'rebound',
    );
    expect(rebound).toBeDefined();
    expect(new Set(ports).size).toBe(2);
    expect(ports.at(-1)).toBe(rebound!.port);
    expect(t.server.stats).toMatchObject({ sessions: 1 });
  });
});

describe.skipIf(!available)('our coaps:// client -> Scandium coap-server', () => {
  it('PSK with a Connection ID: GET /hello and POST /echo, then a new local port mid-session', async () => {
    const server = await startScandiumServer({
      mode: 'coap-server',
      psk: [{ identity: 'thimble', keyHex: KEY_HEX }],
      cid: 4,
    });
    cleanup.push(() => server.close());
    const transport = new DtlsClientTransport({ psk: { identity: 'thimble', key: KEY }, connectionId: true });
    const client = new CoapEndpoint({ transport });
    cleanup.push(() => client.close());
    const base = `coaps://127.0.0.1:${server.port}`;
    const hello = await client.get(`${base}/hello`);
    expect([hello.code, hello.text()]).toEqual([Code.Content, 'Hello from Scandium']);
    const echo = await client.post(`${base}/echo`, 'thimble was here');
    expect(echo.text()).toBe('thimble was here');
    const session = await server.waitFor(
      (e): e is Extract<ScandiumEvent, { kind: 'session' }> => e.kind === 'session',
    );
    expect(session.identity).toBe('psk:thimble');
    expect(session.cid).toMatch(/^[0-9a-f]{8}$/);
    const dtls = transport.session({ address: '127.0.0.1', port: server.port })!;
    const before = dtls.local.port;
    await dtls.rebind();
    expect(dtls.local.port).not.toBe(before);
    const again = await client.get(`${base}/hello`);
    expect(again.text()).toBe('Hello from Scandium');
    // the coap-server mode prints no ADDRESS line; one SESSION line means no second handshake
    expect(server.events.filter((e) => e.kind === 'session')).toHaveLength(1);
  });

  it('ECDHE-ECDSA with raw public keys: GET /hello', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-scandium-rpk-'));
    const serverKeys = ecKeyFiles(dir, 'server');
    const clientKeys = ecKeyFiles(dir, 'client');
    const server = await startScandiumServer({
      mode: 'coap-server',
      ecdsaKey: serverKeys.key,
      ecdsaCertOrRpk: serverKeys.pub,
      trustRpk: [clientKeys.pub],
      cid: 0,
    });
    cleanup.push(() => server.close());
    const client = new CoapEndpoint({
      transport: new DtlsClientTransport({
        ecdsa: clientKeys.der,
        trustedPublicKeys: [serverKeys.der.publicKey],
      }),
    });
    cleanup.push(() => client.close());
    const hello = await client.get(`coaps://127.0.0.1:${server.port}/hello`);
    expect(hello.text()).toBe('Hello from Scandium');
    const session = await server.waitFor(
      (e): e is Extract<ScandiumEvent, { kind: 'session' }> => e.kind === 'session',
    );
    expect(session.identity).toBe(`rpk:${Buffer.from(clientKeys.der.publicKey).toString('hex')}`);
  });
});
