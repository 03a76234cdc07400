/** coaps:// (RFC 7252 §9) over @thimble/dtls: our DtlsClientTransport against our DtlsServerTransport on loopback. */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CoapEndpoint, CoapRequestError, CoapTransportError, Code } from '../../src/index.js';
import { DtlsClientTransport, DtlsServerTransport, identityOf } from '../../src/node.js';

vi.setConfig({ testTimeout: 20_000 });

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

const KEY = new TextEncoder().encode('secret-psk-0001');

function ecKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
  };
}

async function serve(transport: DtlsServerTransport) {
  const server = new CoapEndpoint({ transport });
  const seen: (string | undefined)[] = [];
  server.route('GET', '/who', (req) => {
    seen.push(req.peer.identity);
    return { code: Code.Content, payload: `hello ${req.peer.identity ?? 'nobody'}` };
  });
  cleanup.push(() => server.close());
  return { server, seen };
}

function client(transport: DtlsClientTransport) {
  const endpoint = new CoapEndpoint({ transport });
  cleanup.push(() => endpoint.close());
  return endpoint;
}

describe('DTLS transports (coaps://, RFC 7252 §9.1)', () => {
  it('PSK: a GET over one session; the server sees the PSK identity as Peer.identity (§9.1.3.1)', async () => {
    const t = await DtlsServerTransport.listen({
      address: '127.0.0.1',
      pskLookup: (id) => (id === 'dev-1' ? KEY : undefined),
    });
    const { seen } = await serve(t);
    const c = client(new DtlsClientTransport({ psk: { identity: 'dev-1', key: KEY } }));
    const r1 = await c.get(`coaps://127.0.0.1:${t.local.port}/who`);
    const r2 = await c.get(`coaps://127.0.0.1:${t.local.port}/who`);
    expect(r1.code).toBe(Code.Content);
    expect(r1.text()).toBe('hello dev-1');
    expect(r2.text()).toBe('hello dev-1');
    expect(seen).toEqual(['dev-1', 'dev-1']);
    expect(t.server.stats).toMatchObject({ sessions: 1 });
  });

  it('RPK: the server sees rpk:<hex of the client key> (RFC 7250, §9.1.3.2)', async () => {
    const serverKey = ecKey();
    const clientKey = ecKey();
    const t = await DtlsServerTransport.listen({
      address: '127.0.0.1',
      ecdsa: serverKey,
      trustedPublicKeys: [clientKey.publicKey],
    });
    const { seen } = await serve(t);
    const c = client(new DtlsClientTransport({ ecdsa: clientKey, trustedPublicKeys: [serverKey.publicKey] }));
    const r = await c.get(`coaps://127.0.0.1:${t.local.port}/who`);
    const hex = Buffer.from(clientKey.publicKey).toString('hex');
    expect(r.text()).toBe(`hello rpk:${hex}`);
    expect(seen).toEqual([`rpk:${hex}`]);
  });

  it('a wrong PSK fails the request with reason transport, cause CoapTransportError(dtls) carrying the DtlsError', async () => {
    const t = await DtlsServerTransport.listen({ address: '127.0.0.1', pskLookup: () => KEY });
    await serve(t);
    const c = client(
      new DtlsClientTransport({ psk: { identity: 'dev-1', key: new TextEncoder().encode('wrong') } }),
    );
    const err = await c.get(`coaps://127.0.0.1:${t.local.port}/who`, { timeout: 10_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(CoapRequestError);
    expect(err.reason).toBe('transport');
    expect(err.cause).toBeInstanceOf(CoapTransportError);
    expect(err.cause.reason).toBe('dtls');
    expect(err.cause.cause.name).toBe('DtlsError');
    expect(typeof err.cause.cause.reason).toBe('string');
  });

  it('maps identities: PSK as is, RPK and X.509 with a prefix', () => {
    expect(identityOf({ kind: 'psk', identity: 'a' })).toBe('a');
    expect(identityOf({ kind: 'rpk', publicKey: Uint8Array.of(1), publicKeyHex: '01' })).toBe('rpk:01');
    expect(
      identityOf({ kind: 'x509', subject: 'CN=x', issuer: 'CN=ca', certificate: new Uint8Array() }),
    ).toBe('x509:CN=x');
    expect(identityOf(undefined)).toBeUndefined();
  });
});
