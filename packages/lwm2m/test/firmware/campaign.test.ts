/**
 * Firmware campaigns (FirmwareCampaigns on Lwm2mServer) to plain Lwm2mClient devices on the in-memory
 * network with fake time: push and pull to 20 devices, 100 devices over a lossy network, and every way a
 * device can fail. Each device's sink hashes what it received, so images are checked byte for byte.
 */
import {
  type CampaignStatus,
  FirmwareCampaigns,
  type FirmwareEvent,
  FirmwareState,
  UpdateResult,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, registered, SERVER, serverSetup, until } from '../server/harness.js';
import { type FwDevice, fwDevice, image, sha256Hex } from './harness.js';

async function fleet(
  s: ReturnType<typeof serverSetup>,
  n: number,
  options: Parameters<typeof fwDevice>[2] = {},
): Promise<FwDevice[]> {
  const devices: FwDevice[] = [];
  for (let i = 1; i <= n; i++) devices.push(fwDevice(s, i, options));
  for (const d of devices) d.client.start();
  await until(s.clock, () => devices.every((d) => d.client.registrationState === 'registered'));
  return devices;
}

function campaigns(
  s: ReturnType<typeof serverSetup>,
  extra: Partial<ConstructorParameters<typeof FirmwareCampaigns>[0]> = {},
) {
  return new FirmwareCampaigns({
    server: s.server,
    clock: s.clock,
    publicUri: `coap://${SERVER}:5683`,
    pollInterval: 2000,
    retryDelay: 1000,
    ...extra,
  });
}

async function finish(
  s: ReturnType<typeof serverSetup>,
  fw: FirmwareCampaigns,
  id: string,
): Promise<CampaignStatus> {
  return drive(s.clock, fw.finished(id), 3_600_000);
}

/**
 * Every device has the image and installed it (once; on a lossy network an Execute whose answer and state
 * reads were all lost may be repeated by the next attempt, which is allowed with `lossy`).
 */
function expectUpdated(devices: FwDevice[], img: Uint8Array, lossy = false): void {
  const sha = sha256Hex(img);
  for (const d of devices) {
    expect(d.sink.finished, d.client.endpointName).toBe(sha);
    if (lossy) {
      expect(d.installs.length).toBeGreaterThanOrEqual(1);
      expect(new Set(d.installs)).toEqual(new Set([sha]));
    } else expect(d.installs, d.client.endpointName).toEqual([sha]);
    expect(d.fw.state).toBe(FirmwareState.Idle);
    expect(d.fw.result).toBe(UpdateResult.Success);
    expect(d.client.get('/3/0/3')).toBe('2.0.0');
  }
}

describe('FirmwareCampaigns', () => {
  it.each(['push', 'pull'] as const)(
    'a %s campaign to 20 devices: every device gets the image byte for byte and installs it',
    async (method) => {
      const s = serverSetup();
      s.network.conditions = { delay: 2 };
      const devices = await fleet(s, 20);
      const fw = campaigns(s);
      const img = image(9000, 5);
      const info = await fw.addImage('app-2.0.0.bin', img);
      expect(info).toMatchObject({ name: 'app-2.0.0.bin', size: 9000, sha256: sha256Hex(img) });
      const events: FirmwareEvent[] = [];
      fw.subscribe((e) => events.push(e));
      let downloading = 0;
      let maxDownloading = 0;
      fw.subscribe((e) => {
        if (e.type !== 'progress') return;
        downloading = fw
          .campaign(e.campaignId)!
          .devices.filter((d) => ['downloading', 'downloaded', 'updating'].includes(d.state)).length;
        maxDownloading = Math.max(maxDownloading, downloading);
      });
      const started = fw.startCampaign({
        imageId: info.id,
        targets: devices.map((d) => d.client.endpointName),
        method,
        concurrency: 5,
      });
      expect(started.state).toBe('running');
      expect(started.devices.every((d) => d.state === 'pending' && d.totalBytes === 9000)).toBe(true);
      const done = await finish(s, fw, started.id);
      expect(done.state).toBe('finished');
      expect([done.succeeded, done.failed]).toEqual([20, 0]);
      for (const d of done.devices) {
        expect(d.state).toBe('succeeded');
        expect(d.bytesSent).toBe(9000);
        expect(d.attempts).toBe(1);
        expect(d.updateResult).toBe(1);
      }
      expectUpdated(devices, img);
      expect(maxDownloading).toBeLessThanOrEqual(5);
      // progress per device: bytes grow block by block, then the states follow one another
      const mine = events.filter((e) => e.type === 'progress' && e.endpoint === 'dev7');
      const bytes = mine.map((e) => (e.type === 'progress' ? e.bytesSent : 0));
      expect(new Set(bytes).size).toBeGreaterThanOrEqual(9);
      expect(
        mine.map((e) => (e.type === 'progress' ? e.state : '')).filter((v, i, a) => a[i - 1] !== v),
      ).toEqual(['downloading', 'downloaded', 'updating', 'succeeded']);
      expect(events.filter((e) => e.type === 'campaign-finished').length).toBe(1);
      // the sinks got blocks, not the image in one piece
      for (const d of devices) expect(Math.max(...d.sink.chunks)).toBeLessThanOrEqual(1024);
    },
  );

  it('100 devices over a network losing 10% of datagrams: every device ends with the new image, byte for byte', async () => {
    const s = serverSetup({ seed: 11 });
    const devices = await fleet(s, 100, { pullRetries: 8 });
    s.network.conditions = { loss: 0.1, delay: 2, jitter: 3 };
    const fw = campaigns(s);
    const img = image(3000, 9);
    const info = await fw.addImage('small.bin', img);
    const push = fw.startCampaign({
      imageId: info.id,
      targets: devices.slice(0, 50).map((d) => d.client.endpointName),
      method: 'push',
      concurrency: 25,
      retries: 5,
      attemptTimeoutMs: 300_000,
    });
    const pull = fw.startCampaign({
      imageId: info.id,
      targets: devices.slice(50).map((d) => d.client.endpointName),
      method: 'pull',
      concurrency: 25,
      retries: 5,
      attemptTimeoutMs: 300_000,
    });
    const [a, b] = await Promise.all([finish(s, fw, push.id), finish(s, fw, pull.id)]);
    expect([a.succeeded, a.failed, b.succeeded, b.failed]).toEqual([50, 0, 50, 0]);
    expectUpdated(devices, img, true);
    expect(s.network.stats.lost).toBeGreaterThan(100);
  }, 60_000);

  it('a device that is not registered, or has no Firmware Update object, fails; the others go on', async () => {
    const s = serverSetup();
    const [d1] = await fleet(s, 1);
    const plain = s.device(2);
    await registered(s, plain);
    const fw = campaigns(s);
    const info = await fw.addImage('x.bin', image(2000));
    const c = fw.startCampaign({
      imageId: info.id,
      targets: ['dev1', 'dev2', 'ghost'],
      method: 'push',
      retries: 1,
    });
    const done = await finish(s, fw, c.id);
    const by = (ep: string) => done.devices.find((d) => d.endpoint === ep)!;
    expect(by('dev1').state).toBe('succeeded');
    expect(by('dev2')).toMatchObject({ state: 'failed', attempts: 1 });
    expect(by('dev2').error).toMatch(/no Firmware Update object/);
    expect(by('ghost')).toMatchObject({
      state: 'failed',
      attempts: 2,
      error: 'the device is not registered',
    });
    expect(d1!.fw.result).toBe(1);
  });

  it('a failed install is retried; a device that keeps failing ends failed with its Update Result', async () => {
    const s = serverSetup();
    let failures = 1;
    const d = fwDevice(s, 1, {
      install: async () => {
        if (failures-- > 0) throw new Error('flash verify failed');
        return { version: '2.0.0' };
      },
    });
    const bad = fwDevice(s, 2, {
      install: async () => {
        throw new Error('always');
      },
    });
    await registered(s, d.client);
    await registered(s, bad.client);
    const fw = campaigns(s);
    const info = await fw.addImage('x.bin', image(2500));
    const c = fw.startCampaign({ imageId: info.id, targets: ['dev1', 'dev2'], method: 'push', retries: 2 });
    const done = await finish(s, fw, c.id);
    expect(done.devices[0]).toMatchObject({ endpoint: 'dev1', state: 'succeeded', attempts: 2 });
    expect(done.devices[1]).toMatchObject({
      endpoint: 'dev2',
      state: 'failed',
      attempts: 3,
      updateResult: 8,
    });
    expect(done.devices[1]!.error).toMatch(/Update Result 8/);
  });

  it('an attempt that gets no result in time fails; a device that de-registers mid-way fails at once', async () => {
    const s = serverSetup();
    const stuck = fwDevice(s, 1, { install: () => new Promise(() => {}) });
    const leaving = fwDevice(s, 2);
    await registered(s, stuck.client);
    await registered(s, leaving.client);
    const fw = campaigns(s);
    const info = await fw.addImage('x.bin', image(2500));
    fw.subscribe((e) => {
      if (e.type === 'progress' && e.endpoint === 'dev2' && e.state === 'downloaded')
        void leaving.client.stop();
    });
    const c = fw.startCampaign({
      imageId: info.id,
      targets: ['dev1', 'dev2'],
      method: 'push',
      retries: 0,
      attemptTimeoutMs: 60_000,
    });
    const done = await finish(s, fw, c.id);
    expect(done.devices[0]).toMatchObject({ state: 'failed', error: 'no result within 60000 ms' });
    expect(done.devices[1]).toMatchObject({ state: 'failed' });
    expect(done.devices[1]!.error).toMatch(/de-registered|not registered|no answer/);
    expect(done.devices[1]!.finishedAt! - done.devices[1]!.startedAt!).toBeLessThan(60_000);
  });

  it('integrity: the digest is offered in /30500/0/0; a package that does not match it fails with 5', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1);
    await registered(s, d.client);
    const fw = campaigns(s);
    const img = image(4000);
    const info = await fw.addImage('x.bin', img);
    const digests: string[] = [];
    d.client.on('changed', (p) => {
      if (p[0] === 30500) digests.push(Buffer.from(d.client.get('/30500/0/0') as Uint8Array).toString('hex'));
    });
    const c = fw.startCampaign({ imageId: info.id, targets: ['dev1'], method: 'push', retries: 0 });
    expect((await finish(s, fw, c.id)).devices[0]!.state).toBe('succeeded');
    expect(digests).toEqual([sha256Hex(img)]);
    // a pull campaign for this image whose packageUri serves other bytes: the device refuses them
    const other = await fw.addImage('y.bin', image(4000, 2));
    const c2 = fw.startCampaign({
      imageId: info.id,
      targets: ['dev1'],
      method: 'pull',
      retries: 1,
      packageUri: `coap://${SERVER}:5683/fw/${other.id}`,
    });
    const bad = await finish(s, fw, c2.id);
    expect(bad.devices[0]).toMatchObject({ state: 'failed', attempts: 2, updateResult: 5 });
    expect(bad.devices[0]!.error).toMatch(/integrity/);
    expect(d.installs.length).toBe(1);
  });

  it('startCampaign checks its input', async () => {
    const s = serverSetup();
    const fw = new FirmwareCampaigns({ server: s.server, clock: s.clock });
    const info = await fw.addImage('x.bin', image(10));
    expect(() => fw.startCampaign({ imageId: 'nope', targets: ['a'], method: 'push' })).toThrow(
      /unknown image/,
    );
    expect(() => fw.startCampaign({ imageId: info.id, targets: [], method: 'push' })).toThrow(/at least one/);
    expect(() => fw.startCampaign({ imageId: info.id, targets: ['a'], method: 'pull' })).toThrow(
      /packageUri/,
    );
    expect(() =>
      fw.startCampaign({ imageId: info.id, targets: ['a'], method: 'push', concurrency: 0 }),
    ).toThrow(/concurrency/);
    await expect(fw.addImage('empty', new Uint8Array(0))).rejects.toThrow(/empty/);
    expect(fw.images().map((i) => i.id)).toEqual([info.id]);
    expect(fw.image(info.id)).toEqual(info);
  });
});
