/** Test helpers: fake time, vectors from test-vectors/dtls, and an in-memory network between client and server. */

import { readFileSync } from 'node:fs';
import type { Clock, TimerHandle } from '../src/clock.js';
import type { DtlsError } from '../src/errors.js';
import {
  type ClientConnectionSettings,
  Connection,
  type ServerEngineOptions,
  type ServerSession,
} from '../src/index.js';
import { nodeCrypto } from '../src/node/crypto.js';
import { ServerEngine } from '../src/server.js';

export function loadVectors<T>(name: string): T {
  const url = new URL(`../../../test-vectors/dtls/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T;
}

interface FakeTimer extends TimerHandle {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** Deterministic time: `advance(ms)` runs due timers in order. */
export class FakeClock implements Clock {
  private current = 0;
  private seq = 0;
  private timers: FakeTimer[] = [];

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const t: FakeTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, callback, cancelled: false };
    this.timers.push(t);
    return t;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as FakeTimer).cancelled = true;
  }

  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  advance(ms: number, onStep?: () => void): void {
    const end = this.current + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: FakeTimer | undefined;
      for (const t of this.timers)
        if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq)))
          next = t;
      if (next === undefined) break;
      this.current = next.at;
      next.cancelled = true;
      next.callback();
      onStep?.();
    }
    this.current = end;
  }
}

export const PSK = { identity: 'device-1', key: new TextEncoder().encode('secretPSK-0123456') };

export interface Datagram {
  readonly from: 'client' | 'server';
  readonly data: Uint8Array;
}

/**
 * A client connection and a server engine joined by an in-memory network. `filter` may drop or record
 * datagrams; `deliver()` runs until no datagram is in flight.
 */
export class Pipe {
  readonly clock = new FakeClock();
  readonly queue: Datagram[] = [];
  readonly log: Datagram[] = [];
  readonly serverLog: string[] = [];
  readonly clientData: Uint8Array[] = [];
  readonly serverData: Uint8Array[] = [];
  readonly sessions: ServerSession[] = [];
  readonly serverCloses: DtlsError[] = [];
  clientError: DtlsError | undefined;
  clientConnected = false;
  filter: (d: Datagram, index: number) => boolean = () => true;
  clientAddress = { address: '10.0.0.2', port: 40000 };
  readonly server: ServerEngine;
  client!: Connection;

  constructor(serverOptions: Partial<ServerEngineOptions> = {}) {
    this.server = new ServerEngine(
      {
        crypto: nodeCrypto,
        clock: this.clock,
        pskLookup: (id) => (id === PSK.identity ? PSK.key : undefined),
        ...serverOptions,
      },
      {
        send: (data, address, port) => {
          if (address === this.clientAddress.address && port === this.clientAddress.port)
            this.push({ from: 'server', data });
        },
        onSession: (s) => this.sessions.push(s),
        onData: (d) => this.serverData.push(d),
        onLog: (m) => this.serverLog.push(m),
        onClose: (_s, e) => this.serverCloses.push(e),
      },
    );
  }

  connect(settings: Partial<ClientConnectionSettings> = {}): Connection {
    this.client = Connection.client(
      { crypto: nodeCrypto, clock: this.clock, psk: PSK, ...settings },
      {
        send: (data) => this.push({ from: 'client', data }),
        onConnected: () => {
          this.clientConnected = true;
        },
        onData: (d) => this.clientData.push(d),
        onClose: (e) => {
          this.clientError = e;
        },
      },
    );
    this.deliver();
    return this.client;
  }

  private push(d: Datagram): void {
    const index = this.log.length;
    this.log.push(d);
    if (this.filter(d, index)) this.queue.push(d);
  }

  deliver(): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const d = this.queue.shift();
      if (d === undefined) return;
      if (d.from === 'client')
        this.server.receive(d.data, this.clientAddress.address, this.clientAddress.port);
      else this.client.receive(d.data);
    }
    throw new Error('network did not settle');
  }

  /** Advances fake time, delivering after each timer. */
  advance(ms: number): void {
    this.clock.advance(ms, () => this.deliver());
    this.deliver();
  }
}
