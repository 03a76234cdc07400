/**
 * Information Reporting, client side (LwM2M TS Core 1.1 §6.4, §5.1.2): the observations servers hold
 * (Observe and Observe-Composite), their notification attributes (pmin, pmax, gt / lt / st, epmin,
 * epmax, edge, con) and the timers that make notifications due; queue mode holds a due notification
 * until a Registration Update (Core §6.5).
 */
import { type Clock, type CoapEndpoint, type CoapRequest, Code, peerKey } from '@thimble/coap-core';
import type { Lwm2mCompositeEntry } from '../../content/senml.js';
import type { Lwm2mNode } from '../../model/nodes.js';
import { isPathPrefix, type Lwm2mPath } from '../../model/path.js';
import type { Lwm2mValue } from '../../model/values.js';
import type { ClientContext } from '../context.js';
import { conditionsMet, type NotificationAttributes } from '../objects/attributes.js';
import { compositeKey, entryAt, nodeValue, type ObservedPath, observedPath } from '../objects/composite.js';
import type { InstanceEntry } from '../objects/store.js';

/** How a device-management request reached the client: endpoint, server, and its Access Control. */
export interface Via {
  readonly endpoint: CoapEndpoint;
  readonly shortServerId: number | undefined;
  /** Access Control: may the server read this instance (undefined: not enforced). */
  readonly mayRead: ((objectId: number, instanceId: number) => boolean) | undefined;
  /** Access Control: throws 4.01 unless the server may write this instance. */
  readonly mayWrite: ((objectId: number, instanceId: number) => void) | undefined;
}

/**
 * An observation (Core §6.4.1) of one path, itself its only observed path, or an Observe-Composite
 * (Core §6.4.3) of the paths in `members` (its own `path` is then `[]`, the root the FETCH went to).
 */
export interface Observation extends ObservedPath {
  readonly key: string;
  readonly pathKey: string;
  readonly request: CoapRequest;
  /** The endpoint the Observe came on, and the server (Short Server ID) that sent it. */
  readonly endpoint: CoapEndpoint;
  readonly shortServerId: number | undefined;
  readonly members: ObservedPath[] | undefined;
  lastSent: number;
  /** Queue mode: a notification waits for the wake-up Update. */
  held: boolean;
  epmaxTimer: ReturnType<Clock['setTimeout']> | undefined;
  epminTimer: ReturnType<Clock['setTimeout']> | undefined;
  pminTimer: ReturnType<Clock['setTimeout']> | undefined;
  pmaxTimer: ReturnType<Clock['setTimeout']> | undefined;
}

export function observationKey(req: CoapRequest, path: Lwm2mPath): string {
  return `${peerKey(req.peer)}|${path.join('/')}`;
}

function sameValue(a: Lwm2mValue, b: Lwm2mValue | undefined): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (
    typeof a === 'object' &&
    typeof b === 'object' &&
    !(a instanceof Uint8Array) &&
    !(b instanceof Uint8Array)
  ) {
    return a.objectId === b.objectId && a.instanceId === b.instanceId;
  }
  return false;
}

export class NotificationEngine {
  private observations: Observation[] = [];

  constructor(
    private readonly ctx: ClientContext,
    private readonly maxObservations: number,
  ) {}

  /** Ends every observation (the client stops). */
  clear(): void {
    for (const o of this.observations) this.clearObservationTimers(o);
    this.observations = [];
  }

  /**
   * An instance or object at `path` is gone: its observations and those of anything in it end. Returns
   * the endpoint paths (`3/0`) whose observers must learn it (a 4.04 notification, RFC 7641 §4.2).
   */
  removeUnder(path: Lwm2mPath): string[] {
    const kept: Observation[] = [];
    const gone: string[] = [path.join('/')];
    for (const o of this.observations) {
      if (isPathPrefix(path, o.path)) {
        this.clearObservationTimers(o);
        if (gone.indexOf(o.pathKey) < 0) gone.push(o.pathKey);
      } else kept.push(o);
    }
    this.observations = kept;
    return gone;
  }

  /** Attributes at `path` were written: the timers of the affected observations follow them. */
  attributesChanged(path: Lwm2mPath): void {
    for (const o of this.observations) {
      if (!this.observed(o).some((m) => isPathPrefix(path, m.path))) continue;
      this.armPmax(o);
      this.armEpmax(o);
    }
  }

  /** Queue mode: the client woke up; held notifications go now (Core §6.5). */
  wake(): void {
    for (const o of this.observations.slice())
      if (o.held && this.alive(o)) this.sendNotification(o, undefined);
  }

  isNotification(req: CoapRequest): boolean {
    if (req.method !== Code.GET && req.method !== Code.FETCH) return false;
    for (const o of this.observations) if (o.request === req) return true;
    return false;
  }

  find(key: string): Observation | undefined {
    for (const o of this.observations) if (o.key === key) return o;
    return undefined;
  }

  add(req: CoapRequest, path: Lwm2mPath, node: Lwm2mNode, via: Via): void {
    this.startObservation(
      observationKey(req, path),
      req,
      observedPath(path, node, this.ctx.clock.now()),
      undefined,
      via,
    );
  }

  /** Observe-Composite (Core §6.4.3): one observation of several paths, keyed by server and path list. */
  addComposite(
    req: CoapRequest,
    paths: readonly Lwm2mPath[],
    entries: readonly Lwm2mCompositeEntry[],
    via: Via,
  ): void {
    const now = this.ctx.clock.now();
    const members: ObservedPath[] = [];
    for (const p of paths) members.push(observedPath(p, entryAt(entries, p)?.node, now));
    this.startObservation(compositeKey(req), req, observedPath([], undefined, now), members, via);
  }

  private startObservation(
    key: string,
    req: CoapRequest,
    self: ObservedPath,
    members: ObservedPath[] | undefined,
    via: Via,
  ): void {
    this.remove(key);
    if (this.observations.length >= this.maxObservations) return;
    const o: Observation = {
      ...self,
      key,
      pathKey: self.path.join('/'),
      request: req,
      endpoint: via.endpoint,
      shortServerId: via.shortServerId,
      members,
      lastSent: this.ctx.clock.now(),
      held: false,
      pminTimer: undefined,
      pmaxTimer: undefined,
      epmaxTimer: undefined,
      epminTimer: undefined,
    };
    this.observations.push(o);
    this.armPmax(o);
    this.armEpmax(o);
  }

  remove(key: string): void {
    for (let i = 0; i < this.observations.length; i++) {
      const o = this.observations[i]!;
      if (o.key === key) {
        this.clearObservationTimers(o);
        this.observations.splice(i, 1);
        return;
      }
    }
  }

  private clearObservationTimers(o: Observation): void {
    if (o.pminTimer !== undefined) this.ctx.clock.clearTimeout(o.pminTimer);
    if (o.pmaxTimer !== undefined) this.ctx.clock.clearTimeout(o.pmaxTimer);
    if (o.epmaxTimer !== undefined) this.ctx.clock.clearTimeout(o.epmaxTimer);
    if (o.epminTimer !== undefined) this.ctx.clock.clearTimeout(o.epminTimer);
    o.pminTimer = undefined;
    o.pmaxTimer = undefined;
    o.epmaxTimer = undefined;
    o.epminTimer = undefined;
  }

  /** Observation state lives while the endpoint still has the observer (it drops it on RST / timeout). */
  private alive(o: Observation): boolean {
    if (o.endpoint.observerTotal(o.pathKey, this.observerFilter(o)) > 0) return true;
    this.remove(o.key);
    return false;
  }

  /** A composite observation is one of several FETCH observers of `/`: it is told apart by its request. */
  private observerFilter(o: Observation): ((r: CoapRequest) => boolean) | undefined {
    return o.members === undefined ? undefined : (r) => r === o.request;
  }

  /** The paths an observation evaluates: its members, or itself. */
  private observed(o: Observation): readonly ObservedPath[] {
    return o.members ?? [o];
  }

  private defaults(o: Observation): NotificationAttributes {
    // Default Minimum / Maximum Period of the observing server's Server instance (/1/x/2, /1/x/3)
    const server = this.serverInstanceOf(o.shortServerId);
    const pmin = server?.slots[2]?.value;
    const pmax = server?.slots[3]?.value;
    return {
      pmin: typeof pmin === 'number' ? pmin : undefined,
      pmax: typeof pmax === 'number' && pmax > 0 ? pmax : undefined,
    } as NotificationAttributes;
  }

  private armPmax(o: Observation): void {
    if (o.pmaxTimer !== undefined) this.ctx.clock.clearTimeout(o.pmaxTimer);
    o.pmaxTimer = undefined;
    // the smallest pmax of the observed paths (a composite notification carries them all)
    let pmax: number | undefined;
    for (const m of this.observed(o)) {
      const a = this.ctx.attributes.effective(m.path, this.defaults(o));
      if (a.pmax === undefined || a.pmax <= 0 || (a.pmin !== undefined && a.pmax < a.pmin)) continue;
      if (pmax === undefined || a.pmax < pmax) pmax = a.pmax;
    }
    if (pmax === undefined) return;
    const due = o.lastSent + pmax * 1000 - this.ctx.clock.now();
    o.pmaxTimer = this.ctx.clock.setTimeout(
      () => {
        o.pmaxTimer = undefined;
        if (this.alive(o)) this.sendNotification(o, undefined);
      },
      Math.max(0, due),
    );
  }

  /**
   * epmax (Core 1.1 §5.1.2, "Maximum Evaluation Period"): a resource whose value comes from a read callback
   * is read at least every epmax seconds (the smallest of the observed resources'), and a change found is
   * evaluated like a pushed one. Values the application pushes with `set` are evaluated when pushed.
   */
  private armEpmax(o: Observation): void {
    if (o.epmaxTimer !== undefined) this.ctx.clock.clearTimeout(o.epmaxTimer);
    o.epmaxTimer = undefined;
    let epmax: number | undefined;
    for (const m of this.observed(o)) {
      if (m.path.length < 3) continue;
      const a = this.ctx.attributes.effective(m.path, {});
      if (a.epmax !== undefined && a.epmax > 0 && (epmax === undefined || a.epmax < epmax)) epmax = a.epmax;
    }
    if (epmax === undefined) return;
    o.epmaxTimer = this.ctx.clock.setTimeout(() => {
      o.epmaxTimer = undefined;
      if (!this.alive(o)) return;
      this.reevaluate(o, false).then(
        () => {
          if (this.find(o.key) === o) this.armEpmax(o);
        },
        () => undefined,
      );
    }, epmax * 1000);
  }

  /**
   * Reads the observed resources of `o` again and evaluates those whose value changed since their last
   * evaluation (all of them, or only those a too early change left `deferred` by epmin).
   */
  private async reevaluate(o: Observation, deferredOnly: boolean): Promise<void> {
    for (const m of this.observed(o)) {
      if (m.path.length < 3 || (deferredOnly && !m.deferred)) continue;
      m.deferred = false;
      let v: Lwm2mValue | undefined;
      try {
        v = nodeValue(await this.ctx.reader.readNode(m.path));
      } catch {
        continue; // gone or unreadable now: nothing to evaluate
      }
      if (v !== undefined && !sameValue(v, m.lastEvaluated) && this.find(o.key) === o)
        this.evaluate(o, m.path, v);
    }
  }

  /** A value at `path` changed: evaluate the observations on it, its ancestors and descendants. */
  valueChanged(path: Lwm2mPath, value: Lwm2mValue | undefined): void {
    for (const o of this.observations.slice()) this.evaluate(o, path, value);
  }

  /**
   * Evaluates the notification conditions of `o` for a change at `path` (Core §5.1.2 with 1.2's edge):
   * every observed path the change concerns is checked with its own attributes; one that passes makes a
   * notification due once its pmin allows. epmin: a change within epmin of the path's last evaluation is
   * evaluated when epmin has passed, with the value then current.
   */
  private evaluate(o: Observation, path: Lwm2mPath, value: Lwm2mValue | undefined): void {
    const now = this.ctx.clock.now();
    /** ms until a notification may go (pmin), -1 while no observed path asks for one */
    let wait = -1;
    let checked = false;
    for (const m of this.observed(o)) {
      if (!isPathPrefix(m.path, path) && !isPathPrefix(path, m.path)) continue;
      if (!checked) {
        if (!this.alive(o)) return;
        checked = true;
      }
      const a = this.ctx.attributes.effective(m.path, this.defaults(o));
      if (m.path.length >= 3 && a.epmin !== undefined && now < m.evaluatedAt + a.epmin * 1000) {
        m.deferred = true;
        this.armEpmin(o, m.evaluatedAt + a.epmin * 1000 - now);
        continue;
      }
      const previous = m.lastEvaluated;
      m.evaluatedAt = now;
      // the value belongs to the observed resource when the change is at that resource
      const own = m.path.length === 3 && path.length === 3 && isPathPrefix(m.path, path) ? value : undefined;
      if (own !== undefined) m.lastEvaluated = own;
      if (!conditionsMet(a, m.path.length, m.lastValue, previous, own)) continue;
      const w = a.pmin !== undefined ? Math.max(0, o.lastSent + a.pmin * 1000 - now) : 0;
      if (wait < 0 || w < wait) wait = w;
    }
    if (wait < 0) return;
    const numeric = o.members === undefined && typeof value === 'number' ? value : undefined;
    if (wait === 0) this.sendNotification(o, numeric);
    else if (o.pminTimer === undefined) {
      o.pminTimer = this.ctx.clock.setTimeout(() => {
        o.pminTimer = undefined;
        if (this.alive(o)) this.sendNotification(o, undefined);
      }, wait);
    }
  }

  private armEpmin(o: Observation, delay: number): void {
    if (o.epminTimer !== undefined) return;
    o.epminTimer = this.ctx.clock.setTimeout(
      () => {
        o.epminTimer = undefined;
        if (this.alive(o)) this.reevaluate(o, true).catch(() => undefined);
      },
      Math.max(0, delay),
    );
  }

  /** con (1.2, Core §5.1.2): Confirmable when an observed path asks for 1, Non-confirmable when all ask for 0. */
  private confirmable(o: Observation): boolean | undefined {
    let all0 = true;
    for (const m of this.observed(o)) {
      const c = this.ctx.attributes.effective(m.path, {}).con;
      if (c === 1) return true;
      if (c !== 0) all0 = false;
    }
    return all0 ? false : undefined;
  }

  private sendNotification(o: Observation, value: number | undefined): void {
    if (o.pminTimer !== undefined) this.ctx.clock.clearTimeout(o.pminTimer);
    o.pminTimer = undefined;
    if (this.ctx.sleeping) {
      // Core §6.5: a sleeping client sends a Registration Update before it notifies
      o.held = true;
      if (value !== undefined) o.lastValue = value;
      void this.ctx.triggerUpdate();
      return;
    }
    o.held = false;
    o.lastSent = this.ctx.clock.now();
    if (value !== undefined) o.lastValue = value;
    const filter = this.observerFilter(o);
    const confirmable = this.confirmable(o);
    o.endpoint.notify(o.pathKey, {
      ...(filter === undefined ? {} : { filter }),
      ...(confirmable === undefined ? {} : { confirmable }),
    });
    this.armPmax(o);
  }

  /** The Server (1) instance with /1/x/0 = `shortServerId` (else the first one, for a lone server). */
  private serverInstanceOf(shortServerId: number | undefined): InstanceEntry | undefined {
    const ids = this.ctx.objects.instanceIds(1);
    for (const id of ids) {
      const e = this.ctx.objects.get(1, id)!;
      if (shortServerId !== undefined && e.slots[0]?.value === shortServerId) return e;
    }
    return ids.length === 0 ? undefined : this.ctx.objects.get(1, ids[0]!);
  }
}
