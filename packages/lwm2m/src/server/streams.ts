/**
 * Server events as async iterables (`Lwm2mServer.notifications`, `Lwm2mServer.sends`): a bounded queue
 * between the server's events and a consumer that pulls at its own pace. A consumer that falls more than
 * `maxQueued` events behind gets an `Lwm2mServerError('limit')` rather than silently losing events
 * (bounded queues, no lost data without saying so: docs/ARCHITECTURE.md, "lwm2m").
 */
import { Lwm2mServerError } from './errors.js';

export interface EventStreamOptions {
  /** Ends the iteration (without an error) when aborted. */
  readonly signal?: AbortSignal;
  /** Events held for a slow consumer before the stream fails with `limit` (default 1000). */
  readonly maxQueued?: number;
}

/**
 * `start(push, end)` subscribes to the events and returns the function that unsubscribes; it is called
 * once, when the stream ends for any reason (the consumer's `return()` / `break`, `end()`, the signal, an
 * overflow).
 */
export function eventStream<T>(
  start: (push: (value: T) => void, end: (error?: Error) => void) => () => void,
  options: EventStreamOptions = {},
): AsyncIterableIterator<T> {
  const max = options.maxQueued ?? 1000;
  if (!Number.isInteger(max) || max < 1) throw new RangeError('maxQueued must be a positive integer');
  let queue: T[] = [];
  let head = 0;
  let done = false;
  let failure: Error | undefined;
  let waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined;
  let unsubscribe: (() => void) | undefined;
  const signal = options.signal;

  const end = (error?: Error): void => {
    if (done) return;
    done = true;
    failure = error;
    signal?.removeEventListener('abort', onAbort);
    unsubscribe?.();
    unsubscribe = undefined;
    if (waiter !== undefined) {
      // a waiting consumer has an empty queue: it gets the end (or the error) now
      const w = waiter;
      waiter = undefined;
      failure = undefined;
      if (error !== undefined) w.reject(error);
      else w.resolve({ done: true, value: undefined });
    }
  };
  const onAbort = (): void => end();
  const push = (value: T): void => {
    if (done) return;
    if (waiter !== undefined) {
      const w = waiter;
      waiter = undefined;
      w.resolve({ done: false, value });
      return;
    }
    if (queue.length - head >= max) {
      end(new Lwm2mServerError('limit', `the consumer fell more than ${max} events behind`));
      return;
    }
    queue.push(value);
  };

  const iterator: AsyncIterableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (head < queue.length) {
        const value = queue[head++] as T;
        if (head === queue.length) {
          queue = [];
          head = 0;
        }
        return Promise.resolve({ done: false, value });
      }
      if (done) {
        // the queued events first, then the error once, then the end
        const error = failure;
        failure = undefined;
        return error === undefined
          ? Promise.resolve({ done: true, value: undefined })
          : Promise.reject(error);
      }
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    return(): Promise<IteratorResult<T>> {
      end();
      queue = [];
      head = 0;
      failure = undefined;
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };

  if (signal?.aborted) {
    done = true;
    return iterator;
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  const stop = start(push, end);
  if (done) stop();
  else unsubscribe = stop;
  return iterator;
}
