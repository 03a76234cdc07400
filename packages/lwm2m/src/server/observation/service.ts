/**
 * The Information Reporting interface, server side (LwM2M TS Core 1.1 §6.4): Observe, Observe-Composite,
 * their cancellation, the notifications (decoded and handed to the `ObservationListener`) and the
 * `ObservationStore` that lets a restarted server take its observations up again.
 */
import { type Clock, type CoapResponse, fromHex, type Observation } from '@thimble/coap-core';
import { decodeComposite } from '../../content/codecs.js';
import type { Lwm2mCompositeEntry } from '../../content/senml.js';
import type { Lwm2mNode } from '../../model/nodes.js';
import { formatLwm2mPath, type Lwm2mPath, parseLwm2mPath } from '../../model/path.js';
import type { Lwm2mModel } from '../../model/registry.js';
import { Lwm2mServerError } from '../errors.js';
import { compositeFormat, compositeRequest, formatFor, toPath } from '../formats.js';
import type { Registration, RegistrationStore } from '../registration/store.js';
import { decodeAnswer, type RegistrationLookup } from '../requests/operations.js';
import { type DeviceObserveRequest, type DeviceRequestSender, deviceError } from '../requests/sender.js';
import type { CompositeNotificationEvent, NotificationEvent, ReadOptions, ServerLimits } from '../types.js';
import { type AnyObservation, ServerCompositeObservation, ServerObservation } from './observation.js';
import type { ObservationStore, StoredObservation } from './store.js';

/** Where decoded notifications go (the server's events). */
export interface ObservationListener {
  notification(event: NotificationEvent): void;
  compositeNotification(event: CompositeNotificationEvent): void;
}

/** The CoAP request of an observation: GET on the path, or FETCH on / with the path list (composite). */
function observeRequest(
  paths: readonly Lwm2mPath[],
  composite: boolean,
  format: number,
): DeviceObserveRequest {
  if (!composite) return { method: 'GET', accept: format };
  return { method: 'FETCH', ...compositeRequest(format, paths) };
}

export class ObservationService {
  private readonly observations = new Set<AnyObservation>();
  /** The same observations by registration id (a registration that goes ends its own only). */
  private readonly byRegistration = new Map<string, Set<AnyObservation>>();
  private closed = false;

  constructor(
    private readonly sender: DeviceRequestSender,
    private readonly registrations: RegistrationStore,
    private readonly store: ObservationStore,
    private readonly listener: ObservationListener,
    private readonly registrationOf: RegistrationLookup,
    private readonly model: Lwm2mModel,
    private readonly clock: Clock,
    private readonly limits: ServerLimits,
  ) {}

  /** Observe (Core §6.4.1): resolves with the observation once the device sent the current value. */
  async observe(
    endpoint: string,
    path: string | Lwm2mPath,
    options: ReadOptions = {},
  ): Promise<ServerObservation> {
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Observe needs an object path');
    const r = this.registrationOf(endpoint);
    return this.establish(
      r,
      [p],
      false,
      formatFor(r, options.format),
      options.timeout,
    ) as Promise<ServerObservation>;
  }

  /** Observe-Composite (Core §6.4.3, 1.1+; Transport §6.4): FETCH on / with Observe and the SenML path list. */
  async observeComposite(
    endpoint: string,
    paths: readonly (string | Lwm2mPath)[],
    options: ReadOptions = {},
  ): Promise<ServerCompositeObservation> {
    const ps = paths.map(toPath);
    if (ps.length === 0) throw new Lwm2mServerError('bad-request', 'Observe-Composite needs paths');
    const r = this.registrationOf(endpoint);
    return this.establish(
      r,
      ps,
      true,
      compositeFormat(r, options.format),
      options.timeout,
    ) as Promise<ServerCompositeObservation>;
  }

  /** Observations of one path currently held for an endpoint (all of them without an endpoint). */
  observationsOf(endpoint?: string): ServerObservation[] {
    const out: ServerObservation[] = [];
    for (const o of this.observations)
      if (o instanceof ServerObservation && (endpoint === undefined || o.endpoint === endpoint)) out.push(o);
    return out;
  }

  /** Observe-Composite observations currently held for an endpoint (all of them without an endpoint). */
  compositeObservationsOf(endpoint?: string): ServerCompositeObservation[] {
    const out: ServerCompositeObservation[] = [];
    for (const o of this.observations)
      if (o instanceof ServerCompositeObservation && (endpoint === undefined || o.endpoint === endpoint))
        out.push(o);
    return out;
  }

  /** Cancel Observation (Core §6.4.2): cancels every observation of `path` on the endpoint; returns how many. */
  async cancelObserve(endpoint: string, path: string | Lwm2mPath): Promise<number> {
    const key = formatLwm2mPath(toPath(path));
    const matching = this.observationsOf(endpoint).filter((o) => formatLwm2mPath(o.path) === key);
    await Promise.all(matching.map((o) => o.cancel()));
    return matching.length;
  }

  /** Cancel Observation-Composite (Core §6.4.4): every composite observation of exactly these paths. */
  async cancelObserveComposite(endpoint: string, paths: readonly (string | Lwm2mPath)[]): Promise<number> {
    const key = paths
      .map((p) => formatLwm2mPath(toPath(p)))
      .sort()
      .join(' ');
    const matching = this.compositeObservationsOf(endpoint).filter(
      (o) => o.paths.map(formatLwm2mPath).sort().join(' ') === key,
    );
    await Promise.all(matching.map((o) => o.cancel()));
    return matching.length;
  }

  /** Ends the observations of a registration that is gone, without a message to the device. */
  endAll(registrationId: string): void {
    const own = this.byRegistration.get(registrationId);
    if (own !== undefined) for (const o of [...own]) o.finish();
  }

  /** Ends every observation passively: they stay in the store, for a server that starts again on it. */
  close(): void {
    this.closed = true;
    for (const o of [...this.observations]) o.finish();
  }

  /**
   * Takes up the stored observations of registrations still in the store (after a restart): their
   * notifications arrive with the tokens the device was given. Observations of a registration that is
   * gone, or protected with OSCORE (their responses verify against the lost request binding, RFC 8613
   * §8.4), are dropped from the store; the device's next notification then gets a Reset (RFC 7641 §3.6).
   */
  resumeStored(): void {
    for (const stored of this.store.list()) {
      const r = this.registrations.get(stored.registrationId);
      if (r === undefined || r.authentication === 'oscore' || !this.resume(r, stored))
        this.store.remove(stored.token);
    }
  }

  private resume(r: Registration, stored: StoredObservation): boolean {
    if (this.observations.size >= this.limits.maxObservations) return false;
    let paths: Lwm2mPath[];
    let coap: Observation;
    const controller = new AbortController();
    try {
      paths = stored.paths.map((p) => parseLwm2mPath(p));
      if (paths.length === 0 || (!stored.composite && paths.length !== 1)) return false;
      coap = this.sender.resume(
        r,
        stored.composite ? [] : paths[0]!,
        observeRequest(paths, stored.composite, stored.format),
        fromHex(stored.token),
        controller.signal,
      );
    } catch {
      return false; // a record that does not make an observation any more
    }
    this.attach(r, paths, stored.composite, stored.format, undefined, coap, () => controller.abort());
    return true;
  }

  private async establish(
    registration: Registration,
    paths: readonly Lwm2mPath[],
    composite: boolean,
    format: number,
    timeout: number | undefined,
  ): Promise<AnyObservation> {
    const operation = composite ? 'Observe-Composite' : 'Observe';
    const where = composite ? [] : paths[0]!;
    if (this.observations.size >= this.limits.maxObservations)
      throw new Lwm2mServerError('limit', `at most ${this.limits.maxObservations} observations`);
    const request = observeRequest(paths, composite, format);
    const controller = new AbortController();
    const sent = await this.sender.observe(
      registration,
      operation,
      where,
      request,
      timeout,
      controller.signal,
    );
    const r = sent.registration;
    const coap = sent.coap;
    const first = coap.peek();
    if (first === undefined) {
      controller.abort();
      throw new Lwm2mServerError(
        'request-failed',
        `${operation} ${formatLwm2mPath(where)} on "${r.endpoint}": no response`,
      );
    }
    if (!first.ok) throw deviceError(r, operation, where, first);
    const value = this.decodeObserved(r, operation, paths, composite, first, format);
    // the registration may have gone while we waited
    if (this.registrations.get(r.id) === undefined) {
      controller.abort();
      throw new Lwm2mServerError('unknown-endpoint', `endpoint "${r.endpoint}" is no longer registered`);
    }
    // others may have been established while this one waited for its first response
    if (this.observations.size >= this.limits.maxObservations) {
      controller.abort();
      throw new Lwm2mServerError('limit', `at most ${this.limits.maxObservations} observations`);
    }
    const o = this.attach(r, paths, composite, format, value, coap, () => controller.abort());
    try {
      this.store.put({
        token: o.token,
        registrationId: r.id,
        endpoint: r.endpoint,
        paths: paths.map(formatLwm2mPath),
        composite,
        format,
        createdAt: this.clock.now(),
      });
    } catch (e) {
      // not kept, not held: an observation a restart would silently lose is refused now
      o.finish();
      if (e instanceof Lwm2mServerError) throw e;
      throw new Lwm2mServerError('request-failed', `${operation}: the observation store failed`, {
        cause: e,
      });
    }
    return o;
  }

  private decodeObserved(
    r: Registration,
    operation: string,
    paths: readonly Lwm2mPath[],
    composite: boolean,
    res: CoapResponse,
    format: number,
  ): Lwm2mNode | Lwm2mCompositeEntry[] {
    if (!composite) return decodeAnswer(this.model, r, operation, paths[0]!, res, format);
    try {
      return decodeComposite(res.contentFormat ?? format, res.payload, this.model, paths);
    } catch (e) {
      throw new Lwm2mServerError(
        'bad-response',
        `${operation} on "${r.endpoint}": ${(e as Error)?.message}`,
        {
          cause: e,
        },
      );
    }
  }

  /** Wraps a CoAP observation: decodes its notifications, hands them on, ends with it. */
  private attach(
    r: Registration,
    paths: readonly Lwm2mPath[],
    composite: boolean,
    format: number,
    first: Lwm2mNode | Lwm2mCompositeEntry[] | undefined,
    coap: Observation,
    abort: () => void,
  ): AnyObservation {
    const onEnd = () => {
      this.observations.delete(o);
      const own = this.byRegistration.get(r.id);
      if (own?.delete(o) && own.size === 0) this.byRegistration.delete(r.id);
      // a closing server keeps its observations in the store, for the next run
      if (!this.closed) this.store.remove(o.token);
    };
    const o: AnyObservation = composite
      ? new ServerCompositeObservation(
          r.endpoint,
          r.id,
          paths,
          first as Lwm2mCompositeEntry[] | undefined,
          coap,
          abort,
          onEnd,
        )
      : new ServerObservation(
          r.endpoint,
          r.id,
          paths[0]!,
          first as Lwm2mNode | undefined,
          coap,
          abort,
          onEnd,
        );
    this.observations.add(o);
    let own = this.byRegistration.get(r.id);
    if (own === undefined) {
      own = new Set();
      this.byRegistration.set(r.id, own);
    }
    own.add(o);
    const operation = composite ? 'Notify (composite)' : 'Notify';
    const where = composite ? [] : paths[0]!;
    const firstResponse = coap.peek();
    coap.on('notification', (res) => {
      if (res === firstResponse) return;
      const current = this.registrations.get(r.id) ?? r;
      if (!res.ok) {
        o.fail(deviceError(current, operation, where, res));
        return;
      }
      let value: Lwm2mNode | Lwm2mCompositeEntry[];
      try {
        value = this.decodeObserved(current, operation, paths, composite, res, format);
      } catch (e) {
        o.report(e as Error);
        return;
      }
      if (o instanceof ServerCompositeObservation) {
        const entries = value as Lwm2mCompositeEntry[];
        o.deliver(entries);
        this.listener.compositeNotification({ registration: current, endpoint: r.endpoint, paths, entries });
      } else {
        const node = value as Lwm2mNode;
        o.deliver(node);
        this.listener.notification({ registration: current, endpoint: r.endpoint, path: o.path, node });
      }
    });
    coap.on('error', (e) => o.fail(e));
    coap.on('end', () => o.finish());
    return o;
  }
}
