/**
 * application/link-format (content format 40) as LwM2M uses it (LwM2M TS Core 1.1: the Register
 * operation, "Attributes", the Discover and Bootstrap-Discover operations; RFC 6690), built on coap-core's link-format codec.
 *
 * - Registration payload: `</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>,</5>;ver=1.1` — an optional root link
 *   carrying the alternate path (`</lwm2m>;rt="oma.lwm2m"`) and supported content formats, then objects
 *   and object instances, paths relative to the alternate path.
 * - Discover response: `</3>;ver=1.1,</3/0>;pmin=10,</3/0/7>;dim=2,</3/0/7/0>,…` with the notification
 *   attributes pmin, pmax, gt, lt, st, epmin, epmax ("Attributes") and dim / ver; Bootstrap-Discover's ssid and
 *   uri.
 */
import {
  formatLinkFormat,
  type Link,
  type LinkAttribute,
  LinkFormatError,
  linkAttributeValues,
  parseLinkFormat,
} from '@thimble/coap-core';
import { formatLwm2mPath, type Lwm2mPath, Lwm2mPathError, parseLwm2mPath } from '../model/path.js';
import { Lwm2mContentError } from './errors.js';

const FORMAT = 40;

/** LwM2M attributes that can appear on a link (TS Core 1.1 and 1.2, "Attributes"). */
export interface Lwm2mAttributes {
  /** Object version (`ver`). */
  readonly ver?: string;
  /** Number of resource instances of a multiple resource (`dim`). */
  readonly dim?: number;
  /** Minimum / maximum period, seconds. */
  readonly pmin?: number;
  readonly pmax?: number;
  /** Greater than / less than / step thresholds. */
  readonly gt?: number;
  readonly lt?: number;
  readonly st?: number;
  /** Minimum / maximum evaluation period, seconds. */
  readonly epmin?: number;
  readonly epmax?: number;
  /** LwM2M 1.2: edge of a boolean resource that notifies (1 rising, 0 falling). */
  readonly edge?: number;
  /** LwM2M 1.2: notifications Confirmable (1) or Non-confirmable (0). */
  readonly con?: number;
  /** Short Server ID and server URI of a Bootstrap-Discover response (TS Core 1.1, Bootstrap-Discover operation). */
  readonly ssid?: number;
  readonly uri?: string;
}

export interface Lwm2mLink {
  readonly path: Lwm2mPath;
  readonly attributes: Lwm2mAttributes;
}

const INTEGER_ATTRS = ['dim', 'pmin', 'pmax', 'epmin', 'epmax', 'edge', 'con', 'ssid'] as const;
const FLOAT_ATTRS = ['gt', 'lt', 'st'] as const;
const ATTR_ORDER = [
  'ver',
  'dim',
  'ssid',
  'uri',
  'pmin',
  'pmax',
  'gt',
  'lt',
  'st',
  'epmin',
  'epmax',
  'edge',
  'con',
] as const;

const malformed = (msg: string): never => {
  throw new Lwm2mContentError('malformed', `link-format: ${msg}`, { format: FORMAT });
};

function parseLinks(text: string): Link[] {
  try {
    return parseLinkFormat(text, { maxLinks: 65536 });
  } catch (e) {
    if (e instanceof LinkFormatError) return malformed(e.message);
    throw e;
  }
}

function targetPath(target: string, root: string): Lwm2mPath {
  let t = target;
  if (root !== '/' && root !== '') {
    if (!t.startsWith(root)) return malformed(`"${t}" is not under the root path "${root}"`);
    t = t.slice(root.length);
  }
  try {
    if (!t.startsWith('/')) throw new Lwm2mPathError('syntax', `"${target}" is not an absolute path`);
    return parseLwm2mPath(t);
  } catch (e) {
    if (e instanceof Lwm2mPathError) {
      throw new Lwm2mContentError('invalid-path', `link-format: ${e.message}`, { format: FORMAT });
    }
    throw e;
  }
}

function readAttributes(link: Link): Lwm2mAttributes {
  const out: { [k: string]: string | number } = {};
  for (const a of link.attributes) {
    const name = a.name;
    if (a.value === true) continue;
    if ((INTEGER_ATTRS as readonly string[]).includes(name)) {
      if (!/^[0-9]{1,15}$/.test(a.value)) malformed(`${name}="${a.value}" is not an integer`);
      out[name] = Number(a.value);
    } else if ((FLOAT_ATTRS as readonly string[]).includes(name)) {
      if (!/^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(a.value))
        malformed(`${name}="${a.value}" is not a number`);
      out[name] = Number(a.value);
    } else if (name === 'uri') {
      out[name] = a.value;
    } else if (name === 'ver') {
      if (!/^[0-9]+\.[0-9]+$/.test(a.value)) malformed(`ver="${a.value}" is not a version`);
      out[name] = a.value;
    }
  }
  return out as Lwm2mAttributes;
}

function writeAttributes(attrs: Lwm2mAttributes): LinkAttribute[] {
  const out: LinkAttribute[] = [];
  for (const k of ATTR_ORDER) {
    const v = attrs[k];
    if (v === undefined) continue;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new Lwm2mContentError('invalid-value', `${k} must be finite`, {
        format: FORMAT,
        responseCode: '5.00',
      });
    }
    out.push({ name: k, value: String(v) });
  }
  return out;
}

/** Formats a Discover response (links with their attributes). */
export function formatDiscover(links: readonly Lwm2mLink[]): string {
  return formatLinkFormat(
    links.map((l) => ({ target: formatLwm2mPath(l.path), attributes: writeAttributes(l.attributes) })),
  );
}

/** Parses a Discover response. */
export function parseDiscover(text: string): Lwm2mLink[] {
  return parseLinks(text).map((l) => ({ path: targetPath(l.target, '/'), attributes: readAttributes(l) }));
}

export interface RegistrationLinks {
  /** Alternate path of the LwM2M objects ("/" when there is none; TS Core 1.1, Register operation). */
  readonly rootPath: string;
  /** Content formats the client supports, from `ct` on the root link (TS Core 1.1, Register operation). */
  readonly contentFormats: readonly number[];
  /** Objects and object instances (paths of 1 or 2 ids) with their `ver`, when given. */
  readonly objects: readonly { readonly path: Lwm2mPath; readonly version?: string }[];
}

/** Formats the Register / Update payload. The root link is written when there is an alternate path or `ct`. */
export function formatRegistrationLinks(reg: RegistrationLinks): string {
  const root = reg.rootPath === '' ? '/' : reg.rootPath;
  const links: Link[] = [];
  if (root !== '/' || reg.contentFormats.length > 0) {
    const attributes: LinkAttribute[] = [{ name: 'rt', value: 'oma.lwm2m' }];
    if (reg.contentFormats.length > 0) attributes.push({ name: 'ct', value: reg.contentFormats.join(' ') });
    links.push({ target: root, attributes });
  }
  const prefix = root === '/' ? '' : root;
  for (const o of reg.objects) {
    if (o.path.length < 1 || o.path.length > 2) {
      throw new Lwm2mContentError('invalid-path', 'registration links are objects or object instances', {
        format: FORMAT,
        responseCode: '5.00',
      });
    }
    links.push({
      target: prefix + formatLwm2mPath(o.path),
      attributes: o.version === undefined ? [] : [{ name: 'ver', value: o.version }],
    });
  }
  return formatLinkFormat(links);
}

/** Parses a Register / Update payload. */
export function parseRegistrationLinks(text: string): RegistrationLinks {
  const links = parseLinks(text);
  let rootPath = '/';
  let contentFormats: number[] = [];
  const rootLink = links.find((l) => linkAttributeValues(l, 'rt').includes('oma.lwm2m'));
  if (rootLink !== undefined) {
    rootPath =
      rootLink.target.length > 1 && rootLink.target.endsWith('/')
        ? rootLink.target.slice(0, -1)
        : rootLink.target;
    for (const a of rootLink.attributes) {
      if (a.name !== 'ct' || a.value === true) continue;
      for (const c of a.value.split(' ')) {
        if (c === '') continue;
        if (!/^[0-9]{1,5}$/.test(c) || Number(c) > 65535) malformed(`ct "${c}" is not a content format`);
        contentFormats.push(Number(c));
      }
    }
  }
  const objects: { path: Lwm2mPath; version?: string }[] = [];
  for (const l of links) {
    if (l === rootLink) continue;
    const path = targetPath(l.target, rootPath);
    if (path.length < 1 || path.length > 2) malformed(`"${l.target}" is not an object or object instance`);
    const ver = readAttributes(l).ver;
    objects.push(ver === undefined ? { path } : { path, version: ver });
  }
  contentFormats = [...new Set(contentFormats)];
  return { rootPath, contentFormats, objects };
}
