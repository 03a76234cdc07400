/** ECDHE_ECDSA with raw public keys (RFC 7250) and X.509 chains (RFC 7252 §9.1.3.2 / §9.1.3.3), in memory. */
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../src/bytes.js';
import { CipherSuites } from '../src/suites.js';
import { Pipe } from './helpers.js';
import { ecKey, makePki } from './keys.js';

describe('ECDHE_ECDSA with raw public keys (RFC 7250)', () => {
  it('authenticates both sides and exposes the peer keys as identities', () => {
    const server = ecKey();
    const client = ecKey();
    const pipe = new Pipe({ ecdsa: server, trustedPublicKeys: [client.publicKey], pskLookup: undefined });
    const c = pipe.connect({ psk: undefined, ecdsa: client, trustedPublicKeys: [server.publicKey] });
    expect(pipe.clientConnected).toBe(true);
    expect(c.cipherSuite).toBe(CipherSuites.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8);
    expect(c.peerIdentity).toMatchObject({ kind: 'rpk', publicKeyHex: toHex(server.publicKey) });
    expect(pipe.sessions[0]!.identity).toMatchObject({ kind: 'rpk', publicKeyHex: toHex(client.publicKey) });
    c.send(utf8('rpk data'));
    pipe.deliver();
    expect(new TextDecoder().decode(pipe.serverData[0])).toBe('rpk data');
  });

  it('negotiates TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 when asked', () => {
    const server = ecKey();
    const pipe = new Pipe({ ecdsa: server, pskLookup: undefined, requireClientCertificate: false });
    const c = pipe.connect({
      psk: undefined,
      trustedPublicKeys: [server.publicKey],
      cipherSuites: [CipherSuites.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256],
    });
    expect(pipe.clientConnected).toBe(true);
    expect(c.cipherSuite).toBe(CipherSuites.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
  });

  it('an untrusted server key fails the client with bad-certificate', () => {
    const pipe = new Pipe({ ecdsa: ecKey(), pskLookup: undefined, requireClientCertificate: false });
    pipe.connect({ psk: undefined, trustedPublicKeys: [ecKey().publicKey] });
    expect(pipe.clientError?.reason).toBe('bad-certificate');
    expect(pipe.serverCloses[0]?.reason).toBe('bad-certificate'); // the alert reached the server
  });

  it('an untrusted client key fails at the server with bad-certificate, and the client learns it', () => {
    const server = ecKey();
    const pipe = new Pipe({ ecdsa: server, pskLookup: undefined, trustedPublicKeys: [ecKey().publicKey] });
    pipe.connect({ psk: undefined, ecdsa: ecKey(), trustedPublicKeys: [server.publicKey] });
    expect(pipe.clientError?.reason).toBe('bad-certificate');
    expect(pipe.serverLog.join('\n')).toContain('bad-certificate');
  });
});

describe('ECDHE_ECDSA with X.509 certificates', () => {
  const pki = makePki();

  it('validates the chain against the trust anchor and exposes the subject', () => {
    const pipe = new Pipe({ ecdsa: pki.server, trustAnchors: [pki.caDer], pskLookup: undefined });
    const c = pipe.connect({ psk: undefined, ecdsa: pki.client, trustAnchors: [pki.caDer] });
    expect(pipe.clientConnected).toBe(true);
    expect(c.peerIdentity).toMatchObject({
      kind: 'x509',
      subject: 'CN=thimble-server',
      issuer: 'CN=Thimble Test CA',
    });
    expect(pipe.sessions[0]!.identity).toMatchObject({ kind: 'x509', subject: 'CN=thimble-client' });
  });

  it('a certificate from another CA fails with bad-certificate', () => {
    const other = makePki();
    const pipe = new Pipe({ ecdsa: other.server, pskLookup: undefined, requireClientCertificate: false });
    pipe.connect({ psk: undefined, trustAnchors: [pki.caDer] });
    expect(pipe.clientError?.reason).toBe('bad-certificate');
  });

  it('an expired certificate fails with bad-certificate (validity checked on the injected wall clock)', () => {
    const pipe = new Pipe({ ecdsa: pki.server, pskLookup: undefined, requireClientCertificate: false });
    pipe.connect({
      psk: undefined,
      trustAnchors: [pki.caDer],
      wallClock: () => Date.now() + 10 * 86_400_000,
    });
    expect(pipe.clientError?.reason).toBe('bad-certificate');
    expect(pipe.clientError?.message).toContain('not valid now');
  });

  it('a server with both PSK and a certificate serves PSK and certificate clients', () => {
    const pipe = new Pipe({ ecdsa: pki.server, requireClientCertificate: false });
    const c = pipe.connect({ psk: undefined, trustAnchors: [pki.caDer] });
    expect(c.cipherSuite?.keyExchange).toBe('ecdhe-ecdsa');
    const pipe2 = new Pipe({ ecdsa: pki.server, requireClientCertificate: false });
    const c2 = pipe2.connect();
    expect(c2.cipherSuite?.name).toBe('TLS_PSK_WITH_AES_128_CCM_8');
  });
});
