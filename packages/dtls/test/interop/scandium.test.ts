/**
 * Interop with Californium Scandium 4.0.0-M6 (the peer in ./scandium, built by `.ci/run`): PSK and
 * ECDHE_ECDSA with raw public keys, both directions, with Connection IDs (RFC 9146) and a change of the
 * client's local port mid-session.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toHex, utf8 } from '../../src/bytes.js';
import { DtlsError } from '../../src/errors.js';
import { connect, DtlsServer } from '../../src/node.js';
import type { EcdsaCredentials } from '../../src/types.js';
import {
  requireScandium,
  runScandiumClient,
  type ScandiumEvent,
  startScandiumServer,
} from './scandium-peer.js';

vi.setConfig({ testTimeout: 60_000 });

const available = requireScandium('DTLS interop with Scandium');
const KEY = utf8('scandium-psk-001');
const PSK = [{ identity: 'scandium', keyHex: toHex(KEY) }];

/** A P-256 key as our credentials and as PEM files for the peer. */
function keyPair(dir: string, name: string): { ours: EcdsaCredentials; keyPem: string; spkiPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = join(dir, `${name}.key.pem`);
  const spkiPem = join(dir, `${name}.pub.pem`);
  writeFileSync(keyPem, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  writeFileSync(spkiPem, publicKey.export({ format: 'pem', type: 'spki' }));
  return {
    ours: {
      privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
      publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    },
    keyPem,
    spkiPem,
  };
}

const recvs = (events: readonly ScandiumEvent[]) =>
  events.filter((e): e is Extract<ScandiumEvent, { kind: 'recv' }> => e.kind === 'recv').map((e) => e.text);

describe.skipIf(!available)('Scandium client -> our DtlsServer', () => {
  let server: DtlsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('PSK CCM_8 with our CID: the session survives the client moving to a new port (RFC 9146 §6)', async () => {
    server = await DtlsServer.listen({
      address: '127.0.0.1',
      pskLookup: (id) => (id === 'scandium' ? KEY : undefined),
    });
    const ports = new Set<number>();
    server.onData((d, peer) => {
      ports.add(peer.port);
      expect(peer.identity).toEqual({ kind: 'psk', identity: 'scandium' });
      server!.send(peer, d);
    });
    const run = await runScandiumClient({
      port: server.local.port,
      psk: PSK,
      cid: 0,
      send: 'hello',
      count: 4,
      rebindAfter: 2,
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(recvs(run.events)).toEqual(['hello', 'hello', 'hello', 'hello']);
    expect(run.events.some((e) => e.kind === 'rebound')).toBe(true);
    expect(ports.size).toBe(2);
    expect(server.stats.migrations).toBe(1);
    const session = run.events.find((e) => e.kind === 'session');
    expect(session).toMatchObject({ cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8' });
    expect((session as { peerCid: string | null }).peerCid).toHaveLength(12); // our 6-byte CID, hex
  });

  it('ECDHE_ECDSA with raw public keys both ways (RFC 7250)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-scandium-'));
    const ours = keyPair(dir, 'server');
    const theirs = keyPair(dir, 'client');
    server = await DtlsServer.listen({
      address: '127.0.0.1',
      ecdsa: ours.ours,
      trustedPublicKeys: [theirs.ours.publicKey],
    });
    const identities: unknown[] = [];
    server.onData((d, peer) => {
      identities.push(peer.identity);
      server!.send(peer, d);
    });
    const run = await runScandiumClient({
      port: server.local.port,
      ecdsaKey: theirs.keyPem,
      ecdsaCertOrRpk: theirs.spkiPem,
      trustRpk: [ours.spkiPem],
      send: 'rpk',
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(recvs(run.events)).toEqual(['rpk']);
    expect(identities[0]).toMatchObject({ kind: 'rpk', publicKeyHex: toHex(theirs.ours.publicKey) });
    const session = run.events.find((e) => e.kind === 'session') as { identity: string; cipherSuite: string };
    expect(session.identity).toBe(`rpk:${toHex(ours.ours.publicKey)}`);
    expect(session.cipherSuite).toMatch(/^TLS_ECDHE_ECDSA_WITH_AES_128_(CCM_8|GCM_SHA256)$/);
  });

  it('a wrong PSK: Scandium is told by an alert, our server logs bad-psk', async () => {
    server = await DtlsServer.listen({
      address: '127.0.0.1',
      pskLookup: (id) => (id === 'scandium' ? KEY : undefined),
    });
    const logs: string[] = [];
    server.onLog((m) => logs.push(m));
    const run = await runScandiumClient({
      port: server.local.port,
      psk: [{ identity: 'scandium', keyHex: toHex(utf8('wrong-key-123456')) }],
      send: 'x',
      answerTimeoutMs: 5000,
    });
    expect(run.code).not.toBe(0);
    expect(run.events.some((e) => e.kind === 'alert' && /decrypt/i.test(e.description))).toBe(true);
    expect(logs.join('\n')).toContain('bad-psk');
  });
});

describe.skipIf(!available)('our client -> Scandium DTLS echo server', () => {
  it('PSK with CIDs both ways; a new local port mid-session keeps the session (RFC 9146 §6)', async () => {
    const peer = await startScandiumServer({ psk: PSK, cid: 4 });
    try {
      const client = await connect({
        host: '127.0.0.1',
        port: peer.port,
        psk: { identity: 'scandium', key: KEY },
        connectionId: 3,
        timeoutMs: 10_000,
      });
      expect(client.connection.sendsConnectionId).toBe(true);
      expect(client.connection.connectionId?.length).toBe(3);
      const echo = async (text: string) => {
        const got = new Promise<string>((resolve) =>
          client.onData((d) => resolve(new TextDecoder().decode(d))),
        );
        client.send(utf8(text));
        return got;
      };
      expect(await echo('before')).toBe('before');
      await client.rebind();
      expect(await echo('after')).toBe('after');
      await peer.waitFor((e): e is Extract<ScandiumEvent, { kind: 'address' }> => e.kind === 'address');
      const session = peer.events.find((e) => e.kind === 'session') as {
        identity: string;
        cid: string | null;
        peerCid: string | null;
      };
      expect(session.identity).toBe('psk:scandium');
      expect(session.cid).toHaveLength(8); // the 4-byte CID it asked us to use
      expect(session.peerCid).toHaveLength(6); // our 3-byte CID
      await client.close();
    } finally {
      await peer.close();
    }
  });

  it('ECDHE_ECDSA with raw public keys both ways', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-scandium-'));
    const ours = keyPair(dir, 'client');
    const theirs = keyPair(dir, 'server');
    const peer = await startScandiumServer({
      ecdsaKey: theirs.keyPem,
      ecdsaCertOrRpk: theirs.spkiPem,
      trustRpk: [ours.spkiPem],
    });
    try {
      const client = await connect({
        host: '127.0.0.1',
        port: peer.port,
        ecdsa: ours.ours,
        trustedPublicKeys: [theirs.ours.publicKey],
        timeoutMs: 10_000,
      });
      expect(client.identity).toMatchObject({ kind: 'rpk', publicKeyHex: toHex(theirs.ours.publicKey) });
      const got = new Promise<string>((resolve) =>
        client.onData((d) => resolve(new TextDecoder().decode(d))),
      );
      client.send(utf8('ecdsa'));
      expect(await got).toBe('ecdsa');
      const session = peer.events.find((e) => e.kind === 'session') as { identity: string };
      expect(session.identity).toBe(`rpk:${toHex(ours.ours.publicKey)}`);
      await client.close();
    } finally {
      await peer.close();
    }
  });

  it('an untrusted server key: our client fails with bad-certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-scandium-'));
    const theirs = keyPair(dir, 'server');
    const peer = await startScandiumServer({
      ecdsaKey: theirs.keyPem,
      ecdsaCertOrRpk: theirs.spkiPem,
      clientAuth: 'none',
    });
    try {
      const error = await connect({
        host: '127.0.0.1',
        port: peer.port,
        trustedPublicKeys: [keyPair(dir, 'other').ours.publicKey],
        timeoutMs: 10_000,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DtlsError);
      expect((error as DtlsError).reason).toBe('bad-certificate');
    } finally {
      await peer.close();
    }
  });
});
