/**
 * The client side of an observation (RFC 7641 §3): notifications as an async iterable and as events,
 * newest state first, with cancellation.
 */
import type { CoapResponse } from '../message/response.js';

export type ObservationEvent = 'notification' | 'error' | 'end';

type Listener<E extends ObservationEvent> = E extends 'notification'
  ? (response: CoapResponse) => void
  : E extends 'error'
    ? (error: Error) => void
    : () => void;

export class Observation implements AsyncIterable<CoapResponse> {
  private readonly listeners: { [E in ObservationEvent]: Listener<E>[] } = {
    notification: [],
    error: [],
    end: [],
  };
  /** Only the newest undelivered notification is kept for the iterator (§3.4: newest state wins). */
  private latest: CoapResponse | undefined;
  private waiting: ((r: IteratorResult<CoapResponse>) => void) | undefined;
  private failure: Error | undefined;
  private ended = false;
  /** Notifications received, fresh ones only. */
  count = 0;

  constructor(
    private readonly cancelImpl: () => Promise<void>,
    /** The token of the registration: keep it to take the observation up again after a restart. */
    readonly token?: Uint8Array,
  ) {}

  /** True once the observation ended (cancelled, server ended it, or failed). */
  get done(): boolean {
    return this.ended;
  }

  on<E extends ObservationEvent>(event: E, listener: Listener<E>): this {
    (this.listeners[event] as Listener<E>[]).push(listener);
    return this;
  }

  /** Cancels actively (GET with Observe = 1, RFC 7641 §3.6) and ends the observation. */
  async cancel(): Promise<void> {
    if (this.ended) return;
    try {
      await this.cancelImpl();
    } finally {
      this.end();
    }
  }

  /** The newest notification not yet taken by the iterator, without taking it. */
  peek(): CoapResponse | undefined {
    return this.latest;
  }

  /** @internal */
  deliver(response: CoapResponse): void {
    if (this.ended) return;
    this.count++;
    for (const l of this.listeners.notification) l(response);
    if (this.waiting !== undefined) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: response, done: false });
    } else {
      this.latest = response;
    }
  }

  /** @internal */
  fail(error: Error): void {
    if (this.ended) return;
    this.failure = error;
    for (const l of this.listeners.error) l(error);
    this.end();
  }

  /** @internal */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const l of this.listeners.end) l();
    if (this.waiting !== undefined) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<CoapResponse> {
    return {
      next: () => {
        if (this.latest !== undefined) {
          const value = this.latest;
          this.latest = undefined;
          return Promise.resolve({ value, done: false });
        }
        if (this.failure !== undefined) return Promise.reject(this.failure);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: async () => {
        await this.cancel();
        return { value: undefined, done: true };
      },
    };
  }
}
