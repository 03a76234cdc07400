/**
 * The REST additions the web console stands on: registrations a page at a time with search and filters
 * (`/api/registrations`), counts (`/api/stats`), object definitions (`/api/objects`), campaign cancel and
 * image / campaign removal, and credentials shown without their keys. In the OpenAPI document, too.
 */
import { createHash } from 'node:crypto';
import { FirmwareCampaigns, type Lwm2mClient } from '@thimble/lwm2m';
import type { InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createRestApi } from '../../src/node/index.js';
import { fwDevice, image } from '../firmware/harness.js';
import { drive, SERVER, until } from '../server/harness.js';
import { FakeSecurityStore } from './fakes.js';
import { restSetup } from './harness.js';

type Page = { total: number; items: { endpoint: string; version: string }[]; nextCursor?: string };

describe('REST API: the registrations a page at a time (/api/registrations, /api/stats)', () => {
  it('pages in endpoint-name order with cursors, searches by prefix and filters by version and queue mode', async () => {
    const s = await restSetup();
    // dev1 (from the setup) plus dev2…dev12: dev2…dev4 LwM2M 1.0, dev5 and dev6 in queue mode
    const clients: Lwm2mClient[] = [];
    for (let n = 2; n <= 12; n++)
      clients.push(
        s.device(n, {
          ...(n <= 4 ? { version: '1.0' } : {}),
          ...(n === 5 || n === 6 ? { queueMode: true } : {}),
        }),
      );
    for (const c of clients) c.start();
    await until(s.clock, () => clients.every((c) => c.registrationState === 'registered'));

    const get = async (query: string): Promise<Page> => {
      const res = await s.call({ method: 'GET', url: `/api/registrations?${query}` });
      expect(res.statusCode, res.body).toBe(200);
      return res.json();
    };
    const names = (p: Page) => p.items.map((i) => i.endpoint);
    const sorted = Array.from({ length: 12 }, (_, i) => `dev${i + 1}`).sort();

    // walk every page: each name once, in order, total on each page
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await get(`limit=5${cursor === undefined ? '' : `&cursor=${cursor}`}`);
      expect(page.total).toBe(12);
      seen.push(...names(page));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(sorted);

    // prefix search: dev1, dev10, dev11, dev12
    const ones = await get('prefix=dev1&limit=3');
    expect(ones).toMatchObject({ total: 4, nextCursor: 'dev11' });
    expect(names(ones)).toEqual(['dev1', 'dev10', 'dev11']);
    expect(names(await get('prefix=dev1&cursor=dev11'))).toEqual(['dev12']);
    expect(await get('prefix=nobody')).toEqual({ total: 0, items: [] });

    // filters, alone and with a prefix
    const v10 = await get('version=1.0');
    expect(v10.total).toBe(3);
    expect(names(v10)).toEqual(['dev2', 'dev3', 'dev4']);
    const queued = await get('queueMode=true');
    expect(names(queued)).toEqual(['dev5', 'dev6']);
    expect((await get('queueMode=false&version=1.1')).total).toBe(7);
    const filteredPage = await get('version=1.1&limit=2&cursor=dev11');
    expect(names(filteredPage)).toEqual(['dev12', 'dev5']);
    expect(filteredPage).toMatchObject({ total: 9, nextCursor: 'dev5' });
    expect((await get(`seenSince=${s.clock.now() + 1}`)).total).toBe(0);
    expect((await get('seenSince=0')).total).toBe(12);

    // a de-registered device leaves the index
    await drive(s.clock, clients[0]!.stop());
    expect(names(await get('prefix=dev2'))).toEqual([]);

    const stats = await s.call({ method: 'GET', url: '/api/stats' });
    expect(stats.json()).toEqual({
      registrations: 11,
      byVersion: { '1.0': 2, '1.1': 9 },
      byBinding: expect.any(Object),
      queueMode: 2,
      services: { firmware: false, bootstrap: false, security: false, messageLog: false },
    });

    for (const bad of ['limit=0', 'limit=1001', 'queueMode=maybe', 'other=1', `prefix=${'x'.repeat(129)}`]) {
      const res = await s.call({ method: 'GET', url: `/api/registrations?${bad}` });
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error).toBe('bad-request');
    }
    // the unpaginated list is as it was: an array
    expect((await s.call({ method: 'GET', url: '/api/clients' })).json()).toHaveLength(11);
  });
});

describe('REST API: Observe-Composite (/api/clients/:ep/composite/observe, Core §6.4.3)', () => {
  it('observes several paths at once, answers the current values, notifies, and cancels', async () => {
    const s = await restSetup();
    const url = '/api/clients/dev1/composite/observe?paths=/3/0/0,/3303/0/5700';
    const res = await s.call({ method: 'POST', url });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      endpoint: 'dev1',
      paths: ['/3/0/0', '/3303/0/5700'],
      entries: expect.arrayContaining([
        expect.objectContaining({ path: '/3/0/0', node: expect.objectContaining({ value: 'Thimble' }) }),
        expect.objectContaining({ path: '/3303/0/5700', node: expect.objectContaining({ value: 21.5 }) }),
      ]),
    });
    // the same paths again: the running observation answers, no second one
    expect((await s.call({ method: 'POST', url })).statusCode).toBe(200);
    expect(s.server.compositeObservationsOf('dev1')).toHaveLength(1);
    const notified: unknown[] = [];
    s.server.on('compositeNotification', (e) => notified.push(e.entries));
    s.client.set('/3303/0/5700', 30.25);
    await until(s.clock, () => notified.length > 0);
    expect(JSON.stringify(notified[0])).toContain('30.25');
    const cancel = await s.call({ method: 'DELETE', url });
    expect(cancel.json()).toEqual({ cancelled: 1 });
    expect((await s.call({ method: 'DELETE', url })).statusCode).toBe(404);
    expect(
      (await s.call({ method: 'POST', url: '/api/clients/dev1/composite/observe?paths=/x' })).statusCode,
    ).toBe(400);
  });
});

describe('REST API: object definitions (/api/objects)', () => {
  it("answers the model's objects with resource names, types, units and operations", async () => {
    const s = await restSetup();
    const all = (await s.call({ method: 'GET', url: '/api/objects' })).json() as {
      id: number;
      name: string;
      resources: { id: number; name: string; type: string; operations: string; units?: string }[];
    }[];
    expect(all.map((o) => o.id)).toEqual(expect.arrayContaining([0, 1, 3, 5, 3303]));
    expect(all.map((o) => o.id)).toEqual([...all.map((o) => o.id)].sort((a, b) => a - b));
    const device = all.find((o) => o.id === 3)!;
    expect(device.name).toBe('Device');
    expect(device.resources.find((r) => r.id === 0)).toMatchObject({
      name: 'Manufacturer',
      type: 'String',
      operations: 'R',
    });
    expect(device.resources.find((r) => r.id === 4)).toMatchObject({ name: 'Reboot', operations: 'E' });

    const some = await s.call({ method: 'GET', url: '/api/objects?ids=3303,3,65000' });
    expect(some.json().map((o: { id: number }) => o.id)).toEqual([3303, 3]);
    const one = await s.call({ method: 'GET', url: '/api/objects/3303' });
    expect(one.json().resources.find((r: { id: number }) => r.id === 5700)).toMatchObject({
      type: 'Float',
    });
    expect((await s.call({ method: 'GET', url: '/api/objects/65000' })).statusCode).toBe(404);
    expect((await s.call({ method: 'GET', url: '/api/objects?ids=3;4' })).statusCode).toBe(400);
  });
});

describe('REST API: credentials are write-only (/api/security)', () => {
  it('never answers a key: identities and SHA-256 fingerprints only, on PUT, GET and the list', async () => {
    const s = await restSetup({ security: new FakeSecurityStore() });
    const key = '00112233445566778899aabbccddeeff';
    const oscore = {
      masterSecret: '0102030405060708090a0b0c0d0e0f10',
      masterSalt: '9e7ca92223786340',
      senderId: '01',
      recipientId: '02',
      idContext: '37cbf3210017a2d3',
    };
    const fp = (hex: string) =>
      createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 16);
    const put = await s.call({
      method: 'PUT',
      url: '/api/security/dev1',
      payload: { psk: { identity: 'dev1-id', key }, oscore },
    });
    expect(put.statusCode).toBe(200);
    const view = {
      endpoint: 'dev1',
      psk: { identity: 'dev1-id', keyFingerprint: fp(key) },
      oscore: {
        senderId: '01',
        recipientId: '02',
        idContext: '37cbf3210017a2d3',
        masterSecretFingerprint: fp(oscore.masterSecret),
        masterSaltFingerprint: fp(oscore.masterSalt),
      },
    };
    expect(put.json()).toEqual(view);
    const one = await s.call({ method: 'GET', url: '/api/security/dev1' });
    expect(one.json()).toEqual(view);
    const list = await s.call({ method: 'GET', url: '/api/security' });
    expect(list.json()).toEqual([view]);
    for (const body of [put.body, one.body, list.body]) {
      expect(body).not.toContain(key);
      expect(body).not.toContain(oscore.masterSecret);
      expect(body).not.toContain(oscore.masterSalt);
    }
    // rotation: a new key, a new fingerprint
    const rotated = await s.call({
      method: 'PUT',
      url: '/api/security/dev1',
      payload: { psk: { identity: 'dev1-id', key: 'ff'.repeat(16) } },
    });
    expect(rotated.json().psk.keyFingerprint).toBe(fp('ff'.repeat(16)));
  });
});

describe('REST API: cancelling campaigns and removing images (/api/firmware)', () => {
  it('cancels a running campaign (queued devices fail, the one in progress is aborted), then removes it and its image', async () => {
    const s = await restSetup();
    const fw = new FirmwareCampaigns({
      server: s.server,
      clock: s.clock,
      publicUri: `coap://${SERVER}:5683`,
      pollInterval: 2000,
      retryDelay: 1000,
    });
    const app = await createRestApi({ server: s.server, firmware: fw });
    const call = (o: InjectOptions) => drive(s.clock, app.inject(o));
    // devices whose update never ends: the install hangs, so the first device stays in "updating"
    const devices = [2, 3, 4].map((n) => fwDevice(s, n, { install: () => new Promise(() => undefined) }));
    for (const d of devices) d.client.start();
    await until(s.clock, () => devices.every((d) => d.client.registrationState === 'registered'));

    const img = image(200_000);
    const up = await call({
      method: 'POST',
      url: '/api/firmware?name=big.bin',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from(img),
    });
    expect(up.statusCode).toBe(201);
    const imageId = up.json().id as string;
    const start = await call({
      method: 'POST',
      url: '/api/firmware/campaigns',
      payload: { imageId, targets: ['dev2', 'dev3', 'dev4'], method: 'push', concurrency: 1 },
    });
    expect(start.statusCode).toBe(201);
    const id = start.json().id as string;
    // the first device is updating, the two others wait (concurrency 1)
    await until(s.clock, () => fw.campaign(id)!.devices[0]!.state === 'updating');

    const busy = await call({ method: 'DELETE', url: `/api/firmware/${imageId}` });
    expect(busy.statusCode).toBe(409);
    const running = await call({ method: 'DELETE', url: `/api/firmware/campaigns/${id}` });
    expect(running.statusCode).toBe(409);
    expect(running.json().message).toMatch(/cancel it first/);

    const cancel = await call({ method: 'POST', url: `/api/firmware/campaigns/${id}/cancel` });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json()).toMatchObject({ cancelled: true });
    const done = await drive(s.clock, fw.finished(id));
    expect(done).toMatchObject({ state: 'finished', cancelled: true, succeeded: 0, failed: 3 });
    for (const d of done.devices) expect(d.error).toBe('the campaign was cancelled');
    // the waiting devices were never started
    expect(done.devices.map((d) => d.attempts)).toEqual([1, 0, 0]);

    expect((await call({ method: 'DELETE', url: `/api/firmware/campaigns/${id}` })).statusCode).toBe(204);
    expect((await call({ method: 'GET', url: `/api/firmware/campaigns/${id}` })).statusCode).toBe(404);
    expect((await call({ method: 'POST', url: `/api/firmware/campaigns/${id}/cancel` })).statusCode).toBe(
      404,
    );
    expect((await call({ method: 'DELETE', url: `/api/firmware/${imageId}` })).statusCode).toBe(204);
    expect((await call({ method: 'DELETE', url: `/api/firmware/${imageId}` })).statusCode).toBe(404);
    expect((await call({ method: 'GET', url: '/api/firmware' })).json()).toEqual([]);
    await app.close();
    fw.close();
  });
});

describe('REST API: the OpenAPI document lists the console routes', () => {
  it('has /api/registrations, /api/stats, /api/objects, cancel and the key-less credentials schema', async () => {
    const s = await restSetup();
    const doc = (await s.call({ method: 'GET', url: '/api/openapi.json' })).json();
    for (const path of [
      '/api/registrations',
      '/api/stats',
      '/api/objects',
      '/api/objects/{objectId}',
      '/api/firmware/campaigns/{id}/cancel',
      '/api/firmware/{id}',
      '/api/clients/{endpoint}/composite/observe',
      '/api/clients/{endpoint}/log',
      '/api/clients/{endpoint}/log/entries',
    ])
      expect(Object.keys(doc.paths), path).toContain(path);
    expect(doc.paths['/api/firmware/{id}']).toHaveProperty('delete');
    expect(doc.components.schemas.EndpointCredentialsView.properties.psk.properties).not.toHaveProperty(
      'key',
    );
    expect(doc.paths['/']).toBeUndefined();
  });
});
