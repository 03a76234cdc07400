/**
 * Firmware campaigns on an `Lwm2mServer`: images kept in memory, pushed to devices (Block1 Write of
 * /5/0/0) or pulled by them (Package URI /5/0/1, served by this server over CoAP Block2 under
 * `/fw/<imageId>`, or any URI the campaign is given), then installed with Execute /5/0/2 (LwM2M TS Core 1.1
 * Appendix E.6). The SHA-256 digest is offered through the vendor object 30500 when the device registered
 * it (see `client/firmware/firmware.ts`).
 *
 * Every device ends `succeeded` or `failed`: attempts have a time limit, a failed attempt is retried up to
 * `retries` times, and a device that de-registers or expires fails its attempt at once.
 */
import {
  type Clock,
  type CoapRequest,
  Code,
  cryptoRandom,
  decodeBlock,
  encodeBlock,
  OptionNumber,
  type Random,
  type ResponseInit,
  systemClock,
} from '@thimble/coap-core';
import { FIRMWARE_DIGEST_OBJECT_ID } from '../../model/firmware-digest.js';
import { type Lwm2mNode, singleResource } from '../../model/nodes.js';
import { Sha256, toHexString } from '../../util/sha256.js';
import { Lwm2mServerError } from '../errors.js';
import type { Registration } from '../registration/store.js';
import type { Lwm2mServer, ServerObservation } from '../server.js';
import type {
  CampaignOptions,
  CampaignStatus,
  DeviceCampaignState,
  DeviceCampaignStatus,
  FirmwareEvent,
  FirmwareImageInfo,
  FirmwareService,
} from './types.js';

export interface FirmwareCampaignsOptions {
  readonly server: Lwm2mServer;
  readonly clock?: Clock;
  readonly random?: Random;
  /**
   * Base URI devices reach this server's CoAP endpoint at (`coap://192.0.2.1:5683`), for pull campaigns
   * that use the images this server serves. Without it, a pull campaign needs a `packageUri`.
   */
  readonly publicUri?: string;
  /** First path segment of the image route (default `fw`: `GET /fw/<imageId>`). */
  readonly routePrefix?: string;
  /** Block size of pushes (16–1024, default: the endpoint's). */
  readonly blockSize?: number;
  /** Milliseconds to wait for each request to a device (default: the server's request timeout). */
  readonly requestTimeout?: number;
  /** Milliseconds between reads of /5/0 while waiting for the device (default 5000). */
  readonly pollInterval?: number;
  /** Milliseconds before a failed attempt is tried again (default 2000). */
  readonly retryDelay?: number;
  /** Most images held (default 32); most bytes per image (default 64 MiB). */
  readonly maxImages?: number;
  readonly maxImageSize?: number;
  /** Finished campaigns kept for `campaign(id)` (default 100). */
  readonly maxFinishedCampaigns?: number;
}

interface Image {
  readonly info: FirmwareImageInfo;
  readonly data: Uint8Array;
  readonly digest: Uint8Array;
  readonly etag: Uint8Array;
}

interface MutableDevice {
  endpoint: string;
  state: DeviceCampaignState;
  bytesSent: number;
  totalBytes: number;
  attempts: number;
  updateResult?: number;
  error?: string;
  startedAt?: number;
  finishedAt?: number;
}

interface Campaign {
  readonly id: string;
  readonly options: CampaignOptions;
  readonly image: Image;
  readonly createdAt: number;
  finishedAt?: number;
  readonly devices: MutableDevice[];
  readonly queue: MutableDevice[];
  running: number;
}

/** One attempt on one device: its cancellation and what the device reported. */
interface Attempt {
  readonly campaign: Campaign;
  readonly device: MutableDevice;
  readonly controller: AbortController;
  failure: Error | undefined;
  state: number | undefined;
  result: number | undefined;
  wake: (() => void) | undefined;
  observations: ServerObservation[];
}

const RESULT_TEXT: { readonly [r: number]: string } = {
  2: 'not enough flash memory',
  3: 'out of RAM during the download',
  4: 'connection lost during the download',
  5: 'integrity check failure',
  6: 'unsupported package type',
  7: 'invalid URI',
  8: 'firmware update failed',
  9: 'unsupported protocol',
  10: 'cancelled',
  11: 'deferred',
};

class AttemptError extends Error {
  constructor(
    message: string,
    /** Retrying cannot help (the device has no Firmware Update object, say). */
    readonly final = false,
  ) {
    super(message);
  }
}

const copyDevice = (d: MutableDevice): DeviceCampaignStatus => ({ ...d });

function intValue(node: Lwm2mNode | undefined): number | undefined {
  if (node === undefined) return undefined;
  if ((node.kind === 'resource' || node.kind === 'resourceInstance') && typeof node.value === 'number')
    return node.value;
  if ((node.kind === 'resource' || node.kind === 'resourceInstance') && typeof node.value === 'bigint')
    return Number(node.value);
  return undefined;
}

/** The `FirmwareService` of the REST API and the CLI, on an `Lwm2mServer`. */
export class FirmwareCampaigns implements FirmwareService {
  readonly server: Lwm2mServer;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly imagesById = new Map<string, Image>();
  private readonly campaignsById = new Map<string, Campaign>();
  private readonly listeners = new Set<(event: FirmwareEvent) => void>();
  /** Attempts in progress by endpoint name (a device is in one campaign attempt at a time). */
  private readonly active = new Map<string, Attempt>();
  private readonly prefix: string;
  private closed = false;

  constructor(private readonly options: FirmwareCampaignsOptions) {
    this.server = options.server;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom();
    this.prefix = options.routePrefix ?? 'fw';
    this.server.addRoute('GET', `/${this.prefix}/:id`, (req) => this.serveImage(req));
    const gone = (r: Registration, what: string) => {
      const a = this.active.get(r.endpoint);
      if (a !== undefined) this.abort(a, new AttemptError(`the device ${what}`));
    };
    this.server.on('deregistered', (r) => gone(r, 'de-registered'));
    this.server.on('expired', (r) => gone(r, 'registration expired'));
    // a device that registers again (it rebooted, say) lost its observations: look at it again now
    this.server.on('registered', (r) => {
      const a = this.active.get(r.endpoint);
      if (a !== undefined) void this.poll(a);
    });
  }

  /** Stops every campaign: devices in progress fail. */
  close(): void {
    this.closed = true;
    for (const a of [...this.active.values()])
      this.abort(a, new AttemptError('the firmware service closed', true));
  }

  // ================================================================ images

  async addImage(name: string, data: Uint8Array): Promise<FirmwareImageInfo> {
    const maxImages = this.options.maxImages ?? 32;
    const maxSize = this.options.maxImageSize ?? 64 * 1024 * 1024;
    if (data.length === 0) throw new Error('an image cannot be empty');
    if (data.length > maxSize) throw new Error(`an image may have at most ${maxSize} bytes`);
    if (this.imagesById.size >= maxImages) throw new Error(`at most ${maxImages} images`);
    const hash = new Sha256();
    // hash in slices so a large image does not block the event loop in one go
    for (let i = 0; i < data.length; i += 1 << 20) {
      hash.update(data.subarray(i, i + (1 << 20)));
      if (i > 0) await Promise.resolve();
    }
    const digest = hash.digest();
    let id: string;
    do id = toHexString(this.random.fill(new Uint8Array(6)));
    while (this.imagesById.has(id));
    const info: FirmwareImageInfo = {
      id,
      name,
      size: data.length,
      sha256: toHexString(digest),
      createdAt: this.clock.now(),
    };
    this.imagesById.set(id, { info, data: data.slice(), digest, etag: digest.slice(0, 8) });
    return info;
  }

  image(id: string): FirmwareImageInfo | undefined {
    return this.imagesById.get(id)?.info;
  }

  images(): FirmwareImageInfo[] {
    return [...this.imagesById.values()].map((i) => i.info);
  }

  /** The URI a device pulls an image from (`publicUri` + `/fw/<id>`), if `publicUri` was given. */
  imageUri(id: string): string | undefined {
    const base = this.options.publicUri;
    return base === undefined
      ? undefined
      : `${base.replace(/\/+$/, '')}/${this.prefix}/${encodeURIComponent(id)}`;
  }

  /** GET /fw/<id>: the image, one Block2 block per request (any block, so downloads can resume). */
  private serveImage(req: CoapRequest): ResponseInit {
    const image = this.imagesById.get(req.params.id ?? '');
    if (image === undefined) return { code: Code.NotFound, payload: 'no such image' };
    const data = image.data;
    const asked = req.message.getUint(OptionNumber.Block2);
    const requested = asked === undefined ? { num: 0, szx: 6 } : decodeBlock(asked);
    const szx = Math.min(requested.szx, 6);
    const size = 1 << (szx + 4);
    // a block size change keeps the byte offset (RFC 7959 §2.4)
    const offset = asked === undefined ? 0 : decodeBlock(asked).offset;
    if (offset >= data.length) return { code: Code.BadOption, payload: 'Block2 beyond the end of the image' };
    const more = offset + size < data.length;
    const options = [
      { number: OptionNumber.Block2, value: encodeBlock({ num: offset / size, more, szx }) },
      { number: OptionNumber.Size2, value: data.length },
    ];
    const sent = Math.min(offset + size, data.length);
    this.served(req, image, sent);
    return {
      code: Code.Content,
      payload: data.subarray(offset, offset + size),
      contentFormat: 42,
      etag: image.etag,
      options,
    };
  }

  /** Pull progress: the bytes served to a device that is in an attempt with this image. */
  private served(req: CoapRequest, image: Image, sent: number): void {
    for (const a of this.active.values()) {
      if (a.campaign.image !== image) continue;
      const r = this.server.registration(a.device.endpoint);
      if (r === undefined || r.peer.address !== req.peer.address || r.peer.port !== req.peer.port) continue;
      if (sent > a.device.bytesSent) {
        a.device.bytesSent = sent;
        this.progress(a.campaign, a.device);
      }
      return;
    }
  }

  // ================================================================ campaigns

  startCampaign(options: CampaignOptions): CampaignStatus {
    if (this.closed) throw new Error('the firmware service is closed');
    const image = this.imagesById.get(options.imageId);
    if (image === undefined) throw new Error(`unknown image "${options.imageId}"`);
    if (options.method !== 'push' && options.method !== 'pull')
      throw new Error(`method must be "push" or "pull", not "${String(options.method)}"`);
    const targets = [...new Set(options.targets)];
    if (targets.length === 0) throw new Error('a campaign needs at least one target');
    if (options.method === 'pull' && options.packageUri === undefined && this.options.publicUri === undefined)
      throw new Error('a pull campaign needs a packageUri (this server has no publicUri to serve images at)');
    for (const [name, v, min] of [
      ['concurrency', options.concurrency, 1],
      ['retries', options.retries, 0],
      ['attemptTimeoutMs', options.attemptTimeoutMs, 1],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < min))
        throw new Error(`${name} must be an integer of at least ${min}`);
    }
    let id: string;
    do id = toHexString(this.random.fill(new Uint8Array(6)));
    while (this.campaignsById.has(id));
    const devices: MutableDevice[] = targets.map((endpoint) => ({
      endpoint,
      state: 'pending',
      bytesSent: 0,
      totalBytes: image.data.length,
      attempts: 0,
    }));
    const campaign: Campaign = {
      id,
      options: { ...options, targets },
      image,
      createdAt: this.clock.now(),
      devices,
      queue: devices.slice(),
      running: 0,
    };
    this.campaignsById.set(id, campaign);
    this.trimFinished();
    // workers start after the caller has the status (and could subscribe)
    this.clock.setTimeout(() => this.pump(campaign), 0);
    return this.status(campaign);
  }

  campaign(id: string): CampaignStatus | undefined {
    const c = this.campaignsById.get(id);
    return c === undefined ? undefined : this.status(c);
  }

  campaigns(): CampaignStatus[] {
    return [...this.campaignsById.values()].map((c) => this.status(c));
  }

  subscribe(listener: (event: FirmwareEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Resolves with the campaign's status once every device succeeded or failed. */
  finished(id: string): Promise<CampaignStatus> {
    const c = this.campaignsById.get(id);
    if (c === undefined) return Promise.reject(new Error(`unknown campaign "${id}"`));
    if (c.finishedAt !== undefined) return Promise.resolve(this.status(c));
    return new Promise((resolve) => {
      const stop = this.subscribe((e) => {
        if (e.type === 'campaign-finished' && e.campaign.id === id) {
          stop();
          resolve(e.campaign);
        }
      });
    });
  }

  private status(c: Campaign): CampaignStatus {
    let succeeded = 0;
    let failed = 0;
    for (const d of c.devices) {
      if (d.state === 'succeeded') succeeded++;
      else if (d.state === 'failed') failed++;
    }
    return {
      id: c.id,
      imageId: c.image.info.id,
      method: c.options.method,
      state: c.finishedAt === undefined ? 'running' : 'finished',
      createdAt: c.createdAt,
      ...(c.finishedAt === undefined ? {} : { finishedAt: c.finishedAt }),
      succeeded,
      failed,
      devices: c.devices.map(copyDevice),
    };
  }

  private trimFinished(): void {
    const max = this.options.maxFinishedCampaigns ?? 100;
    const finished = [...this.campaignsById.values()].filter((c) => c.finishedAt !== undefined);
    for (let i = 0; i < finished.length - max; i++) this.campaignsById.delete(finished[i]!.id);
  }

  private emit(event: FirmwareEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch {
        // a listener's error is its own
      }
    }
  }

  private progress(c: Campaign, d: MutableDevice): void {
    this.emit({ type: 'progress', campaignId: c.id, ...copyDevice(d) });
  }

  /** Starts devices while the campaign has room under its concurrency limit. */
  private pump(c: Campaign): void {
    const limit = c.options.concurrency ?? 10;
    while (c.running < limit && c.queue.length > 0) {
      const d = c.queue.shift()!;
      c.running++;
      void this.runDevice(c, d).finally(() => {
        c.running--;
        if (c.queue.length > 0) this.pump(c);
        else if (c.running === 0 && c.finishedAt === undefined) {
          c.finishedAt = this.clock.now();
          this.emit({ type: 'campaign-finished', campaign: this.status(c) });
        }
      });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.clock.setTimeout(resolve, ms);
    });
  }

  private async runDevice(c: Campaign, d: MutableDevice): Promise<void> {
    const maxAttempts = 1 + (c.options.retries ?? 2);
    d.startedAt = this.clock.now();
    for (;;) {
      d.attempts++;
      d.bytesSent = 0;
      d.state = 'pending';
      delete d.error;
      let error: Error | undefined;
      if (this.closed) error = new AttemptError('the firmware service closed', true);
      else if (this.active.has(d.endpoint))
        error = new AttemptError('the device is in another campaign', true);
      else error = await this.attempt(c, d);
      if (error === undefined) {
        d.state = 'succeeded';
        d.finishedAt = this.clock.now();
        this.progress(c, d);
        return;
      }
      d.error = error.message;
      const final = error instanceof AttemptError && error.final;
      if (final || d.attempts >= maxAttempts) {
        d.state = 'failed';
        d.finishedAt = this.clock.now();
        this.progress(c, d);
        return;
      }
      this.progress(c, d);
      await this.sleep(this.options.retryDelay ?? 2000);
    }
  }

  /** One attempt, bounded in time; resolves with the reason it failed, or undefined on success. */
  private async attempt(c: Campaign, d: MutableDevice): Promise<Error | undefined> {
    const a: Attempt = {
      campaign: c,
      device: d,
      controller: new AbortController(),
      failure: undefined,
      state: undefined,
      result: undefined,
      wake: undefined,
      observations: [],
    };
    this.active.set(d.endpoint, a);
    const limit = c.options.attemptTimeoutMs ?? 600_000;
    const timer = this.clock.setTimeout(
      () => this.abort(a, new AttemptError(`no result within ${limit} ms`)),
      limit,
    );
    const poller = this.startPolling(a);
    try {
      await this.run(a);
      return a.failure;
    } catch (e) {
      return a.failure ?? (e as Error);
    } finally {
      this.clock.clearTimeout(timer);
      poller();
      if (this.active.get(d.endpoint) === a) this.active.delete(d.endpoint);
      a.controller.abort();
      for (const o of a.observations) void o.cancel().catch(() => undefined);
    }
  }

  private abort(a: Attempt, error: Error): void {
    if (a.failure !== undefined) return;
    a.failure = error;
    a.controller.abort();
    a.wake?.();
  }

  private check(a: Attempt): void {
    if (a.failure !== undefined) throw a.failure;
  }

  private seen(a: Attempt, state: number | undefined, result: number | undefined): void {
    let changed = false;
    if (state !== undefined && state !== a.state) {
      a.state = state;
      changed = true;
    }
    if (result !== undefined && result !== a.result) {
      a.result = result;
      a.device.updateResult = result;
      changed = true;
    }
    if (changed) a.wake?.();
  }

  /** Waits until `done` holds for what the device reported (or the attempt fails). */
  private async until(a: Attempt, done: () => boolean): Promise<void> {
    for (;;) {
      this.check(a);
      if (done()) return;
      await new Promise<void>((resolve) => {
        a.wake = resolve;
      });
      a.wake = undefined;
    }
  }

  /** Reads /5/0 every `pollInterval` while the attempt runs (notifications may be lost). */
  private startPolling(a: Attempt): () => void {
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    let stopped = false;
    const tick = () => {
      timer = undefined;
      if (stopped) return;
      void this.poll(a).finally(() => {
        if (!stopped) timer = this.clock.setTimeout(tick, this.options.pollInterval ?? 5000);
      });
    };
    timer = this.clock.setTimeout(tick, this.options.pollInterval ?? 5000);
    return () => {
      stopped = true;
      if (timer !== undefined) this.clock.clearTimeout(timer);
    };
  }

  private async poll(a: Attempt): Promise<void> {
    if (a.failure !== undefined || this.server.registration(a.device.endpoint) === undefined) return;
    try {
      const node = await this.server.read(a.device.endpoint, '/5/0', {
        signal: a.controller.signal,
        ...this.timeout(),
      });
      if (node.kind !== 'objectInstance') return;
      const res = (id: number) => node.resources.find((r) => r.id === id);
      this.seen(a, intValue(res(3)), intValue(res(5)));
    } catch {
      // the next poll, a notification or the attempt's time limit will tell
    }
  }

  private timeout(): { timeout?: number } {
    return this.options.requestTimeout === undefined ? {} : { timeout: this.options.requestTimeout };
  }

  private async observe(a: Attempt, path: string, apply: (v: number) => void): Promise<number | undefined> {
    try {
      const o = await this.server.observe(a.device.endpoint, path, this.timeout());
      a.observations.push(o);
      o.on('notification', (node) => {
        const v = intValue(node);
        if (v !== undefined) apply(v);
      });
      return intValue(o.latest);
    } catch {
      // polling covers a device that does not take the observation
      return undefined;
    }
  }

  private failedResult(a: Attempt): boolean {
    return a.result !== undefined && a.result >= 2;
  }

  private resultError(a: Attempt): AttemptError {
    const r = a.result!;
    return new AttemptError(`Update Result ${r} (${RESULT_TEXT[r] ?? 'unknown'})`);
  }

  /**
   * Execute /5/0/2. Execute is not idempotent: when the answer is lost, the device's state tells whether it
   * ran (Updating, or already Update Result 1) before it is asked again (at most twice more).
   */
  private async executeUpdate(a: Attempt, opts: { signal: AbortSignal; timeout?: number }): Promise<void> {
    for (let again = 0; ; again++) {
      try {
        await this.server.execute(a.device.endpoint, '/5/0/2', undefined, opts);
        return;
      } catch (e) {
        this.check(a);
        if (e instanceof Lwm2mServerError && e.reason === 'device-error') throw e;
        await this.poll(a);
        if (a.state === 3 || a.result === 1) return;
        if (a.state !== 2 || again >= 2) throw e;
      }
    }
  }

  private async run(a: Attempt): Promise<void> {
    const { campaign: c, device: d } = a;
    const ep = d.endpoint;
    const reg = this.server.registration(ep);
    if (reg === undefined) throw new AttemptError('the device is not registered');
    if (!reg.objects.some((o) => o.path[0] === 5))
      throw new AttemptError('the device has no Firmware Update object (5)', true);
    const signal = a.controller.signal;
    const opts = { signal, ...this.timeout() };
    // where the device stands
    const state = await this.observe(a, '/5/0/3', (v) => this.seen(a, v, undefined));
    const result = await this.observe(a, '/5/0/5', (v) => this.seen(a, undefined, v));
    this.check(a);
    if (state === undefined || result === undefined) await this.poll(a);
    else this.seen(a, state, result);
    this.check(a);
    if (a.state === 3) throw new AttemptError('the device is updating already');
    if (a.state !== 0 || (a.result !== undefined && a.result >= 2)) {
      // Appendix E.6: an empty Package URI resets the state machine to Idle
      await this.server.write(ep, '/5/0/1', singleResource(1, 'String', ''), opts);
      this.seen(a, 0, 0);
    }
    // a previous result is no news about this attempt
    a.result = undefined;
    this.check(a);
    if (reg.objects.some((o) => o.path[0] === FIRMWARE_DIGEST_OBJECT_ID)) {
      await this.server.write(
        ep,
        `/${FIRMWARE_DIGEST_OBJECT_ID}/0/0`,
        singleResource(0, 'Opaque', c.image.digest),
        { format: 42, ...opts },
      );
    }
    this.check(a);
    d.state = 'downloading';
    this.progress(c, d);
    const image = c.image.data;
    if (c.options.method === 'push') {
      let last = 0;
      try {
        await this.server.write(ep, '/5/0/0', singleResource(0, 'Opaque', image), {
          format: 42,
          ...opts,
          ...(this.options.blockSize === undefined ? {} : { blockSize: this.options.blockSize }),
          onProgress: (sent) => {
            if (sent <= last) return;
            last = sent;
            d.bytesSent = sent;
            this.progress(c, d);
          },
        });
      } catch (e) {
        // the answer to the last block may be what got lost: a device that reports Downloaded has the
        // whole package of this attempt (it was reset to Idle first, and takes blocks only in order)
        this.check(a);
        if (last < image.length - 1024) throw e;
        await this.poll(a);
        if (a.state !== 2) throw e;
      }
      d.bytesSent = image.length;
      // the last block is answered once the device has the whole package: read where it stands
      await this.poll(a);
    } else {
      const uri = c.options.packageUri ?? this.imageUri(c.image.info.id)!;
      await this.server.write(ep, '/5/0/1', singleResource(1, 'String', uri), opts);
    }
    await this.until(a, () => a.state === 2 || this.failedResult(a));
    if (this.failedResult(a)) throw this.resultError(a);
    d.state = 'downloaded';
    d.bytesSent = image.length;
    this.progress(c, d);
    a.result = undefined;
    await this.executeUpdate(a, opts);
    d.state = 'updating';
    this.progress(c, d);
    await this.until(a, () => a.result === 1 || this.failedResult(a));
    if (a.result !== 1) throw this.resultError(a);
  }
}
