import { Lwm2mServerError } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, registered, serverSetup } from './harness.js';

describe('Lwm2mServer queue mode (LwM2M TS Core 1.1 §6.5)', () => {
  it('a request to a sleeping queue-mode device waits for its next Update, then goes out', async () => {
    const s = serverSetup();
    const client = s.device(1, { queueMode: true, lifetime: 300 });
    const r = await registered(s, client);
    expect(r.queueMode).toBe(true);
    // awake right after registering: served at once
    const now = await drive(s.clock, s.server.read('dev1', '/3/0/0', { format: 0 }));
    expect(now).toMatchObject({ value: 'Thimble' });
    // quiet for longer than the awake time (93 s): the next request is held
    await s.clock.advance(100_000);
    const served: number[] = [];
    client.on('operation', () => served.push(s.clock.now()));
    const updatesBefore = s.events.updated.length;
    let updateAt = 0;
    s.server.on('updated', () => {
      updateAt ||= s.clock.now();
    });
    const held = await drive(s.clock, s.server.read('dev1', '/3303/0/5700', { format: 0, timeout: 400_000 }));
    expect(held).toMatchObject({ value: 21.5 });
    expect(s.events.updated.length).toBeGreaterThan(updatesBefore);
    expect(updateAt).toBeGreaterThan(0);
    // the device saw the request only after its Update
    expect(served.length).toBeGreaterThan(0);
    expect(served[0]).toBeGreaterThanOrEqual(updateAt);
  });

  it('a held request times out when the device does not wake up, and is never sent', async () => {
    const s = serverSetup();
    const client = s.device(1, { queueMode: true, lifetime: 3600 });
    await registered(s, client);
    await s.clock.advance(100_000);
    let served = 0;
    client.on('operation', () => served++);
    const t0 = s.clock.now();
    const e = await drive(
      s.clock,
      s.server.read('dev1', '/3/0/0', { timeout: 20_000 }).then(
        () => undefined,
        (x: unknown) => x,
      ),
    );
    expect(e).toBeInstanceOf(Lwm2mServerError);
    expect((e as Lwm2mServerError).reason).toBe('timeout');
    expect(s.clock.now() - t0).toBeGreaterThanOrEqual(20_000);
    expect(served).toBe(0);
  });

  it('held requests fail with unknown-endpoint when the device de-registers', async () => {
    const s = serverSetup();
    const client = s.device(1, { queueMode: true, lifetime: 3600 });
    await registered(s, client);
    await s.clock.advance(100_000);
    const pending = s.server.read('dev1', '/3/0/0', { timeout: 60_000 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    await drive(s.clock, client.stop());
    const e = await drive(s.clock, pending);
    expect(e).toMatchObject({ reason: 'unknown-endpoint' });
  });

  it('a device without queue mode is asked at once, however long it was quiet', async () => {
    const s = serverSetup();
    const client = s.device(1, { lifetime: 3600 });
    await registered(s, client);
    await s.clock.advance(500_000);
    const t0 = s.clock.now();
    await drive(s.clock, s.server.read('dev1', '/3/0/0'));
    expect(s.clock.now() - t0).toBeLessThan(5_000);
  });
});
