import { on, once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../src/util/emitter.js';
import { registered, serverSetup, until } from '../server/harness.js';

type Events = { ping: (n: number) => void; error: (error: Error) => void };

class Pinger extends Emitter<Events> {
  constructor(errorEvent = true) {
    super({ errorEvent });
  }
}

describe('Emitter: the node:events subset (issue 17, item 5)', () => {
  it('once, prepend, off of a once listener, listenerCount, eventNames', () => {
    const e = new Pinger();
    const seen: string[] = [];
    const first = (n: number) => seen.push(`once ${n}`);
    e.once('ping', first);
    e.on('ping', (n) => seen.push(`on ${n}`));
    e.prependListener('ping', (n) => seen.push(`prepended ${n}`));
    expect(e.listenerCount('ping')).toBe(3);
    expect(e.eventNames()).toEqual(['ping']);
    expect(e.emit('ping', 1)).toBe(true);
    expect(e.emit('ping', 2)).toBe(true);
    expect(seen).toEqual(['prepended 1', 'once 1', 'on 1', 'prepended 2', 'on 2']);
    const later = (n: number) => seen.push(`later ${n}`);
    e.once('ping', later);
    e.removeListener('ping', later);
    e.removeAllListeners('ping');
    expect(e.emit('ping', 3)).toBe(false);
    expect(e.eventNames()).toEqual([]);
  });

  it('events.once resolves with the arguments; events.on iterates', async () => {
    const e = new Pinger();
    const next = once(e, 'ping');
    e.emit('ping', 7);
    expect(await next).toEqual([7]);
    expect(e.listenerCount('ping')).toBe(0);
    expect(e.listenerCount('error')).toBe(0); // once() removed its error listener

    const controller = new AbortController();
    const got: number[] = [];
    const iterating = (async () => {
      for await (const [n] of on(e, 'ping', { signal: controller.signal })) {
        got.push(n as number);
        if (got.length === 2) controller.abort();
      }
    })().catch((err: unknown) => err);
    e.emit('ping', 1);
    e.emit('ping', 2);
    expect((await iterating) as Error).toMatchObject({ name: 'AbortError' });
    expect(got).toEqual([1, 2]);
  });

  it('an error event rejects events.once', async () => {
    const e = new Pinger();
    const next = once(e, 'ping');
    e.emit('error', new Error('boom'));
    await expect(next).rejects.toThrow('boom');
  });

  it('a throwing or rejecting listener is reported as an error event, the others still run', async () => {
    const e = new Pinger();
    const errors: Error[] = [];
    e.on('error', (err) => errors.push(err));
    const ran: number[] = [];
    e.on('ping', () => {
      throw new Error('sync failure');
    });
    e.on('ping', async () => {
      await Promise.resolve();
      throw new Error('async failure');
    });
    e.on('ping', (n) => ran.push(n));
    e.emit('ping', 5);
    expect(ran).toEqual([5]);
    await new Promise((r) => setTimeout(r, 0));
    expect(errors.map((x) => x.message)).toEqual([
      'a listener of "ping" failed: sync failure',
      'a listener of "ping" failed: async failure',
    ]);
    expect((errors[1]!.cause as Error).message).toBe('async failure');
  });

  it('without an error listener (or an error event) the failure is one console line', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      for (const e of [new Pinger(true), new Pinger(false)]) {
        e.on('ping', async () => {
          throw new Error('nobody listens');
        });
        e.emit('ping', 1);
        e.emit('error', new Error('dropped, not thrown'));
      }
      await new Promise((r) => setTimeout(r, 0));
      expect(log.mock.calls).toEqual([
        ['a listener of "ping" failed: nobody listens'],
        ['a listener of "ping" failed: nobody listens'],
      ]);
    } finally {
      log.mockRestore();
    }
  });
});

describe('Lwm2mServer events with node:events (issue 17, item 5)', () => {
  it('events.once(server, "registered") gives the registration', async () => {
    const s = serverSetup();
    const next = once(s.server, 'registered');
    await registered(s, s.device(1));
    const [registration] = (await next) as [{ endpoint: string }];
    expect(registration.endpoint).toBe(s.server.registrations()[0]?.endpoint);
  });

  it("the README pattern: an async 'registered' listener whose read fails (the device left) is an error event", async () => {
    const s = serverSetup();
    const errors: Error[] = [];
    s.server.on('error', (e) => errors.push(e));
    s.server.on('registered', async (reg) => {
      await s.server.read(reg.endpoint, '/3/0/999'); // a resource the device does not have: 4.04
    });
    await registered(s, s.device(1));
    await until(s.clock, () => errors.length > 0);
    expect(errors[0]!.message).toMatch(/^a listener of "registered" failed: /);
  });
});
