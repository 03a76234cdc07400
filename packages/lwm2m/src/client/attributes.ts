/**
 * Notification attributes set by Write-Attributes (LwM2M TS Core 1.1 §5.1.2 "Attributes", §6.3.6
 * Write-Attributes; TS Transport 1.1 §6.3: `PUT /o/i/r?pmin=10&pmax=60`, no payload). Attributes live
 * per path in a plain object keyed by the path text; a resource inherits what its instance and object
 * do not override (TS Core 1.1 §5.1.2: attributes at a lower level take precedence).
 */
import type { Lwm2mAttributes } from '../content/link-format.js';
import type { Lwm2mPath } from '../model/path.js';
import { Lwm2mClientError } from './errors.js';

export type NotificationAttributes = Pick<
  Lwm2mAttributes,
  'pmin' | 'pmax' | 'gt' | 'lt' | 'st' | 'epmin' | 'epmax'
>;
type Mutable = { -readonly [K in keyof NotificationAttributes]: NotificationAttributes[K] };

const INTEGER = ['pmin', 'pmax', 'epmin', 'epmax'];
const FLOAT = ['gt', 'lt', 'st'];

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
    if (!isInt && !isFloat) bad(`unknown attribute "${name}"`);
    // gt / lt / st only make sense on a resource (TS Core 1.1 §5.1.2, Table "Attributes")
    if (isFloat && level < 3) bad(`${name} applies to resources only`);
    if (eq < 0) {
      delete (out as Record<string, number>)[name];
      continue;
    }
    const text = q.slice(eq + 1);
    const ok = isInt
      ? /^[0-9]{1,9}$/.test(text)
      : /^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text);
    if (!ok) bad(`${name}="${text}" is not a valid value`);
    (out as Record<string, number>)[name] = Number(text);
  }
  if (out.pmin !== undefined && out.pmax !== undefined && out.pmax < out.pmin) bad('pmax is below pmin');
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
