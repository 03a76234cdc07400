/**
 * Injected time (docs/ARCHITECTURE.md, "Portable core"): the stack never calls Date.now or setTimeout directly, so
 * tests run on fake time and embedded runtimes can supply their own timers.
 */

export interface TimerHandle {
  readonly __timer?: never;
}

export interface Clock {
  /** Milliseconds on a monotonic-enough scale. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

type HostTimer = { unref?: () => void };

/** The host's timers. Timers are unref'd where supported so an idle endpoint never holds a process open. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const t = globalThis.setTimeout(callback, ms) as unknown as HostTimer;
    if (typeof t.unref === 'function') t.unref();
    return t as TimerHandle;
  },
  clearTimeout(handle) {
    globalThis.clearTimeout(handle as unknown as Parameters<typeof globalThis.clearTimeout>[0]);
  },
};

interface FakeTimer extends TimerHandle {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * Deterministic time for tests. `advance(ms)` runs due timers in order, letting promise callbacks settle
 * between timers, so async code driven by the clock behaves as it would in real time.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = {
      at: this.current + Math.max(0, ms),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as FakeTimer).cancelled = true;
  }

  /** Number of timers still scheduled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  private next(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    this.timers = this.timers.filter((t) => !t.cancelled);
    for (const t of this.timers) {
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }

  /** Lets pending promise callbacks (and, on Node, I/O callbacks) run. */
  async settle(): Promise<void> {
    const g = globalThis as { setImmediate?: (cb: () => void) => void };
    const tick =
      g.setImmediate !== undefined
        ? (resolve: () => void) => g.setImmediate!(resolve)
        : (resolve: () => void) => globalThis.setTimeout(resolve, 0);
    for (let i = 0; i < 2; i++) await new Promise<void>(tick);
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await this.settle();
    for (;;) {
      const t = this.next();
      if (t === undefined || t.at > target) break;
      this.current = Math.max(this.current, t.at);
      t.cancelled = true;
      t.callback();
      await this.settle();
    }
    this.current = target;
    await this.settle();
  }

  /**
   * Runs timers in order until `done()` is true, no timer is left, or `limitMs` of fake time has passed.
   * Time jumps straight to the next timer, so long back-offs cost nothing.
   */
  async runUntil(done: () => boolean, limitMs: number): Promise<void> {
    const end = this.current + limitMs;
    await this.settle();
    while (!done()) {
      const t = this.next();
      if (t === undefined || t.at > end) break;
      await this.advance(Math.max(0, t.at - this.current));
    }
  }
}
