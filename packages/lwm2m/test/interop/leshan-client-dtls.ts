/**
 * Proves the Leshan client peer's DTLS modes (./leshan-client-peer.ts) against something real before our
 * own DTLS server exists: Leshan's server demo 2.0.0-M4, with the client's credentials added through its
 * REST security API (`PUT /api/security/clients`), registers the client over coaps:// and reads and writes
 * it through its REST API. PSK (LwM2M TS Core 1.1 §7.1.1, with a DTLS Connection ID offered) and RPK
 * (§7.1.2, RFC 7250), and a wrong PSK that must not register.
 *
 * Called from leshan.test.ts inside its suite, so one Leshan JVM serves every Leshan test (two at once
 * overload a two-core CI machine).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type Leshan, listenEvents, rest } from './leshan.js';
import { requireLeshanClientPeer, startLeshanClientPeer } from './leshan-client-peer.js';

async function listed(leshan: Leshan, name: string): Promise<boolean> {
  const list = (await rest('GET', `${leshan.api}/clients`)).json as unknown as { endpoint: string }[];
  return Array.isArray(list) && list.some((c) => c.endpoint === name);
}

/** The Leshan client peer over DTLS against the Leshan that `current()` returns once the suite's beforeAll ran. */
export function describeLeshanClientDtls(current: () => Leshan): void {
  const available = requireLeshanClientPeer('Leshan client peer over DTLS');

  describe.skipIf(!available)('Leshan client peer (leshan-client-cf 2.0.0-M4) over DTLS', () => {
    let leshan: Leshan;
    let dir = '';
    const EP = `leshan-client-dtls-${process.pid}`;
    const added: string[] = [];

    beforeAll(() => {
      leshan = current();
      dir = mkdtempSync(join(tmpdir(), 'thimble-leshan-client-dtls-'));
    });

    afterAll(async () => {
      for (const name of added) {
        await rest('DELETE', `${leshan.api}/security/clients/${name}`).catch(() => undefined);
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function addSecurity(body: Record<string, unknown> & { endpoint: string }): Promise<void> {
      const put = await rest('PUT', `${leshan.api}/security/clients`, body);
      expect(put.status, JSON.stringify(put.json)).toBe(200);
      added.push(body.endpoint);
    }

    it('PSK (§7.1.1), offering a Connection ID: registers over coaps://, Leshan reads /3/0/0, writes /3/0/14 and observes /3/0/13', async () => {
      const name = `${EP}-psk`;
      const identity = `${name}-identity`;
      const keyHex = randomBytes(16).toString('hex');
      await addSecurity({ endpoint: name, psk: { identity, key: keyHex } });
      const client = startLeshanClientPeer({
        endpoint: name,
        serverUri: `coaps://127.0.0.1:${leshan.coapsPort}`,
        security: { mode: 'psk', identity, keyHex },
        cid: 4,
      });
      try {
        const registered = await client.waitFor('registered', 40_000);
        expect(registered.server).toBe(`coaps://127.0.0.1:${leshan.coapsPort}`);
        expect(await listed(leshan, name)).toBe(true);
        const base = `${leshan.api}/clients/${name}`;
        const info = (await rest('GET', base)).json;
        expect(JSON.stringify(info)).toContain('"secure":true');

        const read = await rest('GET', `${base}/3/0/0`);
        expect(read.status).toBe(200);
        expect(read.json.content?.value).toBe('Leshan Demo Device');

        const write = await rest('PUT', `${base}/3/0/14?format=TEXT`, { id: 14, value: '+02:00' });
        expect(write.json.status, JSON.stringify(write.json)).toBe('CHANGED(204)');
        await eventually(
          () =>
            client.events.some((e) => e.event === 'write' && e.path === '/3/0/14' && e.value === '+02:00'),
          10_000,
          'the client saw the write',
        );
        expect((await rest('GET', `${base}/3/0/14`)).json.content?.value).toBe('+02:00');

        // Current Time changes every second on the client: notifications arrive over the DTLS session
        const sse = listenEvents(leshan.api, name);
        try {
          await sse.ready;
          const observe = await rest('POST', `${base}/3/0/13/observe`);
          expect(observe.json.status).toBe('CONTENT(205)');
          await eventually(
            () =>
              sse.events.filter((e) => e.event === 'NOTIFICATION' && e.data.res === '/3/0/13').length >= 2,
            15_000,
            'two notifications of /3/0/13',
          );
          expect((await rest('DELETE', `${base}/3/0/13/observe`)).status).toBe(200);
        } finally {
          sse.close();
        }
      } finally {
        await client.stop();
      }
      expect(client.events.some((e) => e.event === 'deregistered')).toBe(true);
      await eventually(async () => !(await listed(leshan, name)), 10_000, 'de-registered');
    }, 120_000);

    it('PSK: a wrong key does not register, and Leshan does not list the client', async () => {
      const name = `${EP}-wrong`;
      const identity = `${name}-identity`;
      await addSecurity({ endpoint: name, psk: { identity, key: randomBytes(16).toString('hex') } });
      const client = startLeshanClientPeer({
        endpoint: name,
        serverUri: `coaps://127.0.0.1:${leshan.coapsPort}`,
        security: { mode: 'psk', identity, keyHex: randomBytes(16).toString('hex') },
        // Leshan drops the bad Finished silently: the handshake fails by timeout, 1 + 2 s here
        dtlsRetransmissions: 1,
      });
      try {
        await client.waitFor('registration-failed', 60_000);
        expect(client.events.some((e) => e.event === 'registered')).toBe(false);
        expect(await listed(leshan, name)).toBe(false);
      } finally {
        await client.stop();
      }
    }, 90_000);

    it('RPK (§7.1.2, RFC 7250): registers with its raw public key added through the security API and trusts the demo by its key', async () => {
      const name = `${EP}-rpk`;
      const key = join(dir, 'client.key');
      const pub = join(dir, 'client.pub');
      execFileSync('openssl', [
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        key,
      ]);
      execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
      const spkiHex = execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-outform', 'DER']).toString(
        'hex',
      );
      // The demo's own public key (from its certificate) is what the client pins
      const server = (await rest('GET', `${leshan.api}/server/security`)).json as {
        certificate?: { pubkey?: { b64Der?: string } };
        pubkey?: { b64Der?: string };
      };
      const serverDer = server.pubkey?.b64Der ?? server.certificate?.pubkey?.b64Der;
      expect(serverDer, JSON.stringify(server)).toBeTypeOf('string');
      const serverPub = join(dir, 'server.pub');
      writeFileSync(serverPub, `-----BEGIN PUBLIC KEY-----\n${serverDer}\n-----END PUBLIC KEY-----\n`);
      await addSecurity({ endpoint: name, rpk: { key: spkiHex } });

      const client = startLeshanClientPeer({
        endpoint: name,
        serverUri: `coaps://127.0.0.1:${leshan.coapsPort}`,
        security: { mode: 'rpk', privateKey: key, publicKey: pub, serverPublicKey: serverPub },
      });
      try {
        await client.waitFor('registered', 40_000);
        const read = await rest('GET', `${leshan.api}/clients/${name}/3/0/0`);
        expect(read.status).toBe(200);
        expect(read.json.content?.value).toBe('Leshan Demo Device');
      } finally {
        await client.stop();
      }
      await eventually(async () => !(await listed(leshan, name)), 10_000, 'de-registered');
    }, 90_000);
  });
}
