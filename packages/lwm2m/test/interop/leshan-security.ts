/**
 * Interop with Eclipse Leshan's server demo over DTLS (LwM2M TS Core 1.1 §7.1, Security Mode PSK): our
 * client takes its PSK identity and key from the Security object (/0/x/3, /0/x/5), Leshan gets the same
 * credentials through its REST security API (`PUT /api/security/clients`). A wrong key must not register.
 *
 * Called from leshan.test.ts inside its suite, so one Leshan JVM serves both (two at once overload a
 * two-core CI machine).
 *
 * OSCORE: the 2.0.0-M4 demo's security API takes `psk`, `rpk` and `x509` only (its SecurityDeserializer
 * has no OSCORE branch) and its CoAP server has no OSCORE layer, so there is no OSCORE test against it;
 * the last test pins that the API refuses an OSCORE entry, so a Leshan that starts accepting one is noticed.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, toHex } from '@thimble/coap-core';
import { Lwm2mClient, Lwm2mClientError } from '@thimble/lwm2m';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { nodeServerTransports } from '../../src/node/client.js';
import { EXAMPLE_OBJECT_VERSIONS, installExampleDevice } from '../../src/node/example-device.js';
import { eventually, type Leshan, rest } from './leshan.js';

function pskClient(leshan: Leshan, name: string, identity: string, key: Uint8Array, attempts: number) {
  const client = new Lwm2mClient({
    endpointName: name,
    // a cold JVM takes a few seconds over its first handshake
    transports: nodeServerTransports({ address: '127.0.0.1', handshakeTimeout: 8_000 }),
    lifetime: 60,
    version: '1.1',
    objectVersions: EXAMPLE_OBJECT_VERSIONS,
    requestTimeout: 10_000,
    retry: { count: attempts, timer: 1, sequenceDelay: 1, sequenceCount: 1 },
  });
  const device = installExampleDevice(client, {
    serverUri: `coaps://127.0.0.1:${leshan.coapsPort}`,
    security: { mode: 0, identity: new TextEncoder().encode(identity), key },
    lifetime: 60,
    clock: systemClock,
    interval: 0,
  });
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  return { client, device, errors };
}

async function listed(leshan: Leshan, name: string): Promise<boolean> {
  const list = (await rest('GET', `${leshan.api}/clients`)).json as unknown as { endpoint: string }[];
  return Array.isArray(list) && list.some((c) => c.endpoint === name);
}

/** The DTLS PSK tests, against the Leshan that `current()` returns once the suite's beforeAll ran. */
export function describeDtlsInterop(current: () => Leshan): void {
  describe('over DTLS with a PSK (Security Mode 0)', () => {
    let leshan: Leshan;
    const EP = `thimble-psk-${process.pid}`;

    beforeAll(() => {
      leshan = current();
    });

    afterAll(async () => {
      await rest('DELETE', `${leshan.api}/security/clients/${EP}`).catch(() => undefined);
    });

    it('registers over DTLS with a PSK added through the security API; Leshan lists it and reads it', async () => {
      const identity = `${EP}-identity`;
      const key = new Uint8Array(randomBytes(16));
      const put = await rest('PUT', `${leshan.api}/security/clients`, {
        endpoint: EP,
        psk: { identity, key: toHex(key) },
      });
      expect(put.status).toBe(200);
      const { client, device, errors } = pskClient(leshan, EP, identity, key, 5);
      client.start();
      try {
        await eventually(
          () => client.registrationState === 'registered',
          40_000,
          'registered over DTLS',
        ).catch((e: Error) => {
          throw new Error(
            `${e.message}\nclient errors:\n${errors.map((x) => x.message).join('\n')}\nLeshan:\n${leshan.output().slice(-3000)}`,
          );
        });
        expect(client.servers()[0]).toMatchObject({ securityMode: 0, state: 'registered' });
        expect(await listed(leshan, EP)).toBe(true);
        // Leshan reaches the device over the same DTLS session
        const read = await rest('GET', `${leshan.api}/clients/${EP}/3/0/0`);
        expect(read.status).toBe(200);
        expect(read.json.content?.value).toBe('Thimble');
        // Leshan knows the session is secured with that identity
        const info = (await rest('GET', `${leshan.api}/clients/${EP}`)).json as Record<string, unknown>;
        expect(JSON.stringify(info)).toContain('"secure":true');
      } finally {
        device.stop();
        await client.stop();
      }
      await eventually(async () => !(await listed(leshan, EP)), 10_000, 'de-registered');
    }, 90_000);

    it('does not register with a wrong key: a security error, and Leshan does not list it', async () => {
      const name = `${EP}-wrong`;
      const identity = `${name}-identity`;
      const put = await rest('PUT', `${leshan.api}/security/clients`, {
        endpoint: name,
        psk: { identity, key: toHex(new Uint8Array(randomBytes(16))) },
      });
      expect(put.status).toBe(200);
      const { client, device, errors } = pskClient(
        leshan,
        name,
        identity,
        new Uint8Array(randomBytes(16)),
        2,
      );
      client.start();
      try {
        await eventually(() => client.registrationState === 'failed', 40_000, 'registration given up');
        const security = errors.filter((e) => e instanceof Lwm2mClientError && e.reason === 'security');
        expect(security.length, errors.map((e) => e.message).join('\n')).toBeGreaterThan(0);
        expect(await listed(leshan, name)).toBe(false);
      } finally {
        device.stop();
        await client.stop();
        await rest('DELETE', `${leshan.api}/security/clients/${name}`).catch(() => undefined);
      }
    }, 90_000);

    it('the lwm2m client command registers over coaps:// with --psk-identity and --psk-key', async () => {
      const name = `${EP}-cli`;
      const key = new Uint8Array(randomBytes(16));
      await rest('PUT', `${leshan.api}/security/clients`, {
        endpoint: name,
        psk: { identity: `${name}-id`, key: toHex(key) },
      });
      let out = '';
      const io = {
        stdout: { write: (d: string) => (out += d) },
        stderr: { write: (d: string) => (out += d) },
      };
      const stop = new AbortController();
      const run = main(
        [
          'client',
          '-e',
          name,
          '-s',
          `coaps://127.0.0.1:${leshan.coapsPort}`,
          '--psk-identity',
          `${name}-id`,
          '--psk-key',
          toHex(key),
          '--host',
          '127.0.0.1',
          '-l',
          '60',
          '--interval',
          '0',
        ],
        io,
        stop.signal,
      );
      try {
        await eventually(() => out.includes('registered at'), 30_000, `CLI registered:\n${out}`);
        expect(await listed(leshan, name)).toBe(true);
      } finally {
        stop.abort();
      }
      expect(await run).toBe(0);
      expect(out).toContain('de-registered');
      await rest('DELETE', `${leshan.api}/security/clients/${name}`).catch(() => undefined);
    }, 60_000);

    it('the lwm2m client command registers in Security Mode RPK (--rpk-key/--server-key, §7.1.2); Leshan reads, writes and observes it', async () => {
      const name = `${EP}-rpk`;
      const dir = mkdtempSync(join(tmpdir(), 'thimble-leshan-rpk-'));
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      writeFileSync(join(dir, 'client.key'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
      const spkiHex = Buffer.from(publicKey.export({ format: 'der', type: 'spki' })).toString('hex');
      // the demo's own public key is what the client pins (/0/x/4)
      const server = (await rest('GET', `${leshan.api}/server/security`)).json as {
        certificate?: { pubkey?: { b64Der?: string } };
        pubkey?: { b64Der?: string };
      };
      const serverDer = server.pubkey?.b64Der ?? server.certificate?.pubkey?.b64Der;
      expect(serverDer, JSON.stringify(server)).toBeTypeOf('string');
      writeFileSync(
        join(dir, 'server.pub'),
        `-----BEGIN PUBLIC KEY-----\n${serverDer}\n-----END PUBLIC KEY-----\n`,
      );
      const put = await rest('PUT', `${leshan.api}/security/clients`, {
        endpoint: name,
        rpk: { key: spkiHex },
      });
      expect(put.status).toBe(200);
      let out = '';
      const io = {
        stdout: { write: (d: string) => (out += d) },
        stderr: { write: (d: string) => (out += d) },
      };
      const stop = new AbortController();
      const run = main(
        [
          'client',
          '-e',
          name,
          '-s',
          `coaps://127.0.0.1:${leshan.coapsPort}`,
          '--rpk-key',
          join(dir, 'client.key'),
          '--server-key',
          join(dir, 'server.pub'),
          '--host',
          '127.0.0.1',
          '-l',
          '60',
          '--interval',
          '0',
        ],
        io,
        stop.signal,
      );
      try {
        await eventually(() => out.includes('registered at'), 30_000, `CLI registered:\n${out}`);
        expect(await listed(leshan, name)).toBe(true);
        const base = `${leshan.api}/clients/${name}`;
        const read = await rest('GET', `${base}/3/0/0`);
        expect(read.status).toBe(200);
        expect(read.json.content?.value).toBe('Thimble');
        const write = await rest('PUT', `${base}/3/0/14?format=TEXT`, { id: 14, value: '+02:00' });
        expect(write.json.status, JSON.stringify(write.json)).toBe('CHANGED(204)');
        expect((await rest('GET', `${base}/3/0/14`)).json.content?.value).toBe('+02:00');
        const observe = await rest('POST', `${base}/3/0/13/observe`);
        expect(observe.status, JSON.stringify(observe.json)).toBe(200);
        expect(JSON.stringify(observe.json)).toContain('CONTENT');
        const info = (await rest('GET', base)).json as Record<string, unknown>;
        expect(JSON.stringify(info)).toContain('"secure":true');
      } finally {
        stop.abort();
      }
      expect(await run).toBe(0);
      await rest('DELETE', `${leshan.api}/security/clients/${name}`).catch(() => undefined);
    }, 60_000);

    it('2.0.0-M4 has no OSCORE in its security API (so no OSCORE interop with it)', async () => {
      const r = await rest('PUT', `${leshan.api}/security/clients`, {
        endpoint: `${EP}-oscore`,
        oscore: { rid: '01', sid: '02', msec: '00112233445566778899aabbccddeeff', aead: 10, hkdf: -10 },
      });
      expect(r.status).toBe(400);
    });
  });
}
