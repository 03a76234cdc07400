/**
 * Validation of Register and Update requests (LwM2M TS Core 1.1 §6.2.1, §6.2.2; TS Transport 1.1 §6.2):
 * query parameters `ep`, `lt`, `lwm2m`, `b`, `Q`, `sms` and the link-format payload. Everything wrong
 * becomes a `RegistrationError` with a diagnostic, which the server answers with 4.00.
 */
import { Lwm2mContentError } from '../../content/errors.js';
import { parseRegistrationLinks, type RegistrationLinks } from '../../content/link-format.js';
import { Lwm2mError } from '../../util/errors.js';
import type { Lwm2mServerVersion } from './store.js';

/** A Register / Update the server cannot accept (answered 4.00 Bad Request with the message). */
export class RegistrationError extends Lwm2mError<'invalid-registration'> {
  override readonly name = 'RegistrationError';
  constructor(message: string) {
    super('invalid-registration', message);
  }
}

export interface RegistrationLimits {
  /** Longest endpoint name (default 128). */
  readonly maxEndpointLength?: number;
  /** Largest registration payload in bytes (default 8192). */
  readonly maxPayloadSize?: number;
  /** Most object links in a registration (default 1024). */
  readonly maxObjectLinks?: number;
}

export interface RegisterParams {
  readonly endpoint: string;
  readonly lifetime: number;
  readonly version: Lwm2mServerVersion;
  readonly binding: string;
  readonly queueMode: boolean;
  readonly sms: string | undefined;
}

export interface UpdateParams {
  readonly lifetime: number | undefined;
  readonly binding: string | undefined;
  readonly sms: string | undefined;
  readonly queueMode: boolean | undefined;
}

export const DEFAULT_LIFETIME = 86_400;
const MAX_LIFETIME = 0xffff_ffff;
const VERSIONS: readonly string[] = ['1.0', '1.1', '1.2'];

const bad = (message: string): never => {
  throw new RegistrationError(message);
};

/** The query as name → value (`true` for a bare name like `Q`); a repeated parameter is an error. */
function queryParams(query: readonly string[]): { [name: string]: string | true } {
  const out: { [name: string]: string | true } = Object.create(null);
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = eq < 0 ? q : q.slice(0, eq);
    if (name in out) bad(`query parameter "${name.slice(0, 16)}" given twice`);
    out[name] = eq < 0 ? true : q.slice(eq + 1);
  }
  return out;
}

function text(params: { [name: string]: string | true }, name: string): string | undefined {
  const v = params[name];
  if (v === true) return bad(`${name} needs a value`);
  return v;
}

function lifetime(v: string): number {
  if (!/^[0-9]{1,10}$/.test(v)) bad(`lt "${v.slice(0, 16)}" is not an integer`);
  const n = Number(v);
  if (n < 1 || n > MAX_LIFETIME) bad(`lt ${n} is not in 1–${MAX_LIFETIME}`);
  return n;
}

/** Binding letters (Core 1.0 §5.3.1.1: U, UQ, S, SQ, US, UQS; Core 1.1 §6.2.1.1: U, S, N, T, with M/H in 1.2). */
function binding(v: string): string {
  if (!/^[UMHSNTQ]{1,6}$/.test(v)) bad(`binding "${v.slice(0, 16)}" is not a binding mode`);
  for (let i = 0; i < v.length; i++) if (v.indexOf(v[i]!, i + 1) >= 0) bad(`binding "${v}" repeats a letter`);
  return v;
}

function sms(v: string): string {
  if (!/^\+?[0-9]{1,20}$/.test(v)) bad(`sms "${v.slice(0, 24)}" is not an MSISDN`);
  return v;
}

/** Endpoint names: visible ASCII, no spaces, bounded (Core §6.2.1 "Endpoint Client Name"). */
function endpointName(v: string, max: number): string {
  if (v.length === 0) bad('ep is empty');
  if (v.length > max) bad(`ep is longer than ${max} characters`);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) bad('ep has characters outside visible ASCII');
  }
  return v;
}

/** Register query (Core §6.2.1). */
export function parseRegisterQuery(
  query: readonly string[],
  limits: RegistrationLimits = {},
): RegisterParams {
  const p = queryParams(query);
  const ep = text(p, 'ep');
  if (ep === undefined) bad('ep (Endpoint Client Name) is required');
  const lt = text(p, 'lt');
  const ver = text(p, 'lwm2m') ?? '1.0';
  if (!VERSIONS.includes(ver)) bad(`lwm2m "${ver.slice(0, 16)}" is not a supported version (1.0, 1.1, 1.2)`);
  const b = binding(text(p, 'b') ?? 'U');
  const q = p.Q;
  if (q !== undefined && q !== true) bad('Q takes no value');
  const s = text(p, 'sms');
  const version = ver as Lwm2mServerVersion;
  return {
    endpoint: endpointName(ep!, limits.maxEndpointLength ?? 128),
    lifetime: lt === undefined ? DEFAULT_LIFETIME : lifetime(lt),
    version,
    // 1.0 says queue mode in the binding (UQ), 1.1+ with the Q parameter (Core 1.1 §6.2.1.1)
    binding: b,
    queueMode: q === true || (version === '1.0' && b.includes('Q')),
    sms: s === undefined ? undefined : sms(s),
  };
}

/** Update query (Core §6.2.2): lt, b, sms, Q, all optional. */
export function parseUpdateQuery(query: readonly string[]): UpdateParams {
  const p = queryParams(query);
  const lt = text(p, 'lt');
  const b = text(p, 'b');
  const s = text(p, 'sms');
  const q = p.Q;
  if (q !== undefined && q !== true) bad('Q takes no value');
  return {
    lifetime: lt === undefined ? undefined : lifetime(lt),
    binding: b === undefined ? undefined : binding(b),
    sms: s === undefined ? undefined : sms(s),
    queueMode: q === true ? true : undefined,
  };
}

/**
 * Parsed link sets by payload text. Devices of one model register the same links, so their registrations
 * share one frozen, compact result (and skip the parse): with thousands of registrations the per-device
 * copies of the object list were most of a registration's memory. Bounded: the oldest entry goes first.
 */
const LINKS_CACHE_MAX = 256;
/** One decoder for every payload (making one costs more than decoding a registration payload). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Longer payloads are parsed every time and not kept (the cache stays well under a megabyte). */
const LINKS_CACHE_TEXT_MAX = 2048;
const linksCache = new Map<string, RegistrationLinks>();

/** A frozen copy with arrays of exactly their length (parsers grow arrays with spare capacity). */
function compactLinks(links: RegistrationLinks): RegistrationLinks {
  const objects = links.objects.map((o) => {
    const path = Object.freeze(o.path.slice());
    return Object.freeze(o.version === undefined ? { path } : { path, version: o.version });
  });
  return Object.freeze({
    rootPath: links.rootPath,
    contentFormats: Object.freeze(links.contentFormats.slice()),
    objects: Object.freeze(objects),
  });
}

/** Parses the link-format payload of a Register / Update, bounded in size and number of links. */
export function parseLinksPayload(
  payload: Uint8Array,
  contentFormat: number | undefined,
  limits: RegistrationLimits = {},
): RegistrationLinks {
  const max = limits.maxPayloadSize ?? 8192;
  if (payload.length > max) bad(`registration payload of ${payload.length} bytes is above ${max}`);
  if (contentFormat !== undefined && contentFormat !== 40)
    bad(`payload must be link-format (40), not ${contentFormat}`);
  let textPayload: string;
  try {
    textPayload = UTF8.decode(payload);
  } catch {
    return bad('payload is not UTF-8');
  }
  const maxLinks = limits.maxObjectLinks ?? 1024;
  const cached = linksCache.get(textPayload);
  if (cached !== undefined) {
    if (cached.objects.length > maxLinks) bad(`more than ${maxLinks} object links`);
    return cached;
  }
  let links: RegistrationLinks;
  try {
    links = parseRegistrationLinks(textPayload);
  } catch (e) {
    if (e instanceof Lwm2mContentError) return bad(`bad object links: ${e.message}`);
    throw e;
  }
  if (links.objects.length > maxLinks) bad(`more than ${maxLinks} object links`);
  if (textPayload.length > LINKS_CACHE_TEXT_MAX) return compactLinks(links);
  links = compactLinks(links);
  if (linksCache.size >= LINKS_CACHE_MAX) linksCache.delete(linksCache.keys().next().value!);
  linksCache.set(textPayload, links);
  return links;
}
