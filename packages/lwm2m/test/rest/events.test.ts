import { CoapEndpoint, MemoryNetwork, systemClock } from '@thimble/coap-core';
import { Lwm2mClient, Lwm2mServer } from '@thimble/lwm2m';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { readServerSentEvents } from '../../src/cli/firmware.js';
import { createRestApi, EventHub, type EventSink, startRestApi } from '../../src/node/index.js';
import { waitFor } from '../cli/io.js';
import { FakeFirmwareService } from './fakes.js';

class FakeSink implements EventSink {
  chunks: string[] = [];
  writableLength = 0;
  destroyed = false;
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

describe('EventHub (server-sent events fan-out)', () => {
  it('formats events as text/event-stream and filters by endpoint', () => {
    const hub = new EventHub({ heartbeatMs: 0 });
    const all = new FakeSink();
    const dev2 = new FakeSink();
    hub.add(all);
    hub.add(dev2, { endpoint: 'dev2' });
    hub.publish('registered', { endpoint: 'dev1', note: 'two\nlines' }, 'dev1');
    hub.publish('campaign-finished', { id: 'c1' });
    expect(all.chunks).toEqual([
      'event: registered\ndata: {"endpoint":"dev1","note":"two\\nlines"}\n\n',
      'event: campaign-finished\ndata: {"id":"c1"}\n\n',
    ]);
    expect(dev2.chunks).toEqual(['event: campaign-finished\ndata: {"id":"c1"}\n\n']);
  });

  it('drops a consumer that stops reading instead of buffering for ever; removal is idempotent', () => {
    const hub = new EventHub({ heartbeatMs: 0, maxBufferedBytes: 100 });
    const slow = new FakeSink();
    const fast = new FakeSink();
    const removeSlow = hub.add(slow);
    hub.add(fast);
    hub.publish('notification', { n: 1 });
    slow.writableLength = 90; // the socket is not draining
    hub.publish('notification', { n: 2 });
    expect(slow.destroyed).toBe(true);
    expect(slow.chunks).toHaveLength(1);
    expect(fast.chunks).toHaveLength(2);
    expect(hub.size).toBe(1);
    expect(hub.dropped).toBe(1);
    removeSlow();
    expect(hub.size).toBe(1);
  });

  it('sends heartbeat comments while streams are open, and stops when the last one goes', async () => {
    const hub = new EventHub({ heartbeatMs: 10 });
    const sink = new FakeSink();
    const remove = hub.add(sink);
    await waitFor(() => sink.chunks.length >= 2);
    expect(sink.chunks[0]).toBe(': heartbeat\n\n');
    remove();
    const seen = sink.chunks.length;
    await new Promise((r) => setTimeout(r, 40));
    expect(sink.chunks.length).toBe(seen);
  });
});

describe('GET /api/events on a listening server (real HTTP, real time)', () => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function start() {
    const network = new MemoryNetwork({ clock: systemClock, seed: 1 });
    const serverEndpoint = new CoapEndpoint({ transport: network.bind('10.0.0.1', 5683) });
    const server = new Lwm2mServer({ endpoint: serverEndpoint });
    const firmware = new FakeFirmwareService({}, 5);
    const app: FastifyInstance = await createRestApi({ server, firmware, token: 't0ken' });
    const base = await startRestApi(app, { port: 0 });
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const deviceEndpoint = new CoapEndpoint({ transport: network.bind('10.0.1.1', 56830) });
    const client = new Lwm2mClient({
      endpointName: 'dev1',
      endpoint: deviceEndpoint,
      serverUri: 'coap://10.0.0.1:5683',
      lifetime: 300,
    });
    client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U' });
    client.addInstance(3303, 0, { 5700: 21.5, 5701: 'Cel' });
    cleanup.push(
      () => serverEndpoint.close(),
      () => deviceEndpoint.close(),
      () => server.close(),
      () => client.stop(),
      () => app.close(),
    );
    const headers = { authorization: 'Bearer t0ken' };
    const events: { name: string; data: { [k: string]: unknown } }[] = [];
    const listen = async (query = '') => {
      const abort = new AbortController();
      const res = await fetch(`${base}/api/events${query}`, { headers, signal: abort.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const seen: typeof events = [];
      const done = readServerSentEvents(res.body!, (name, data) =>
        seen.push({ name, data: JSON.parse(data) }),
      ).catch(() => undefined);
      return { seen, done, abort };
    };
    return { base, app, server, client, firmware, headers, events, listen };
  }

  it('streams registrations, notifications of an observation started with POST …/observe, sends and firmware progress', async () => {
    const t = await start();
    const stream = await t.listen();
    const other = await t.listen('?endpoint=dev9');
    t.client.start();
    await waitFor(() => stream.seen.some((e) => e.name === 'registered'));
    expect(stream.seen[0]).toMatchObject({ name: 'registered', data: { endpoint: 'dev1', version: '1.1' } });

    const observe = await fetch(`${t.base}/api/clients/dev1/3303/0/5700/observe`, {
      method: 'POST',
      headers: t.headers,
    });
    expect(observe.status).toBe(200);
    expect(await observe.json()).toMatchObject({ node: { value: 21.5 } });
    t.client.set('/3303/0/5700', 30.25);
    await waitFor(() => stream.seen.some((e) => e.name === 'notification'));
    expect(stream.seen.find((e) => e.name === 'notification')!.data).toEqual({
      endpoint: 'dev1',
      path: '/3303/0/5700',
      node: { kind: 'resource', id: 5700, type: 'Float', value: 30.25 },
    });

    await t.client.send(['/3303/0/5700']);
    await waitFor(() => stream.seen.some((e) => e.name === 'send'));
    expect(stream.seen.find((e) => e.name === 'send')!.data).toMatchObject({
      endpoint: 'dev1',
      entries: [{ path: '/3303/0/5700', node: { value: 30.25 } }],
    });

    const image = await t.firmware.addImage('fw', new Uint8Array(100));
    const campaign = t.firmware.startCampaign({ imageId: image.id, targets: ['dev1'], method: 'push' });
    await waitFor(() => stream.seen.some((e) => e.name === 'campaign-finished'));
    const progress = stream.seen.filter((e) => e.name === 'firmware-progress').map((e) => e.data.state);
    expect(progress).toEqual(['downloading', 'downloading', 'downloaded', 'updating', 'succeeded']);
    expect(stream.seen.at(-1)).toMatchObject({
      name: 'campaign-finished',
      data: { id: campaign.id, succeeded: 1 },
    });
    // the stream for another endpoint saw only the campaign's end
    expect(other.seen.map((e) => e.name)).toEqual(['campaign-finished']);

    stream.abort.abort();
    other.abort.abort();
  });

  it('forgets a stream when its client disconnects, and close() ends open streams', async () => {
    const t = await start();
    const first = await t.listen();
    const second = await t.listen();
    expect(t.firmware.listenerCount).toBe(1);
    first.abort.abort();
    await first.done;
    // a registration event reaches the open stream; the closed one is gone without error
    t.client.start();
    await waitFor(() => second.seen.some((e) => e.name === 'registered'));
    const closing = t.app.close();
    await second.done; // the server ended the stream
    await closing;
    expect(t.firmware.listenerCount).toBe(0);
  });
});
