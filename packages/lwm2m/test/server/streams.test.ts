import type { CompositeNotificationEvent, NotificationEvent, SendEvent } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { eventStream } from '../../src/server/streams.js';
import { drive, registered, serverSetup, until } from './harness.js';

/** Pulls from an async iterator in the background, collecting what it yields and how it ended. */
function collect<T>(it: AsyncIterableIterator<T>) {
  const seen: T[] = [];
  const state: { ended: boolean; error: Error | undefined } = { ended: false, error: undefined };
  void (async () => {
    try {
      for await (const v of it) seen.push(v);
    } catch (e) {
      state.error = e as Error;
    }
    state.ended = true;
  })();
  return { seen, state };
}

describe('Lwm2mServer notifications and sends as async iterables (LwM2M TS Core 1.1 §6.4)', () => {
  it('notifications(endpoint) yields that device’s notifications only and ends when it de-registers', async () => {
    const s = serverSetup();
    const dev1 = s.device(1);
    const dev2 = s.device(2);
    await registered(s, dev1);
    await registered(s, dev2);
    const mine = collect(s.server.notifications('dev1'));
    const all = collect(s.server.notifications());
    await drive(s.clock, s.server.observe('dev1', '/3303/0/5700'));
    await drive(s.clock, s.server.observe('dev2', '/3303/0/5700'));
    dev1.set('/3303/0/5700', 30);
    dev2.set('/3303/0/5700', 40);
    await until(s.clock, () => all.seen.length >= 2);
    await until(s.clock, () => mine.seen.length >= 1);
    expect(mine.seen.map((e) => [e.endpoint, (e as NotificationEvent).node])).toEqual([
      ['dev1', expect.objectContaining({ value: 30 })],
    ]);
    expect(all.seen.map((e) => e.endpoint).sort()).toEqual(['dev1', 'dev2']);
    await drive(s.clock, dev1.stop());
    await until(s.clock, () => mine.state.ended);
    expect(mine.state.error).toBeUndefined();
    expect(all.state.ended).toBe(false);
    s.server.close();
    await until(s.clock, () => all.state.ended);
    expect(all.state.error).toBeUndefined();
  });

  it('Observe-Composite notifications come through the same stream', async () => {
    const s = serverSetup();
    const dev = s.device(1);
    await registered(s, dev);
    const stream = collect(s.server.notifications('dev1'));
    await drive(s.clock, s.server.observeComposite('dev1', ['/3303/0/5700', '/3/0/0']));
    dev.set('/3303/0/5700', 12.5);
    await until(s.clock, () => stream.seen.length >= 1);
    const e = stream.seen[0] as CompositeNotificationEvent;
    expect(e.paths.map((p) => p.join('/'))).toEqual(['3303/0/5700', '3/0/0']);
    expect(e.entries.length).toBe(2);
  });

  it('sends(endpoint) yields each Send (§6.4.6) in order; break unsubscribes', async () => {
    const s = serverSetup();
    const dev = s.device(1);
    await registered(s, dev);
    const it = s.server.sends('dev1');
    dev.set('/3303/0/5700', 1);
    await drive(s.clock, dev.send(['/3303/0/5700']));
    dev.set('/3303/0/5700', 2);
    await drive(s.clock, dev.send(['/3303/0/5700']));
    const got: SendEvent[] = [];
    for await (const e of it) {
      got.push(e);
      if (got.length === 2) break;
    }
    expect(got.map((e) => (e.entries[0]!.node as { value?: unknown }).value)).toEqual([1, 2]);
    // after break the stream is done and no longer listening
    expect(await it.next()).toEqual({ done: true, value: undefined });
    dev.set('/3303/0/5700', 3);
    await drive(s.clock, dev.send(['/3303/0/5700']));
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('an aborted signal ends the stream', async () => {
    const s = serverSetup();
    const ac = new AbortController();
    const stream = collect(s.server.sends(undefined, { signal: ac.signal }));
    ac.abort();
    await until(s.clock, () => stream.state.ended);
    expect(stream.state.error).toBeUndefined();
  });
});

describe('eventStream (bounded)', () => {
  it('a consumer more than maxQueued events behind gets the queued events, then a limit error', async () => {
    let push: ((n: number) => void) | undefined;
    let unsubscribed = 0;
    const it = eventStream<number>(
      (p) => {
        push = p;
        return () => void unsubscribed++;
      },
      { maxQueued: 3 },
    );
    for (let i = 1; i <= 5; i++) push!(i);
    expect(unsubscribed).toBe(1);
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const v of it) got.push(v);
      })(),
    ).rejects.toMatchObject({ reason: 'limit' });
    expect(got).toEqual([1, 2, 3]);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('an error passed to end() reaches a waiting consumer', async () => {
    let end: ((e?: Error) => void) | undefined;
    const it = eventStream<number>((_p, e) => {
      end = e;
      return () => {};
    });
    const next = it.next();
    end!(new Error('gone'));
    await expect(next).rejects.toThrow('gone');
    expect(() => eventStream<number>(() => () => {}, { maxQueued: 0 })).toThrow(RangeError);
  });
});
