import { FakeClock } from '@thimble/coap-core';
import { describe, expect, it } from 'vitest';
import { drive, until } from '../src/index.js';

describe('fake time helpers', () => {
  it('until runs timers until the condition holds, and jumps straight to them', async () => {
    const clock = new FakeClock();
    let fired = false;
    clock.setTimeout(() => {
      fired = true;
    }, 90_000);
    await until(clock, () => fired);
    expect(fired).toBe(true);
    expect(clock.now()).toBe(90_000);
  });

  it('until throws when the condition is not reached within the limit (a number or limitMs)', async () => {
    const clock = new FakeClock();
    clock.setTimeout(() => undefined, 10_000);
    await expect(until(clock, () => false, 5_000)).rejects.toThrow('condition not reached in fake time');
    await expect(until(clock, () => false, { limitMs: 1, message: 'no luck' })).rejects.toThrow('no luck');
  });

  it('drive resolves a promise that a timer settles', async () => {
    const clock = new FakeClock();
    const p = new Promise<string>((resolve) => clock.setTimeout(() => resolve('done'), 300_000));
    await expect(drive(clock, p)).resolves.toBe('done');
    expect(clock.now()).toBe(300_000);
  });

  it('drive passes a rejection on to the caller', async () => {
    const clock = new FakeClock();
    const p = new Promise<never>((_, reject) => clock.setTimeout(() => reject(new Error('boom')), 1_000));
    await expect(drive(clock, p, { limitMs: 2_000 })).rejects.toThrow('boom');
  });
});
