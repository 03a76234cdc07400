import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeBootstrapStore, FakeFirmwareService, FakeSecurityStore } from './fakes.js';
import { restSetup } from './harness.js';

const sha256Hex16 = (hex: string) =>
  createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 16);

const IMAGE = new Uint8Array(3000).map((_, i) => i & 0xff);

describe('REST API: firmware (/api/firmware)', () => {
  it('uploads an image, lists it, starts a campaign and shows it', async () => {
    const firmware = new FakeFirmwareService({}, 1);
    const s = await restSetup({ firmware });
    const up = await s.call({
      method: 'POST',
      url: '/api/firmware?name=v2.bin',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from(IMAGE),
    });
    expect(up.statusCode).toBe(201);
    const image = up.json();
    expect(image).toMatchObject({
      name: 'v2.bin',
      size: 3000,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(firmware.stored.get(image.id)?.data).toEqual(IMAGE);
    expect((await s.call({ method: 'GET', url: '/api/firmware' })).json()).toEqual([image]);

    const started = await s.call({
      method: 'POST',
      url: '/api/firmware/campaigns',
      payload: { imageId: image.id, targets: ['dev1'], method: 'pull', concurrency: 2, retries: 0 },
    });
    expect(started.statusCode).toBe(201);
    const campaign = started.json();
    expect(campaign).toMatchObject({ imageId: image.id, method: 'pull', state: 'running' });
    expect(campaign.devices).toEqual([
      { endpoint: 'dev1', state: 'pending', bytesSent: 0, totalBytes: 3000, attempts: 0 },
    ]);
    // the fake campaign finishes on a timer of its own: wait for it (up to 10 s on a loaded machine)
    let shown = await s.call({ method: 'GET', url: `/api/firmware/campaigns/${campaign.id}` });
    for (let i = 0; i < 200 && shown.json().state !== 'finished'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      shown = await s.call({ method: 'GET', url: `/api/firmware/campaigns/${campaign.id}` });
    }
    expect(shown.json()).toMatchObject({
      state: 'finished',
      succeeded: 1,
      devices: [{ state: 'succeeded' }],
    });
    expect((await s.call({ method: 'GET', url: '/api/firmware/campaigns' })).json()).toHaveLength(1);
    const missing = await s.call({ method: 'GET', url: '/api/firmware/campaigns/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'not-found', message: 'no campaign "nope"' });
  });

  it('refuses bad uploads and campaigns with a JSON message', async () => {
    const s = await restSetup({ firmware: new FakeFirmwareService(), maxImageBytes: 1000 });
    const big = await s.call({
      method: 'POST',
      url: '/api/firmware',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from(IMAGE),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe('payload-too-large');
    const json = await s.call({ method: 'POST', url: '/api/firmware', payload: { image: 'x' } });
    expect(json.statusCode).toBe(400);
    expect(json.json().message).toMatch(/application\/octet-stream/);
    const empty = await s.call({
      method: 'POST',
      url: '/api/firmware',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(0),
    });
    expect(empty.statusCode).toBe(400);
    const unknownImage = await s.call({
      method: 'POST',
      url: '/api/firmware/campaigns',
      payload: { imageId: 'ghost', targets: ['dev1'], method: 'push' },
    });
    expect(unknownImage.statusCode).toBe(400);
    expect(unknownImage.json()).toEqual({ error: 'bad-request', message: 'no image "ghost"' });
    for (const payload of [
      { imageId: 'x', targets: [], method: 'push' },
      { imageId: 'x', targets: ['a'], method: 'pigeon' },
      { imageId: 'x', targets: ['a', 'a'], method: 'push' },
      { targets: ['a'], method: 'push' },
    ]) {
      const res = await s.call({ method: 'POST', url: '/api/firmware/campaigns', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().message).toMatch(/^body/);
    }
  });
});

describe('REST API: credentials (/api/security) and bootstrap configurations (/api/bootstrap)', () => {
  it('puts, gets, lists and deletes credentials; a PSK identity of another endpoint is a conflict', async () => {
    const s = await restSetup({ security: new FakeSecurityStore() });
    const psk = { identity: 'dev1-id', key: '00112233445566778899aabbccddeeff' };
    const put = await s.call({ method: 'PUT', url: '/api/security/dev1', payload: { psk } });
    expect(put.statusCode).toBe(200);
    // secrets are write-only: the answer has the identity and a fingerprint (SHA-256 of the key, 8 bytes)
    expect(put.json()).toEqual({
      endpoint: 'dev1',
      psk: { identity: 'dev1-id', keyFingerprint: sha256Hex16(psk.key) },
    });
    const oscore = { masterSecret: '0102030405060708090a0b0c0d0e0f10', senderId: '01', recipientId: '' };
    await s.call({ method: 'PUT', url: '/api/security/dev2', payload: { endpoint: 'dev2', oscore } });
    expect((await s.call({ method: 'GET', url: '/api/security/dev2' })).json()).toEqual({
      endpoint: 'dev2',
      oscore: { senderId: '01', recipientId: '', masterSecretFingerprint: sha256Hex16(oscore.masterSecret) },
    });
    const rpk = { publicKey: '3059301306072a8648ce3d020106082a8648ce3d03010703420004aa' };
    const putRpk = await s.call({ method: 'PUT', url: '/api/security/dev5', payload: { rpk } });
    expect(putRpk.json()).toEqual({ endpoint: 'dev5', rpk });
    const all = await s.call({ method: 'GET', url: '/api/security' });
    expect(all.json()).toHaveLength(3);
    expect(all.body).not.toContain(psk.key);
    expect(all.body).not.toContain(oscore.masterSecret);
    const taken = await s.call({ method: 'PUT', url: '/api/security/dev3', payload: { psk } });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toEqual({ error: 'conflict', message: 'PSK identity "dev1-id" belongs to "dev1"' });
    for (const payload of [
      { psk: { identity: 'x', key: 'not hex' } },
      { psk: { identity: 'x' } },
      {},
      { endpoint: 'other', psk },
    ]) {
      const res = await s.call({ method: 'PUT', url: '/api/security/dev4', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    expect((await s.call({ method: 'DELETE', url: '/api/security/dev1' })).statusCode).toBe(204);
    expect((await s.call({ method: 'DELETE', url: '/api/security/dev1' })).statusCode).toBe(404);
    expect((await s.call({ method: 'GET', url: '/api/security/dev1' })).statusCode).toBe(404);
  });

  it('puts, gets, lists and deletes bootstrap configurations; the store’s refusal is a 400', async () => {
    const s = await restSetup({ bootstrap: new FakeBootstrapStore() });
    const config = {
      security: {
        '0': {
          uri: 'coap://127.0.0.1:5683',
          bootstrapServer: false,
          securityMode: 'nosec',
          shortServerId: 1,
        },
      },
      servers: { '0': { shortServerId: 1, lifetime: 300 } },
    };
    const put = await s.call({ method: 'PUT', url: '/api/bootstrap/dev1', payload: config });
    expect(put.statusCode).toBe(200);
    expect((await s.call({ method: 'GET', url: '/api/bootstrap/dev1' })).json()).toEqual(config);
    expect((await s.call({ method: 'GET', url: '/api/bootstrap' })).json()).toEqual([
      { endpoint: 'dev1', config },
    ]);
    const inconsistent = await s.call({
      method: 'PUT',
      url: '/api/bootstrap/dev2',
      payload: { ...config, security: { '0': { ...config.security['0'], securityMode: 'psk' } } },
    });
    expect(inconsistent.statusCode).toBe(400);
    expect(inconsistent.json().message).toMatch(/psk needs pskIdentity/);
    const badKey = await s.call({
      method: 'PUT',
      url: '/api/bootstrap/dev2',
      payload: { ...config, servers: { first: { shortServerId: 1, lifetime: 300 } } },
    });
    expect(badKey.statusCode).toBe(400);
    const noServers = await s.call({ method: 'PUT', url: '/api/bootstrap/dev2', payload: { security: {} } });
    expect(noServers.json().message).toMatch(/must have required property 'servers'/);
    expect((await s.call({ method: 'DELETE', url: '/api/bootstrap/dev1' })).statusCode).toBe(204);
    expect((await s.call({ method: 'GET', url: '/api/bootstrap/dev1' })).statusCode).toBe(404);
  });

  it('answers 501 with a JSON message where no service was given', async () => {
    const s = await restSetup();
    for (const [method, url, payload] of [
      ['GET', '/api/firmware', undefined],
      ['GET', '/api/firmware/campaigns/c1', undefined],
      ['POST', '/api/firmware/campaigns', { imageId: 'x', targets: ['dev1'], method: 'push' }],
      ['GET', '/api/security', undefined],
      ['PUT', '/api/security/dev1', { psk: { identity: 'a', key: '00' } }],
      ['GET', '/api/bootstrap/dev1', undefined],
      ['DELETE', '/api/bootstrap/dev1', undefined],
    ] as const) {
      const res = await s.call({ method, url, ...(payload === undefined ? {} : { payload }) });
      expect(res.statusCode, `${method} ${url}`).toBe(501);
      expect(res.json()).toMatchObject({
        error: 'not-implemented',
        message: expect.stringMatching(/^this server has no/),
      });
    }
  });
});
