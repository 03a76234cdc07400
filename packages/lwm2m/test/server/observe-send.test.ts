import { Code } from '@thimble/coap-core';
import {
  encodeComposite,
  type Lwm2mNode,
  type NotificationEvent,
  type SendEvent,
  singleResource,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, registered, serverSetup, until } from './harness.js';

async function withDevice(takeover = false) {
  const s = serverSetup(takeover ? { server: { registrationPolicy: { allowNoSecTakeover: true } } } : {});
  const client = s.device(1);
  const registration = await registered(s, client);
  return { ...s, client, registration };
}

describe('Lwm2mServer information reporting (LwM2M TS Core 1.1 §6.4)', () => {
  it('Observe (§6.4.1): the current value first, then a decoded node per client set()', async () => {
    const s = await withDevice();
    const events: NotificationEvent[] = [];
    s.server.on('notification', (e) => events.push(e));
    const obs = await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    expect(obs.latest).toMatchObject({ kind: 'resource', value: 21.5 });
    const seen: Lwm2mNode[] = [];
    obs.on('notification', (n) => seen.push(n));
    s.client.set('/3303/0/5700', 22.75);
    await until(s.clock, () => seen.length >= 1);
    expect(seen.at(-1)).toMatchObject({ value: 22.75 });
    s.client.set('/3303/0/5700', 23);
    await until(s.clock, () => seen.length >= 2);
    expect(seen.at(-1)).toMatchObject({ value: 23 });
    expect(events.map((e) => [e.endpoint, e.path.join('/')])).toEqual([
      ['dev1', '3303/0/5700'],
      ['dev1', '3303/0/5700'],
    ]);
    expect(s.server.observationsOf('dev1')).toHaveLength(1);
  });

  it('Observe on an instance in TLV notifies with the whole instance', async () => {
    const s = await withDevice();
    const obs = await drive(s.clock, s.server.observe('dev1', '/3303/0', { format: 11542 }));
    expect(obs.latest?.kind).toBe('objectInstance');
    const seen: Lwm2mNode[] = [];
    obs.on('notification', (n) => seen.push(n));
    s.client.set('/3303/0/5700', 30);
    await until(s.clock, () => seen.length >= 1);
    const node = seen.at(-1)!;
    expect(node.kind === 'objectInstance' && node.resources.find((r) => r.id === 5700)).toMatchObject({
      value: 30,
    });
  });

  it('cancelObserve (§6.4.2) ends the observation and the client drops its observer', async () => {
    const s = await withDevice();
    const obs = await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    let ended = false;
    obs.on('end', () => {
      ended = true;
    });
    expect(s.client.endpoint.observerTotal('3303/0/5700')).toBe(1);
    const n = await drive(s.clock, s.server.cancelObserve('dev1', '/3303/0/5700'));
    expect(n).toBe(1);
    expect(ended).toBe(true);
    expect(obs.done).toBe(true);
    expect(s.server.observationsOf('dev1')).toHaveLength(0);
    await until(s.clock, () => s.client.endpoint.observerTotal('3303/0/5700') === 0);
  });

  it('Observe of a missing resource rejects with the device code; the limit on observations holds', async () => {
    const s = serverSetup({ limits: { maxObservations: 1 } });
    await registered(s, s.device(1));
    const missing = await drive(
      s.clock,
      s.server.observe('dev1', '/3303/9/5700').then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(missing).toMatchObject({ reason: 'device-error', codeText: '4.04' });
    await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    const over = await drive(
      s.clock,
      s.server.observe('dev1', '/3/0/0').then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(over).toMatchObject({ reason: 'limit' });
  });

  it('De-registration ends the endpoint’s observations', async () => {
    const s = await withDevice();
    const obs = await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    await drive(s.clock, s.client.stop());
    expect(obs.done).toBe(true);
    expect(s.server.observationsOf()).toHaveLength(0);
    // the CoAP observation is dropped too: no exchange left pending at the server's endpoint
    await until(s.clock, () => s.serverEndpoint.pendingRequests === 0);
  });

  it('De-registration ends that endpoint’s observations only; another device’s keep notifying', async () => {
    const s = await withDevice();
    const other = s.device(2);
    await registered(s, other);
    const mine = await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    const theirs = await drive(s.clock, s.server.observe('dev2', '/3303/0/5700'));
    const theirsToo = await drive(s.clock, s.server.observe('dev2', '/3/0'));
    await drive(s.clock, s.client.stop());
    expect(mine.done).toBe(true);
    expect(theirs.done).toBe(false);
    expect(theirsToo.done).toBe(false);
    expect(s.server.observationsOf('dev2')).toHaveLength(2);
    const seen: Lwm2mNode[] = [];
    theirs.on('notification', (n) => seen.push(n));
    other.set('/3303/0/5700', 31.5);
    await until(s.clock, () => seen.length >= 1);
    expect(seen.at(-1)).toMatchObject({ value: 31.5 });
    await drive(s.clock, other.stop());
    expect(theirs.done && theirsToo.done).toBe(true);
    expect(s.server.observationsOf()).toHaveLength(0);
  });

  it('a new registration of the endpoint (a reboot, takeover allowed) ends its observations', async () => {
    const s = await withDevice(true);
    const a = await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    const res = await s.toServer({
      method: 'POST',
      path: ['rd'],
      query: ['ep=dev1', 'lwm2m=1.1'],
      payload: '</3/0>',
    });
    expect(res.code).toBe(Code.Created);
    expect(a.done).toBe(true);
    expect(s.server.observationsOf('dev1')).toHaveLength(0);
    await until(s.clock, () => s.serverEndpoint.pendingRequests === 0);
    // the old device's next notification is not delivered anywhere
    const events: NotificationEvent[] = [];
    s.server.on('notification', (e) => events.push(e));
    s.client.set('/3303/0/5700', 40);
    await s.clock.advance(10_000);
    expect(events).toHaveLength(0);
  });

  it('Send (§6.4.6): POST /dp from the device gives a send event with its values, answered 2.04', async () => {
    const s = await withDevice();
    const sends: SendEvent[] = [];
    s.server.on('send', (e) => sends.push(e));
    s.client.set('/3303/0/5700', 19.25);
    await drive(s.clock, s.client.send(['/3303/0/5700', '/3/0/0']));
    expect(sends).toHaveLength(1);
    expect(sends[0]!.endpoint).toBe('dev1');
    expect(sends[0]!.entries.map((e) => [e.path.join('/'), (e.node as { value?: unknown }).value])).toEqual([
      ['3303/0/5700', 19.25],
      ['3/0/0', 'Thimble'],
    ]);
  });

  it('Send in SenML JSON is accepted; from an unregistered peer 4.04, bad payload 4.00, other formats 4.15', async () => {
    const s = await withDevice();
    const sends: SendEvent[] = [];
    s.server.on('send', (e) => sends.push(e));
    const payload = encodeComposite(110, [{ path: [3303, 0, 5700], node: singleResource(5700, 'Float', 5) }]);
    const stranger = await s.toServer({ method: 'POST', path: ['dp'], payload, contentFormat: 110 });
    expect(stranger.code).toBe(Code.NotFound);
    // the raw endpoint registers, then sends
    const reg = await s.toServer({
      method: 'POST',
      path: ['rd'],
      query: ['ep=raw', 'lwm2m=1.1'],
      payload: '</3303/0>',
    });
    expect(reg.code).toBe(Code.Created);
    const ok = await s.toServer({ method: 'POST', path: ['dp'], payload, contentFormat: 110 });
    expect(ok.code).toBe(Code.Changed);
    expect(sends.map((e) => e.endpoint)).toEqual(['raw']);
    const broken = await s.toServer({ method: 'POST', path: ['dp'], payload: '[{"bn":', contentFormat: 110 });
    expect(broken.code).toBe(Code.BadRequest);
    const text = await s.toServer({ method: 'POST', path: ['dp'], payload: '5', contentFormat: 0 });
    expect(text.code).toBe(Code.UnsupportedContentFormat);
    expect(sends).toHaveLength(1);
  });
});
