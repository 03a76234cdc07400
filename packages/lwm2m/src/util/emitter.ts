/**
 * A tiny event emitter (no Node `events`, no `Map`): the client must also run on Espruino-class boards.
 */

// biome-ignore lint/suspicious/noExplicitAny: listener tuples are typed by the event map of the subclass
type Listener = (...args: any[]) => void;

export class Emitter<Events extends { [name: string]: Listener }> {
  private listeners: { [name: string]: Listener[] | undefined } = {};

  on<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    let list = this.listeners[event];
    if (list === undefined) {
      list = [];
      this.listeners[event] = list;
    }
    list.push(listener);
    return this;
  }

  off<K extends keyof Events & string>(event: K, listener: Events[K]): this {
    const list = this.listeners[event];
    if (list !== undefined) {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    }
    return this;
  }

  protected emit<K extends keyof Events & string>(event: K, ...args: Parameters<Events[K]>): void {
    const list = this.listeners[event];
    if (list === undefined) return;
    // a listener that throws must not stop the client (no console on every target: the error is dropped)
    for (const l of list.slice()) {
      try {
        l(...args);
      } catch {
        // ignored on purpose: listeners are application code
      }
    }
  }
}
