/**
 * Fleet mode: many simulated LwM2M devices in one process, as a load generator and for campaign tests.
 * Each device is an `Lwm2mClient` on its own `CoapEndpoint` (the server reaches a device at the address
 * its registration came from, so every device needs its own source address:port). Devices start at a
 * bounded rate with a bounded number of registrations in flight, so a fleet of thousands ramps up
 * without flooding the server or its own socket buffers.
 *
 * Portable: transports come from the caller's `createEndpoint` (UDP in the Node adapter, the in-memory
 * network in tests). What is the same for every device (the object model, the resource callbacks, the
 * temperature timer) is shared, so a device costs its endpoint, its client and its few resource values.
 */
import {
  type Clock,
  type CoapEndpoint,
  cryptoRandom,
  type Random,
  systemClock,
  type TimerHandle,
} from '@thimble/coap-core';
import {
  Lwm2mClient,
  type Lwm2mClientOptions,
  type Lwm2mVersion,
  type RetryOptions,
} from '../client/client.js';
import type { ResourceHandler } from '../client/objects/store.js';
import { BUILTIN_OBJECTS } from '../model/builtin.js';
import { type Lwm2mModel, ObjectRegistry } from '../model/registry.js';
import { Emitter } from '../util/emitter.js';

export interface FleetOptions {
  /** Number of devices. */
  readonly count: number;
  /** LwM2M server, `coap://host:port`. */
  readonly serverUri: string;
  /** Endpoint names are `<prefix>-<index>` (index from 0, zero-padded to the count's width). Default "fleet". */
  readonly prefix?: string;
  /** Registration lifetime in seconds (default 300). */
  readonly lifetime?: number;
  /** Registrations started per second (default 500; `Infinity` starts them as fast as `maxInFlight` allows). */
  readonly rate?: number;
  /** Most devices registering (first Register sent, not yet answered) at once (default 200). */
  readonly maxInFlight?: number;
  /** Creates (binds) the endpoint of device `index`; the fleet closes it on `stop()`. */
  readonly createEndpoint: (index: number) => CoapEndpoint | Promise<CoapEndpoint>;
  /** Installs extra objects on a device before it registers (e.g. Firmware Update /5/0). */
  readonly setup?: (client: Lwm2mClient, index: number) => void;
  /** Seconds between temperature changes of a device (default 60; 0 keeps them still). */
  readonly temperatureInterval?: number;
  readonly version?: Lwm2mVersion;
  /** Shared by every device (default: one registry of the built-in objects for the whole fleet). */
  readonly model?: Lwm2mModel;
  readonly clock?: Clock;
  /**
   * Shared by every device (default: one `cryptoRandom()` for the fleet; a cryptoRandom holds a 4 KiB
   * pool, so one per device would cost more than the device's own state). Pass the same to `createEndpoint`'s
   * endpoints (`fleet.random`).
   */
  readonly random?: Random;
  /** Milliseconds a Register / Update waits for its response (default: the endpoint's CoAP default). */
  readonly requestTimeout?: number;
  /** Registration retry of each device (default: 5 attempts 5 s apart doubling, then every 60 s, for ever). */
  readonly retry?: RetryOptions;
  /** Other client options for every device. */
  readonly clientOptions?: Partial<
    Omit<Lwm2mClientOptions, 'endpoint' | 'endpointName' | 'serverUri' | 'lifetime' | 'model'>
  >;
}

export interface FleetDevice {
  readonly index: number;
  readonly name: string;
  readonly endpoint: CoapEndpoint;
  readonly client: Lwm2mClient;
}

export interface FleetStats {
  /** Devices asked for. */
  readonly count: number;
  /** Devices that started registering so far. */
  readonly started: number;
  /** Devices registered now. */
  readonly registered: number;
  /** Devices registered at least once. */
  readonly everRegistered: number;
  /** Devices that gave up registering (retries exhausted) or whose endpoint could not be created. */
  readonly failed: number;
  /** Registration errors seen (timeouts, error responses), retried ones included. */
  readonly errors: number;
  /** Clock time of the first Register sent, and of the moment every device had registered once. */
  readonly firstStartAt: number | undefined;
  readonly allRegisteredAt: number | undefined;
}

export type FleetEvents = {
  /** A device registered (again, after a failed Update, too). */
  registered: (device: FleetDevice) => void;
  /** A device's registration attempt failed (it retries unless `failed` follows). */
  error: (device: FleetDevice | undefined, index: number, error: Error) => void;
  /** A device gave up (retries exhausted) or could not be created. */
  failed: (index: number, error: Error) => void;
  /** Every device registered once. */
  complete: (stats: FleetStats) => void;
};

const SHORT_SERVER_ID = 1;

/** Resource callbacks shared by every device (one closure for the fleet, not one per device). */
const CURRENT_TIME: ResourceHandler = { read: () => Math.floor(Date.now() / 1000) };
const NO_OP: ResourceHandler = { execute: () => {} };

let sharedModel: Lwm2mModel | undefined;
/** One registry of the built-in objects for every fleet of the process (a registry per device would cost more than the device). */
function builtinModel(): Lwm2mModel {
  if (sharedModel === undefined) sharedModel = new ObjectRegistry(BUILTIN_OBJECTS);
  return sharedModel;
}

export class Fleet extends Emitter<FleetEvents> {
  readonly options: FleetOptions;
  /** The randomness every device shares (hand it to the endpoints `createEndpoint` makes). */
  readonly random: Random;
  private readonly clock: Clock;
  private readonly model: Lwm2mModel;
  private readonly devices: (FleetDevice | undefined)[];
  private readonly width: number;
  private next = 0;
  private inFlight = 0;
  private creating = 0;
  private startedAt: number | undefined;
  private firstStartAt: number | undefined;
  private allRegisteredAt: number | undefined;
  private everRegistered = 0;
  private failed = 0;
  private errors = 0;
  private rampTimer: TimerHandle | undefined;
  private tempTimer: TimerHandle | undefined;
  private tempCursor = 0;
  private stopped = false;
  /** Per device: 0 not yet, 1 registered once, 2 failed for good. */
  private readonly registeredOnce: Uint8Array;
  /** Per device: 1 while it holds an in-flight slot (its first registration attempt is under way). */
  private readonly inFlightFlags: Uint8Array;
  private startedCount = 0;
  private readonly lifetime: number;
  private readonly rate: number;
  private readonly maxInFlight: number;
  private completeWaiters: (() => void)[] = [];

  constructor(options: FleetOptions) {
    super();
    if (!Number.isInteger(options.count) || options.count < 0) throw new RangeError('count must be ≥ 0');
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
    this.model = options.model ?? builtinModel();
    this.devices = new Array<FleetDevice | undefined>(options.count).fill(undefined);
    this.registeredOnce = new Uint8Array(options.count);
    this.inFlightFlags = new Uint8Array(options.count);
    this.width = String(Math.max(0, options.count - 1)).length;
    this.lifetime = options.lifetime ?? 300;
    this.rate = options.rate ?? 500;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 200);
    if (!(this.rate > 0)) throw new RangeError('rate must be > 0');
  }

  /** Endpoint name of device `index`. */
  name(index: number): string {
    return `${this.options.prefix ?? 'fleet'}-${String(index).padStart(this.width, '0')}`;
  }

  /** The device at `index` once it is created. */
  device(index: number): FleetDevice | undefined {
    return this.devices[index];
  }

  /** Every device created so far. */
  *all(): IterableIterator<FleetDevice> {
    for (const d of this.devices) if (d !== undefined) yield d;
  }

  /** Starts the ramp: devices are created and register at `rate` per second, `maxInFlight` at a time. */
  start(): void {
    if (this.startedAt !== undefined || this.stopped) return;
    this.startedAt = this.clock.now();
    this.ramp();
    const interval = (this.options.temperatureInterval ?? 60) * 1000;
    if (interval > 0 && this.options.count > 0) this.armTemperature(interval);
  }

  /** Resolves once every device registered once (or failed for good). */
  whenComplete(): Promise<void> {
    if (this.done()) return Promise.resolve();
    return new Promise((resolve) => this.completeWaiters.push(resolve));
  }

  stats(): FleetStats {
    let registered = 0;
    for (const d of this.devices) {
      if (d !== undefined && d.client.registrationState === 'registered') registered++;
    }
    return {
      count: this.options.count,
      started: this.startedCount,
      registered,
      everRegistered: this.everRegistered,
      failed: this.failed,
      errors: this.errors,
      firstStartAt: this.firstStartAt,
      allRegisteredAt: this.allRegisteredAt,
    };
  }

  /**
   * Stops the ramp and the timers, de-registers every registered device (`concurrency` at a time, each
   * waiting at most `timeout` ms for the server's answer) and closes the endpoints.
   */
  async stop(options: { concurrency?: number; timeout?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.rampTimer !== undefined) this.clock.clearTimeout(this.rampTimer);
    if (this.tempTimer !== undefined) this.clock.clearTimeout(this.tempTimer);
    this.rampTimer = undefined;
    this.tempTimer = undefined;
    const timeout = options.timeout ?? 10_000;
    let i = 0;
    const worker = async () => {
      while (i < this.devices.length) {
        const d = this.devices[i++];
        if (d === undefined) continue;
        let timer: TimerHandle | undefined;
        await Promise.race([
          // stop() reports failures through the client's 'error' event; it never rejects
          d.client.stop(),
          new Promise<void>((resolve) => {
            timer = this.clock.setTimeout(resolve, timeout);
          }),
        ]);
        if (timer !== undefined) this.clock.clearTimeout(timer);
        await d.endpoint.close();
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < Math.max(1, options.concurrency ?? 200); w++) workers.push(worker());
    await Promise.all(workers);
    // endpoints still being created when stop() came are closed as they arrive (see create())
    this.finishWaiters();
  }

  // ---------------------------------------------------------------- ramp

  private done(): boolean {
    return this.everRegistered + this.failed >= this.options.count;
  }

  private finishWaiters(): void {
    const waiters = this.completeWaiters;
    this.completeWaiters = [];
    for (const w of waiters) w();
  }

  private ramp(): void {
    this.rampTimer = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    const elapsed = (now - this.startedAt!) / 1000;
    // `rate` per second since the start (a device held back by maxInFlight goes as soon as a slot frees)
    const allowed = Number.isFinite(this.rate)
      ? Math.min(this.options.count, Math.floor(elapsed * this.rate) + 1)
      : this.options.count;
    while (this.next < allowed && this.inFlight + this.creating < this.maxInFlight) {
      const index = this.next++;
      if (this.registeredOnce[index] === 2) continue; // its endpoint could not be made (prepare())
      const prepared = this.devices[index];
      if (prepared !== undefined) this.go(prepared);
      else this.create(index, true);
    }
    // the next token of a limited rate; without a rate limit a freed in-flight slot starts the next
    // device at once (`release`), so no timer polls for one
    if (this.next < this.options.count && Number.isFinite(this.rate)) {
      const wait = Math.max(1, Math.ceil(1000 / this.rate));
      this.rampTimer = this.clock.setTimeout(() => this.ramp(), Math.min(wait, 50));
    }
  }

  /**
   * Creates every device (endpoint, client, objects) without registering, `concurrency` endpoints at a
   * time; `start()` then only sends Registers. For measurements where creating sockets must not count.
   */
  async prepare(concurrency = 256): Promise<void> {
    if (this.startedAt !== undefined) throw new Error('prepare() comes before start()');
    let i = 0;
    const worker = async () => {
      while (i < this.options.count && !this.stopped) {
        const index = i++;
        if (this.devices[index] !== undefined || this.registeredOnce[index] !== 0) continue;
        try {
          this.build(index, await this.options.createEndpoint(index));
        } catch (e) {
          this.fail(index, undefined, e as Error);
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < Math.max(1, concurrency); w++) workers.push(worker());
    await Promise.all(workers);
  }

  private create(index: number, andGo: boolean): void {
    this.creating++;
    let created: CoapEndpoint | Promise<CoapEndpoint>;
    try {
      created = this.options.createEndpoint(index);
    } catch (e) {
      this.creating--;
      this.fail(index, undefined, e as Error);
      return;
    }
    const ready = (endpoint: CoapEndpoint) => {
      this.creating--;
      if (this.stopped) {
        void endpoint.close();
        return;
      }
      const device = this.build(index, endpoint);
      if (andGo) this.go(device);
    };
    if (created instanceof Promise) {
      created.then(ready, (e: unknown) => {
        this.creating--;
        this.fail(index, undefined, e as Error);
        if (!this.stopped && this.rampTimer === undefined) this.ramp();
      });
    } else ready(created);
  }

  /** Makes device `index` on its endpoint: client, objects, setup(), listeners. It does not register yet. */
  private build(index: number, endpoint: CoapEndpoint): FleetDevice {
    const o = this.options;
    const client = new Lwm2mClient({
      retry: o.retry ?? { count: 5, timer: 5, sequenceDelay: 60, sequenceCount: Number.POSITIVE_INFINITY },
      ...o.clientOptions,
      endpointName: this.name(index),
      endpoint,
      serverUri: o.serverUri,
      lifetime: this.lifetime,
      model: this.model,
      random: this.random,
      ...(o.version === undefined ? {} : { version: o.version }),
      ...(o.clock === undefined ? {} : { clock: o.clock }),
      ...(o.requestTimeout === undefined ? {} : { requestTimeout: o.requestTimeout }),
    });
    const device: FleetDevice = { index, name: client.endpointName, endpoint, client };
    this.devices[index] = device;
    installFleetObjects(client, o.serverUri, this.lifetime, index);
    o.setup?.(client, index);
    client.on('registered', () => {
      if (this.registeredOnce[index] === 0) {
        this.registeredOnce[index] = 1;
        this.everRegistered++;
        this.release(index);
        this.checkComplete();
      }
      this.emit('registered', device);
    });
    client.on('error', (e) => {
      if (this.stopped) return;
      this.errors++;
      this.emit('error', device, index, e);
      // a device waiting to retry frees its slot, so one unreachable server does not stall the ramp
      this.release(index);
      if (client.registrationState === 'failed' && this.registeredOnce[index] === 0) {
        this.registeredOnce[index] = 2;
        this.failed++;
        this.emit('failed', index, e);
        this.checkComplete();
      }
    });
    return device;
  }

  /** Starts registering a built device; it holds an in-flight slot until its first attempt ends. */
  private go(device: FleetDevice): void {
    this.inFlightFlags[device.index] = 1;
    this.inFlight++;
    this.startedCount++;
    if (this.firstStartAt === undefined) this.firstStartAt = this.clock.now();
    device.client.start();
  }

  private release(index: number): void {
    if (this.inFlightFlags[index] === 0) return;
    this.inFlightFlags[index] = 0;
    this.inFlight--;
    if (!this.stopped && this.rampTimer === undefined && this.next < this.options.count) this.ramp();
  }

  private fail(index: number, _device: FleetDevice | undefined, error: Error): void {
    if (this.registeredOnce[index] !== 0) return;
    this.registeredOnce[index] = 2;
    this.failed++;
    this.errors++;
    this.emit('error', undefined, index, error);
    this.emit('failed', index, error);
    this.checkComplete();
  }

  private checkComplete(): void {
    if (!this.done()) return;
    if (this.allRegisteredAt === undefined && this.failed === 0) this.allRegisteredAt = this.clock.now();
    this.emit('complete', this.stats());
    this.finishWaiters();
  }

  // ---------------------------------------------------------------- temperature

  /**
   * One timer for the fleet: every second it moves the temperature of `count / interval` devices, so each
   * device changes about once per interval (observers of /3303/0/5700 get notified).
   */
  private armTemperature(intervalMs: number): void {
    const perTick = Math.max(1, Math.ceil((this.options.count * 1000) / intervalMs));
    const tickMs = Math.min(1000, intervalMs);
    const tick = () => {
      this.tempTimer = undefined;
      if (this.stopped) return;
      const n = this.devices.length;
      for (let k = 0; k < perTick && k < n; k++) {
        const d = this.devices[this.tempCursor];
        this.tempCursor = (this.tempCursor + 1) % n;
        if (d === undefined) continue;
        const step = ((d.index * 7919 + Math.floor(this.clock.now() / intervalMs)) % 600) / 100; // 0–6
        try {
          d.client.set(TEMPERATURE, Math.round((18 + step) * 100) / 100);
        } catch {
          // a setup() that removed the sensor
        }
      }
      this.tempTimer = this.clock.setTimeout(tick, tickMs);
    };
    this.tempTimer = this.clock.setTimeout(tick, tickMs);
  }
}

const TEMPERATURE = [3303, 0, 5700];

/**
 * The objects of a fleet device: Security (NoSec), Server, a small Device object and a Temperature
 * sensor. Values are plain (no per-device closures) to keep a device small.
 */
export function installFleetObjects(
  client: Lwm2mClient,
  serverUri: string,
  lifetime: number,
  index: number,
): void {
  client.addInstance(0, 0, { 0: serverUri, 1: false, 2: 3, 10: SHORT_SERVER_ID });
  client.addInstance(1, 0, { 0: SHORT_SERVER_ID, 1: lifetime, 6: false, 7: 'U' });
  client.addInstance(3, 0, {
    0: 'Thimble',
    1: 'Thimble fleet device',
    2: `TF-${index}`,
    3: '1.0.0',
    4: NO_OP,
    11: [0],
    13: CURRENT_TIME,
    16: 'U',
  });
  client.addInstance(3303, 0, { 5700: 20, 5701: 'Cel' });
}
