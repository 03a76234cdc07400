/**
 * Queue mode (LwM2M TS Core 1.1 §6.5, TS Transport 1.1 §6.5) as a decorator of the request sender: a
 * device in queue mode that has been quiet longer than `awakeTime` is asleep, and a request for it waits
 * (bounded in number and time) for its next Register or Update before it goes out.
 */
import type { Clock, CoapResponse, Observation } from '@thimble/coap-core';
import type { Lwm2mPath } from '../../model/path.js';
import { Lwm2mServerError } from '../errors.js';
import type { Registration } from '../registration/store.js';
import type { ServerLimits } from '../types.js';
import type { DeviceObserveRequest, DeviceRequest, DeviceRequestSender, SentObservation } from './sender.js';

interface Waiter {
  resolve(r: Registration): void;
  reject(e: Error): void;
  timer: ReturnType<Clock['setTimeout']>;
}

export class QueueModeSender implements DeviceRequestSender {
  /** Registration id → clock time until which the device is taken to be awake. */
  private readonly awakeUntil = new Map<string, number>();
  /** Requests waiting for an endpoint to wake up, by endpoint name. */
  private readonly waiting = new Map<string, Waiter[]>();
  private waitingCount = 0;

  constructor(
    private readonly inner: DeviceRequestSender,
    private readonly clock: Clock,
    private readonly limits: ServerLimits,
  ) {}

  async request(
    r: Registration,
    operation: string,
    path: Lwm2mPath,
    init: DeviceRequest,
  ): Promise<CoapResponse> {
    const reached = await this.reachable(r, init.timeout ?? this.limits.requestTimeout);
    const res = await this.inner.request(reached, operation, path, init);
    this.heard(reached);
    return res;
  }

  async observe(
    r: Registration,
    operation: string,
    path: Lwm2mPath,
    request: DeviceObserveRequest,
    timeout: number | undefined,
    signal: AbortSignal,
  ): Promise<SentObservation> {
    const reached = await this.reachable(r, timeout ?? this.limits.requestTimeout);
    return this.inner.observe(reached, operation, path, request, timeout, signal);
  }

  resume(
    r: Registration,
    path: Lwm2mPath,
    request: DeviceObserveRequest,
    token: Uint8Array,
    signal: AbortSignal,
  ): Observation {
    return this.inner.resume(r, path, request, token, signal);
  }

  /** The device spoke (Register, Update, Send): a queue-mode device is awake for `awakeTime` (others always are). */
  spoke(r: Registration): void {
    if (r.queueMode) this.awakeUntil.set(r.id, this.clock.now() + this.limits.awakeTime);
  }

  /** A registration that is gone (replaced, de-registered, expired). */
  forget(r: Registration): void {
    this.awakeUntil.delete(r.id);
  }

  /**
   * Resolves the requests waiting for `endpoint` with `r`, or rejects them with `error()` (made only when
   * someone waits: an Error captures a stack trace, too dear for every De-register).
   */
  wake(endpoint: string, r: Registration | undefined, error?: () => Error): void {
    const list = this.waiting.get(endpoint);
    if (list === undefined) return;
    this.waiting.delete(endpoint);
    this.waitingCount -= list.length;
    for (const w of list.splice(0)) {
      this.clock.clearTimeout(w.timer);
      if (r !== undefined) w.resolve(r);
      else w.reject(error?.() ?? new Lwm2mServerError('unknown-endpoint', `endpoint "${endpoint}" is gone`));
    }
  }

  /** Rejects every waiting request (the server closes). */
  close(): void {
    for (const ep of [...this.waiting.keys()])
      this.wake(ep, undefined, () => new Lwm2mServerError('closed', 'the server is closed'));
  }

  /** A request for `r` now, or once it wakes up, at most `timeout` ms from now. */
  private reachable(r: Registration, timeout: number): Promise<Registration> | Registration {
    if (!r.queueMode || this.clock.now() < (this.awakeUntil.get(r.id) ?? 0)) return r;
    if (this.waitingCount >= this.limits.maxQueuedRequests)
      throw new Lwm2mServerError('limit', `at most ${this.limits.maxQueuedRequests} queued requests`);
    return new Promise<Registration>((resolve, reject) => {
      const list = this.waiting.get(r.endpoint) ?? [];
      const waiter: Waiter = {
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          const i = list.indexOf(waiter);
          if (i >= 0) {
            list.splice(i, 1);
            this.waitingCount--;
            if (list.length === 0 && this.waiting.get(r.endpoint) === list) this.waiting.delete(r.endpoint);
          }
          reject(
            new Lwm2mServerError(
              'timeout',
              `queue-mode endpoint "${r.endpoint}" did not wake up in ${timeout} ms`,
            ),
          );
        }, timeout),
      };
      list.push(waiter);
      this.waiting.set(r.endpoint, list);
      this.waitingCount++;
    });
  }

  /** The device answered: a queue-mode device is awake for another `awakeTime`. */
  private heard(r: Registration): void {
    if (r.queueMode && this.awakeUntil.has(r.id))
      this.awakeUntil.set(r.id, this.clock.now() + this.limits.awakeTime);
  }
}
