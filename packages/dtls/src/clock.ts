/**
 * Injected time and randomness (the same shapes the rest of Thimble uses, declared here so this package
 * depends on nothing): the handshake state machines never call Date.now or setTimeout directly.
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

/** The host's timers, unref'd where supported so an idle session never holds a process open. */
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
