/**
 * Notification attributes set by Write-Attributes (LwM2M TS Core 1.1 §5.1.2 "Attributes", §6.3.6
 * Write-Attributes; TS Transport 1.1 §6.3: `PUT /o/i/r?pmin=10&pmax=60`, no payload), with LwM2M 1.2's
 * `edge` and `con` (TS Core 1.2 §5.1.2). Attributes live per path in a plain object keyed by the path
 * text; a resource inherits what its instance and object do not override (TS Core 1.1 §5.1.2: attributes
 * at a lower level take precedence).
 */
import type { Lwm2mAttributes } from '../../content/link-format.js';
import type { Lwm2mPath } from '../../model/path.js';
import type { Lwm2mValue } from '../../model/values.js';
import { Lwm2mClientError } from '../errors.js';

export type NotificationAttributes = Pick<
  Lwm2mAttributes,
  'pmin' | 'pmax' | 'gt' | 'lt' | 'st' | 'epmin' | 'epmax' | 'edge' | 'con'
>;
type Mutable = { -readonly [K in keyof NotificationAttributes]: NotificationAttributes[K] };

const INTEGER = ['pmin', 'pmax', 'epmin', 'epmax'];
const FLOAT = ['gt', 'lt', 'st'];
/** LwM2M 1.2: 0 or 1. `edge` applies to (boolean) resources, `con` at every level. */
const FLAG = ['edge', 'con'];

const bad = (msg: string): never => {
  throw new Lwm2mClientError('bad-request', '4.00', msg);
};

/**
 * Applies a Write-Attributes query to `current`: `name=value` sets, a bare `name` removes (TS Core 1.1
 * §6.3.6). Unknown names and bad numbers are 4.00. Returns a new object.
 */
export function applyAttributeQuery(
  current: NotificationAttributes | undefined,
  query: readonly string[],
  level: number,
): NotificationAttributes {
  const out: Mutable = {};
  if (current !== undefined)
    for (const k of Object.keys(current))
      (out as Record<string, number>)[k] = (current as Record<string, number>)[k]!;
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = eq < 0 ? q : q.slice(0, eq);
    const isInt = INTEGER.indexOf(name) >= 0;
    const isFloat = FLOAT.indexOf(name) >= 0;
    const isFlag = FLAG.indexOf(name) >= 0;
    if (!isInt && !isFloat && !isFlag) bad(`unknown attribute "${name}"`);
    // gt / lt / st (and 1.2's edge) only make sense on a resource (TS Core 1.1 §5.1.2, Table "Attributes")
    if ((isFloat || name === 'edge') && level < 3) bad(`${name} applies to resources only`);
    if (eq < 0) {
      delete (out as Record<string, number>)[name];
      continue;
    }
    const text = q.slice(eq + 1);
    const ok = isFlag
      ? text === '0' || text === '1'
      : isInt
        ? /^[0-9]{1,9}$/.test(text)
        : /^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text);
    if (!ok) bad(`${name}="${text}" is not a valid value`);
    (out as Record<string, number>)[name] = Number(text);
  }
  if (out.pmin !== undefined && out.pmax !== undefined && out.pmax < out.pmin) bad('pmax is below pmin');
  // TS Core 1.1 §5.1.2: the Maximum Evaluation Period must be greater than the Minimum Evaluation Period
  if (out.epmin !== undefined && out.epmax !== undefined && out.epmax <= out.epmin)
    bad('epmax must be above epmin');
  if (out.st !== undefined && out.st < 0) bad('st must not be negative');
  // TS Core 1.1 §5.1.2: lt < gt, and lt + 2 × st < gt when st is set too
  if (out.lt !== undefined && out.gt !== undefined && out.lt + 2 * (out.st ?? 0) >= out.gt)
    bad('lt (+ 2 × st) must be below gt');
  return out;
}

/** Attribute storage per path text (`/3/0/1`). Bounded by the number of paths that exist. */
export class AttributeStore {
  private byPath: { [path: string]: NotificationAttributes | undefined } = {};

  get(path: Lwm2mPath): NotificationAttributes | undefined {
    return this.byPath[key(path)];
  }

  set(path: Lwm2mPath, attrs: NotificationAttributes): void {
    if (Object.keys(attrs).length === 0) delete this.byPath[key(path)];
    else this.byPath[key(path)] = attrs;
  }

  /** Removes the attributes of `path` and everything below it (after a Delete). */
  removeUnder(path: Lwm2mPath): void {
    const p = key(path);
    for (const k of Object.keys(this.byPath)) if (k === p || k.indexOf(`${p}/`) === 0) delete this.byPath[k];
  }

  /** Attributes in force at `path`: the nearest level that sets each one wins; `defaults` last. */
  effective(path: Lwm2mPath, defaults: NotificationAttributes): NotificationAttributes {
    const out: Mutable = {};
    for (let n = path.length; n >= 1; n--) {
      const a = this.byPath[key(path.slice(0, n))];
      if (a === undefined) continue;
      for (const k of Object.keys(a)) {
        const r = out as Record<string, number>;
        if (r[k] === undefined) r[k] = (a as Record<string, number>)[k]!;
      }
    }
    if (out.pmin === undefined && defaults.pmin !== undefined) out.pmin = defaults.pmin;
    if (out.pmax === undefined && defaults.pmax !== undefined) out.pmax = defaults.pmax;
    return out;
  }
}

const key = (path: Lwm2mPath): string => `/${path.join('/')}`;

/**
 * Whether a change of an observed path's value meets its notification conditions (TS Core 1.1 §5.1.2):
 * `level` is the observed path's length, `lastNotified` the numeric value the last notification carried,
 * `previous` the value at the last evaluation and `value` the new one (undefined when unknown, e.g. a
 * callback-backed resource: then only the periods apply).
 *
 * - `edge` (1.2) on a boolean resource: only the transition to true (1) or to false (0) notifies;
 * - `gt` / `lt` on a numeric resource: crossing a threshold notifies; `st`: a step of at least `st` since
 *   the last notification does; with several of them set, any one is enough.
 */
export function conditionsMet(
  a: NotificationAttributes,
  level: number,
  lastNotified: number | undefined,
  previous: Lwm2mValue | undefined,
  value: Lwm2mValue | undefined,
): boolean {
  if (level < 3) return true;
  if (a.edge !== undefined && typeof value === 'boolean')
    return value === (a.edge === 1) && previous !== value;
  if (typeof value !== 'number' || lastNotified === undefined) return true;
  if (a.gt === undefined && a.lt === undefined && a.st === undefined) return true;
  const last = lastNotified;
  const crossed = (t: number | undefined) =>
    t !== undefined && (last - t) * (value - t) <= 0 && last !== value && (last > t || value > t);
  return crossed(a.gt) || crossed(a.lt) || (a.st !== undefined && Math.abs(value - last) >= a.st);
}
