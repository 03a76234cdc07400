/**
 * A small event emitter with the methods of Node's `EventEmitter` that `events.once` and `events.on`
 * (node:events) and callers use: `on` / `addListener`, `once`, `off` / `removeListener`,
 * `removeAllListeners`, `prependListener`, `prependOnceListener`, `listeners`, `rawListeners`,
 * `listenerCount`, `eventNames`, `emit`, `setMaxListeners` / `getMaxListeners`. It imports nothing (no
 * `node:events`, no `Map`): the client must also run on Espruino-class boards (docs/ARCHITECTURE.md).
 *
 * Unlike Node's emitter, a listener that throws or whose promise rejects (an `async` listener) never
 * stops the emitter or crashes the process: the failure is reported as an `error` event when the class
 * has one (`errorEvent`) and someone listens to it, else as one line on `console.error` where there is a
 * console. An `error` event without listeners is dropped (Node's emitter would throw).
 */

// biome-ignore lint/suspicious/noExplicitAny: listener tuples are typed by the event map of the subclass
type Listener = (...args: any[]) => unknown;

interface Entry {
  readonly listener: Listener;
  readonly once: boolean;
}

export interface EmitterOptions {
  /** The class's `error` event takes `(error: Error)`: failed listeners are reported through it. */
  readonly errorEvent?: boolean;
}

export class Emitter<Events extends { [name: string]: Listener }> {
  private entries: { [name: string]: Entry[] | undefined } = {};
  private maxListeners = 10;
  private readonly errorEvent: boolean;

  constructor(options: EmitterOptions = {}) {
    this.errorEvent = options.errorEvent === true;
  }

  on<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    return this.add(event, listener, false, false);
  }

  addListener<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    return this.add(event, listener, false, false);
  }

  /** The listener runs for the next `event` only. */
  once<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    return this.add(event, listener, true, false);
  }

  prependListener<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    return this.add(event, listener, false, true);
  }

  prependOnceListener<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    return this.add(event, listener, true, true);
  }

  off<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    const list = this.entries[event];
    if (list !== undefined) {
      // the last one added goes first, as in Node
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i]!.listener === listener) {
          list.splice(i, 1);
          break;
        }
      }
      if (list.length === 0) delete this.entries[event];
    }
    return this;
  }

  removeListener<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: keyof Events & string): this {
    if (event === undefined) this.entries = {};
    else delete this.entries[event];
    return this;
  }

  listenerCount(event: keyof Events & string): number {
    return this.entries[event]?.length ?? 0;
  }

  listeners<K extends keyof Events & string>(event: K): Events[K][] {
    return (this.entries[event] ?? []).map((e) => e.listener as Events[K]);
  }

  rawListeners<K extends keyof Events & string>(event: K): Events[K][] {
    return this.listeners(event);
  }

  eventNames(): (keyof Events & string)[] {
    return Object.keys(this.entries);
  }

  /** Kept for compatibility with Node's emitter; no warning is printed. */
  setMaxListeners(n: number): this {
    this.maxListeners = n;
    return this;
  }

  getMaxListeners(): number {
    return this.maxListeners;
  }

  /** Calls the listeners of `event` in order; true when there were any. */
  emit<K extends keyof Events & string>(event: K, ...args: Parameters<Events[K]>): boolean {
    const list = this.entries[event];
    if (list === undefined) return false;
    const snapshot = list.slice();
    for (const entry of snapshot) {
      if (entry.once) this.removeEntry(event, entry);
    }
    for (const entry of snapshot) {
      try {
        const result = entry.listener(...args);
        if (isThenable(result)) result.then(undefined, (e: unknown) => this.listenerFailed(event, e));
      } catch (e) {
        this.listenerFailed(event, e);
      }
    }
    return true;
  }

  private add(event: string, listener: Listener, once: boolean, prepend: boolean): this {
    let list = this.entries[event];
    if (list === undefined) {
      list = [];
      this.entries[event] = list;
    }
    if (prepend) list.unshift({ listener, once });
    else list.push({ listener, once });
    return this;
  }

  private removeEntry(event: string, entry: Entry): void {
    const list = this.entries[event];
    if (list === undefined) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) delete this.entries[event];
  }

  private listenerFailed(event: string, e: unknown): void {
    const message = `a listener of "${event}" failed: ${e instanceof Error ? e.message : String(e)}`;
    if (this.errorEvent && event !== 'error' && this.listenerCount('error') > 0) {
      const error = new Error(message, { cause: e });
      (this.emit as (event: string, ...args: unknown[]) => boolean)('error', error);
      return;
    }
    if (typeof console !== 'undefined') console.error(message);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}
