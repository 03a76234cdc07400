/**
 * Interop with a Leshan client (Eclipse Leshan's client library 2.0.0-M4, LwM2M 1.1): the small Java peer
 * in ./leshan-client/ (built by `.ci/run` into .interop/leshan-client/) registers with our Lwm2mServer on
 * UDP loopback; we read, write, observe through the Lwm2mServer API and see it de-register; and the same
 * through the REST API (`createRestApi`) on a real HTTP listener, with notifications on its event stream.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CoapEndpoint } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import {
  Lwm2mBootstrapServer,
  type Lwm2mNode,
  Lwm2mServer,
  MemoryBootstrapConfigStore,
  type Registration,
} from '@thimble/lwm2m';
import { requireJavaPeer } from '@thimble/test-support/peers';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readServerSentEvents } from '../../src/cli/firmware.js';
import { createRestApi, startRestApi } from '../../src/node/index.js';

const DIR = fileURLToPath(new URL('../../../../.interop/leshan-client/', import.meta.url));
const JAR = `${DIR}thimble-leshan-client.jar`;

function requireLeshanClient(): boolean {
  return requireJavaPeer(
    'Leshan client interop',
    [{ what: '', path: JAR }],
    'run .ci/run, which builds packages/lwm2m/test/interop/leshan-client with mvn',
  );
}

const available = requireLeshanClient();

interface PeerEvent {
  readonly event: string;
  readonly [key: string]: string;
}

/** The Leshan client process; its stdout is one JSON event per line. */
class LeshanClientPeer {
  readonly events: PeerEvent[] = [];
  private output = '';
  readonly process: ChildProcess;

  constructor(endpoint: string, serverUri: string, bootstrap = false) {
    const args = ['-Xmx128m', '-jar', JAR, '-n', endpoint, '-u', serverUri, '-l', '60'];
    if (bootstrap) args.push('-b');
    this.process = spawn('java', args, {
      cwd: DIR,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let line = '';
    this.process.stdout!.on('data', (d: Buffer) => {
      line += d.toString();
      for (let i = line.indexOf('\n'); i >= 0; i = line.indexOf('\n')) {
        const l = line.slice(0, i).trim();
        line = line.slice(i + 1);
        this.keep(`${l}\n`);
        try {
          this.events.push(JSON.parse(l) as PeerEvent);
        } catch {
          // not an event line
        }
      }
    });
    this.process.stderr!.on('data', (d: Buffer) => this.keep(d.toString()));
  }

  private keep(s: string): void {
    this.output = (this.output + s).slice(-32768);
  }

  log(): string {
    return this.output;
  }

  has(event: string): boolean {
    return this.events.some((e) => e.event === event);
  }
}

function waitFor<T>(
  what: string,
  timeoutMs: number,
  subscribe: (done: (v: T) => void, fail: (e: Error) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not seen within ${timeoutMs} ms`)), timeoutMs);
    subscribe(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

const leafValue = (node: Lwm2mNode): unknown =>
  node.kind === 'resource' || node.kind === 'resourceInstance' ? node.value : undefined;

const TEXT = 0;
const SENML_JSON = 110;
const SENML_CBOR = 112;
const TLV = 11542;

describe.skipIf(!available)('Leshan client (leshan-client-cf 2.0.0-M4) against Lwm2mServer', () => {
  const EP = `leshan-client-${process.pid}`;
  let endpoint: CoapEndpoint;
  let server: Lwm2mServer;
  let peer: LeshanClientPeer;
  let registration: Registration;

  beforeAll(async () => {
    endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    server = new Lwm2mServer({ endpoint });
    peer = new LeshanClientPeer(EP, `coap://127.0.0.1:${endpoint.transport.local.port}`);
    const registered = waitFor<Registration>('registration of the Leshan client', 45_000, (done, fail) => {
      server.on('registered', (r) => {
        if (r.endpoint === EP) done(r);
      });
      peer.process.once('exit', (code) => fail(new Error(`the Leshan client exited (${code})`)));
    });
    try {
      registration = await registered;
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${peer.log()}`);
    }
  }, 60_000);

  afterAll(async () => {
    if (peer !== undefined && peer.process.exitCode === null) peer.process.kill('SIGKILL');
    server?.close();
    await endpoint?.close();
  });

  it('registers with LwM2M 1.1 and its objects', () => {
    expect(registration.version).toBe('1.1');
    const paths = registration.objects.map((o) => o.path.join('/'));
    for (const p of ['1/0', '3/0', '3303/0']) expect(paths).toContain(p);
    expect(paths.some((p) => p.startsWith('0'))).toBe(false);
  });

  it.each([
    ['TLV', TLV],
    ['SenML JSON', SENML_JSON],
    ['SenML CBOR', SENML_CBOR],
    ['text', TEXT],
  ])('reads /3/0/0 in %s', async (_name, format) => {
    const node = await server.read(EP, '/3/0/0', { format, timeout: 5000 });
    expect(node.kind).toBe('resource');
    expect(leafValue(node)).toBe('Leshan Demo Device');
  });

  it('reads the whole Device instance (TLV)', async () => {
    const node = await server.read(EP, '/3/0', { format: TLV, timeout: 5000 });
    expect(node.kind).toBe('objectInstance');
    if (node.kind !== 'objectInstance') return;
    const byId = new Map(node.resources.map((r) => [r.id, r]));
    expect(leafValue(byId.get(0)!)).toBe('Leshan Demo Device');
    expect(leafValue(byId.get(1)!)).toBe('Model 500');
  });

  it('writes /3/0/15 (Timezone) and /3/0/14 (UTC Offset) and reads them back', async () => {
    await server.write(EP, '/3/0/15', { kind: 'resource', id: 15, type: 'String', value: 'Europe/Paris' });
    expect(leafValue(await server.read(EP, '/3/0/15', { format: TEXT }))).toBe('Europe/Paris');
    await server.write(
      EP,
      '/3/0/14',
      { kind: 'resource', id: 14, type: 'String', value: '+01:00' },
      { format: TLV },
    );
    expect(leafValue(await server.read(EP, '/3/0/14', { format: SENML_JSON }))).toBe('+01:00');
    expect(peer.events).toContainEqual(
      expect.objectContaining({ event: 'write', path: '/3/0/15', value: 'Europe/Paris' }),
    );
  });

  it('observes /3303/0/5700 (a temperature changing every second) and receives notifications', async () => {
    const observation = await server.observe(EP, '/3303/0/5700', { format: SENML_CBOR });
    expect(observation.latest?.kind).toBe('resource');
    const values: unknown[] = [];
    await waitFor<void>('two notifications', 10_000, (done) =>
      observation.on('notification', (n) => {
        values.push(leafValue(n));
        if (values.length >= 2) done();
      }),
    );
    for (const v of values) expect(typeof v).toBe('number');
    await observation.cancel();
  }, 15_000);

  it('observes /3/0/13 (Current Time) and receives notifications', async () => {
    const observation = await server.observe(EP, '/3/0/13', { format: TLV });
    const notified: Lwm2mNode[] = [];
    await waitFor<void>('two notifications', 10_000, (done) =>
      observation.on('notification', (n) => {
        notified.push(n);
        if (notified.length >= 2) done();
      }),
    );
    expect(notified[0]!.kind).toBe('resource');
    await observation.cancel();
  }, 15_000);

  it('de-registers when stopped (SIGTERM)', async () => {
    const gone = waitFor<Registration>('de-registration', 15_000, (done) =>
      server.on('deregistered', (r) => {
        if (r.endpoint === EP) done(r);
      }),
    );
    peer.process.kill('SIGTERM');
    const r = await gone;
    expect(r.id).toBe(registration.id);
    expect(server.registration(EP)).toBeUndefined();
    await waitFor<void>('peer exit', 10_000, (done) => {
      if (peer.process.exitCode !== null) done();
      else peer.process.once('exit', () => done());
    });
    expect(peer.has('deregistered')).toBe(true);
  }, 30_000);
});

describe.skipIf(!available)(
  'Leshan client (-b) bootstraps from our Lwm2mBootstrapServer, then registers with Lwm2mServer',
  () => {
    const EP = `leshan-client-bs-${process.pid}`;
    let serverEndpoint: CoapEndpoint;
    let bsEndpoint: CoapEndpoint;
    let server: Lwm2mServer;
    let bs: Lwm2mBootstrapServer;
    let peer: LeshanClientPeer | undefined;

    beforeAll(async () => {
      serverEndpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
      bsEndpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
      server = new Lwm2mServer({ endpoint: serverEndpoint });
      const store = new MemoryBootstrapConfigStore();
      store.set(EP, {
        discover: true,
        security: {
          1: {
            uri: `coap://127.0.0.1:${serverEndpoint.transport.local.port}`,
            bootstrapServer: false,
            securityMode: 'nosec',
            shortServerId: 321,
          },
        },
        servers: { 0: { shortServerId: 321, lifetime: 45 } },
      });
      bs = new Lwm2mBootstrapServer({ endpoint: bsEndpoint, store });
    });

    afterAll(async () => {
      if (peer !== undefined && peer.process.exitCode === null) peer.process.kill('SIGKILL');
      bs?.close();
      server?.close();
      await bsEndpoint?.close();
      await serverEndpoint?.close();
    });

    it('is bootstrapped (Discover, Delete, Writes, Finish), registers with the server it was given and de-registers when its stdin closes', async () => {
      const operations: string[] = [];
      bs.on('operation', (session, e) => {
        if (session.endpoint === EP) operations.push(`${e.operation} ${e.path}`);
      });
      const succeeded = waitFor<void>('bootstrap session success', 45_000, (done, fail) => {
        bs.on('sessionSucceeded', (session) => {
          if (session.endpoint === EP) done();
        });
        bs.on('sessionFailed', (session, reason) => {
          if (session.endpoint === EP) fail(new Error(`bootstrap failed: ${reason}`));
        });
      });
      const registered = waitFor<Registration>('registration after bootstrap', 45_000, (done) =>
        server.on('registered', (r) => {
          if (r.endpoint === EP) done(r);
        }),
      );
      peer = new LeshanClientPeer(EP, `coap://127.0.0.1:${bsEndpoint.transport.local.port}`, true);
      try {
        await succeeded;
        const r = await registered;
        // the lifetime written in the Server object is the one it registers with
        expect(r.lifetime).toBe(45);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${peer.log()}`);
      }
      expect(operations[0]).toMatch(/^Bootstrap-Discover/);
      expect(operations.some((o) => o.startsWith('Bootstrap-Write /0/1'))).toBe(true);
      expect(operations.some((o) => o.startsWith('Bootstrap-Write /1/0'))).toBe(true);
      expect(operations[operations.length - 1]).toMatch(/^Bootstrap-Finish/);
      expect(peer.has('bootstrapped')).toBe(true);
      expect(leafValue(await server.read(EP, '/3/0/0', { format: TLV, timeout: 5000 }))).toBe(
        'Leshan Demo Device',
      );
      const gone = waitFor<Registration>('de-registration', 15_000, (done) =>
        server.on('deregistered', (reg) => {
          if (reg.endpoint === EP) done(reg);
        }),
      );
      // the other way to stop it: its standard input closes (as when the parent goes away)
      peer.process.stdin!.end();
      await gone;
    }, 60_000);
  },
);

describe.skipIf(!available)(
  'Leshan client (leshan-client-cf 2.0.0-M4) through the REST API (issue #8)',
  () => {
    const EP = `leshan-client-rest-${process.pid}`;
    let endpoint: CoapEndpoint;
    let server: Lwm2mServer;
    let app: FastifyInstance;
    let base: string;
    let peer: LeshanClientPeer;
    const abort = new AbortController();
    /** Every event of one `GET /api/events` stream, opened before the peer started. */
    const events: { name: string; data: { [key: string]: unknown } }[] = [];
    let stream: Promise<void>;

    const api = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${base}${path}`, init);
      const text = await res.text();
      return {
        status: res.status,
        body: (text === '' ? undefined : JSON.parse(text)) as { [key: string]: unknown },
      };
    };

    beforeAll(async () => {
      endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
      server = new Lwm2mServer({ endpoint });
      app = await createRestApi({ server });
      base = await startRestApi(app, { port: 0 });
      const res = await fetch(`${base}/api/events`, { signal: abort.signal });
      expect(res.status).toBe(200);
      stream = readServerSentEvents(res.body!, (name, data) =>
        events.push({ name, data: JSON.parse(data) }),
      ).catch(() => undefined);
      peer = new LeshanClientPeer(EP, `coap://127.0.0.1:${endpoint.transport.local.port}`);
      try {
        await waitFor<void>(
          'registration of the Leshan client (seen on /api/events)',
          45_000,
          (done, fail) => {
            const timer = setInterval(() => {
              if (events.some((e) => e.name === 'registered' && e.data.endpoint === EP)) {
                clearInterval(timer);
                done();
              }
            }, 50);
            peer.process.once('exit', (code) => {
              clearInterval(timer);
              fail(new Error(`the Leshan client exited (${code})`));
            });
          },
        );
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${peer.log()}`);
      }
    }, 60_000);

    afterAll(async () => {
      if (peer !== undefined && peer.process.exitCode === null) peer.process.kill('SIGKILL');
      abort.abort();
      await app?.close();
      await stream;
      server?.close();
      await endpoint?.close();
    });

    it('GET /api/clients lists the Leshan endpoint (LwM2M 1.1)', async () => {
      const res = await fetch(`${base}/api/clients`);
      expect(res.status).toBe(200);
      const list = (await res.json()) as { endpoint: string; version: string }[];
      expect(list).toEqual([expect.objectContaining({ endpoint: EP, version: '1.1' })]);
    });

    it.each(['tlv', 'senml-json', 'senml-cbor', 'text'])(
      'GET /api/clients/:ep/3/0/0?format=%s reads "Leshan Demo Device"',
      async (format) => {
        const { status, body } = await api(`/api/clients/${EP}/3/0/0?format=${format}&timeout=5`);
        expect(status).toBe(200);
        expect(body).toEqual({ kind: 'resource', id: 0, type: 'String', value: 'Leshan Demo Device' });
      },
    );

    it('PUT /api/clients/:ep/3/0/15 writes the Timezone (TLV), GET reads it back (SenML JSON)', async () => {
      const put = await api(`/api/clients/${EP}/3/0/15?format=tlv`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: 'Asia/Tokyo' }),
      });
      expect(put.status).toBe(204);
      const read = await api(`/api/clients/${EP}/3/0/15?format=senml-json`);
      expect(read).toEqual({
        status: 200,
        body: { kind: 'resource', id: 15, type: 'String', value: 'Asia/Tokyo' },
      });
      expect(peer.events).toContainEqual(
        expect.objectContaining({ event: 'write', path: '/3/0/15', value: 'Asia/Tokyo' }),
      );
    });

    it('POST /api/clients/:ep/3303/0/5700/observe, then notifications arrive on GET /api/events', async () => {
      const before = events.length;
      const observe = await api(`/api/clients/${EP}/3303/0/5700/observe?format=senml-cbor`, {
        method: 'POST',
      });
      expect(observe.status).toBe(200);
      expect(observe.body).toMatchObject({
        endpoint: EP,
        path: '/3303/0/5700',
        node: { kind: 'resource', id: 5700 },
      });
      const notifications = () =>
        events.slice(before).filter((e) => e.name === 'notification' && e.data.endpoint === EP);
      await waitFor<void>('two notifications on /api/events', 10_000, (done) => {
        const timer = setInterval(() => {
          if (notifications().length >= 2) {
            clearInterval(timer);
            done();
          }
        }, 50);
      });
      for (const n of notifications()) {
        expect(n.data.path).toBe('/3303/0/5700');
        expect(n.data.node).toMatchObject({ kind: 'resource', id: 5700, type: 'Float' });
        expect(typeof (n.data.node as { value: unknown }).value).toBe('number');
      }
      const cancel = await api(`/api/clients/${EP}/3303/0/5700/observe`, { method: 'DELETE' });
      expect(cancel).toEqual({ status: 200, body: { cancelled: 1 } });
    }, 15_000);

    it('a deregistered event on GET /api/events when the peer stops (SIGTERM); the list is empty', async () => {
      peer.process.kill('SIGTERM');
      await waitFor<void>('deregistered on /api/events', 15_000, (done) => {
        const timer = setInterval(() => {
          if (events.some((e) => e.name === 'deregistered' && e.data.endpoint === EP)) {
            clearInterval(timer);
            done();
          }
        }, 50);
      });
      expect(await (await fetch(`${base}/api/clients`)).json()).toEqual([]);
      expect((await api(`/api/clients/${EP}/3/0/0`)).status).toBe(404);
    }, 30_000);
  },
);
