/**
 * The LwM2M client's DTLS options for Security Modes RPK (1) and Certificate (2) (TS Core 1.1 §7.1.2,
 * §7.1.3): `dtlsKeyOptions` against our coaps:// server transport on loopback.
 */
import { CoapEndpoint, Code } from '@thimble/coap-core';
import { DtlsClientTransport, DtlsServerTransport } from '@thimble/coap-core/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
// test-only keys and certificates made with the openssl CLI (the dtls package's test helper)
import { ecKey, makePki } from '../../../dtls/test/keys.js';
import { dtlsKeyOptions } from '../../src/node/client.js';

vi.setConfig({ testTimeout: 20_000 });

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function serverWith(options: Parameters<typeof DtlsServerTransport.listen>[0]) {
  const transport = await DtlsServerTransport.listen({ address: '127.0.0.1', ...options });
  const endpoint = new CoapEndpoint({ transport });
  endpoint.route('GET', '/who', (req) => ({ code: Code.Content, payload: req.peer.identity ?? '' }));
  cleanup.push(() => endpoint.close());
  return transport.local.port;
}

async function get(port: number, options: ConstructorParameters<typeof DtlsClientTransport>[0]) {
  const client = new CoapEndpoint({ transport: new DtlsClientTransport(options) });
  cleanup.push(() => client.close());
  return client.get(`coaps://127.0.0.1:${port}/who`, { timeout: 10_000 });
}

describe('LwM2M client DTLS keys (Security object /0/x/3, /0/x/4, /0/x/5)', () => {
  it('mode 1 (RPK): our key from /0/x/3 and /0/x/5, the server pinned by /0/x/4', async () => {
    const server = ecKey();
    const device = ecKey();
    const port = await serverWith({ ecdsa: server, trustedPublicKeys: [device.publicKey] });
    const r = await get(
      port,
      dtlsKeyOptions(1, { own: device.publicKey, server: server.publicKey, privateKey: device.privateKey }),
    );
    expect(r.text()).toBe(`rpk:${Buffer.from(device.publicKey).toString('hex')}`);
    // another server key in /0/x/4: the handshake fails
    const other = ecKey();
    await expect(
      get(
        port,
        dtlsKeyOptions(1, { own: device.publicKey, server: other.publicKey, privateKey: device.privateKey }),
      ),
    ).rejects.toThrow();
  });

  it('mode 2 (Certificate): our certificate from /0/x/3, the server trusted through the CA in /0/x/4', async () => {
    const pki = makePki();
    const port = await serverWith({ ecdsa: pki.server, trustAnchors: [pki.caDer] });
    const r = await get(
      port,
      dtlsKeyOptions(2, {
        own: pki.client.certificateChain![0]!,
        server: pki.caDer,
        privateKey: pki.client.privateKey,
      }),
    );
    expect(r.text()).toMatch(/^x509:.*thimble-client/);
    // /0/x/4 may also be the server's own certificate
    const direct = await get(
      port,
      dtlsKeyOptions(2, {
        own: pki.client.certificateChain![0]!,
        server: pki.server.certificateChain![0]!,
        privateKey: pki.client.privateKey,
      }),
    );
    expect(direct.code).toBe(Code.Content);
  });
});
