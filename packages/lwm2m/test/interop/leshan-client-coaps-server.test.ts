/**
 * A Leshan client (leshan-client-cf 2.0.0-M4, ./leshan-client-peer.ts) registers with our `lwm2m server`
 * over coaps:// (--coaps-port), with credentials added through our REST API (/api/security): PSK (LwM2M TS
 * Core 1.1 §7.1.1) and RPK (§7.1.2, RFC 7250). The registration is authorized by the DTLS session's
 * identity (§6.2.1): a device whose credential is bound to another endpoint name is refused.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { capture, waitFor } from '../cli/io.js';
import { requireLeshanClientPeer, startLeshanClientPeer } from './leshan-client-peer.js';

vi.setConfig({ testTimeout: 90_000, hookTimeout: 30_000 });

const available = requireLeshanClientPeer('Leshan client -> lwm2m server over DTLS');

describe.skipIf(!available)('Leshan client -> lwm2m server --coaps-port (DTLS PSK and RPK)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'thimble-coaps-server-'));
  const out = capture();
  const stop = new AbortController();
  let exit: Promise<number>;
  let api = '';
  let coaps = 0;
  const serverKey = join(dir, 'server.key');
  const serverPub = join(dir, 'server.pub');

  beforeAll(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(serverKey, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(serverPub, publicKey.export({ format: 'pem', type: 'spki' }));
    exit = main(
      [
        'server',
        '--coap-port',
        '0',
        '--http-port',
        '0',
        '--coaps-port',
        '0',
        '--coap-host',
        '127.0.0.1',
        '--dtls-key',
        serverKey,
      ],
      out.io,
      stop.signal,
    );
    const m = await waitFor(
      () => /udp \S+:(\d+), REST API on (http:\/\/\S+)\/api/.exec(out.out()) ?? undefined,
    );
    api = m[2]!;
    coaps = Number(/coaps \(DTLS: PSK, RPK\) on udp \S+:(\d+)/.exec(out.out())![1]);
  });

  afterAll(async () => {
    stop.abort();
    expect(await exit).toBe(0);
  });

  async function putSecurity(endpoint: string, body: unknown) {
    const r = await fetch(`${api}/api/security/${endpoint}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(r.status, await r.clone().text()).toBe(200);
    return r.json();
  }

  async function readManufacturer(endpoint: string): Promise<string> {
    const r = await fetch(`${api}/api/clients/${endpoint}/3/0/0`);
    return `${r.status} ${await r.text()}`;
  }

  it('PSK with a Connection ID: registers, the API reads /3/0/0, the key is never shown', async () => {
    const name = `coaps-psk-${process.pid}`;
    const keyHex = randomBytes(16).toString('hex');
    const shown = await putSecurity(name, { psk: { identity: `${name}-id`, key: keyHex } });
    expect(JSON.stringify(shown)).not.toContain(keyHex);
    const client = startLeshanClientPeer({
      endpoint: name,
      serverUri: `coaps://127.0.0.1:${coaps}`,
      security: { mode: 'psk', identity: `${name}-id`, keyHex },
      cid: 4,
    });
    try {
      await client.waitFor('registered', 40_000);
      await waitFor(() => out.out().includes(`registered "${name}"`) || undefined);
      expect(await readManufacturer(name)).toMatch(/^200 .*Leshan Demo Device/);
    } finally {
      await client.stop();
    }
  });

  it('RPK: registers with its raw public key bound to the endpoint; reads work', async () => {
    const name = `coaps-rpk-${process.pid}`;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = join(dir, `${name}.key`);
    const pub = join(dir, `${name}.pub`);
    writeFileSync(key, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(pub, publicKey.export({ format: 'pem', type: 'spki' }));
    const spkiHex = Buffer.from(publicKey.export({ format: 'der', type: 'spki' })).toString('hex');
    await putSecurity(name, { rpk: { publicKey: spkiHex } });
    const client = startLeshanClientPeer({
      endpoint: name,
      serverUri: `coaps://127.0.0.1:${coaps}`,
      security: { mode: 'rpk', privateKey: key, publicKey: pub, serverPublicKey: serverPub },
    });
    try {
      await client.waitFor('registered', 40_000);
      expect(await readManufacturer(name)).toMatch(/^200 .*Leshan Demo Device/);
      const reg = (await (await fetch(`${api}/api/clients/${name}`)).json()) as {
        registration: { endpoint: string };
      };
      expect(reg.registration.endpoint).toBe(name);
    } finally {
      await client.stop();
    }
  });

  it('a PSK bound to another endpoint name cannot register under this one (§6.2.1)', async () => {
    const owner = `coaps-owner-${process.pid}`;
    const thief = `coaps-thief-${process.pid}`;
    const keyHex = randomBytes(16).toString('hex');
    await putSecurity(owner, { psk: { identity: `${owner}-id`, key: keyHex } });
    const client = startLeshanClientPeer({
      endpoint: thief,
      serverUri: `coaps://127.0.0.1:${coaps}`,
      security: { mode: 'psk', identity: `${owner}-id`, keyHex },
      lifetime: 30,
    });
    try {
      await waitFor(() => client.events.find((e) => e.event === 'registration-failed') ?? undefined, 40_000);
      expect(out.out()).not.toContain(`registered "${thief}"`);
      expect((await fetch(`${api}/api/clients/${thief}`)).status).toBe(404);
    } finally {
      await client.stop();
    }
  });
});
