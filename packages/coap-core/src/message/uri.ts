/**
 * CoAP URIs and the options that carry them (RFC 7252 §6: coap, coaps; RFC 8323 §8: coap+tcp, coaps+tcp).
 * §6.4 decomposes a URI into Uri-Host / Uri-Port / Uri-Path / Uri-Query; §6.5 composes one back.
 */
import { CoapError } from '../errors.js';
import { readUtf8, utf8Encode, utf8Length, writeUtf8 } from '../util/bytes.js';
import { OptionNumber } from './options.js';
import type { CoapOptionInit } from './types.js';

export type UriErrorReason =
  | 'not-absolute'
  | 'unsupported-scheme'
  | 'has-userinfo'
  | 'has-fragment'
  | 'invalid-host'
  | 'invalid-port'
  | 'invalid-character'
  | 'invalid-percent-encoding';

export class UriError extends CoapError<UriErrorReason> {
  override readonly name = 'UriError';
  constructor(reason: UriErrorReason, message: string) {
    super(reason, message);
  }
}

/** Default ports per scheme (RFC 7252 §6.1–6.2, RFC 8323 §8). */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  coap: 5683,
  coaps: 5684,
  'coap+tcp': 5683,
  'coaps+tcp': 5684,
  'coap+ws': 80,
  'coaps+ws': 443,
};

export interface CoapUri {
  /** Lower-case scheme: `coap`, `coaps`, `coap+tcp`, ... */
  readonly scheme: string;
  /** Host without brackets; reg-names are lower-cased and percent-decoded. */
  readonly host: string;
  /** True when the host is an IPv4 address or an IP-literal (no Uri-Host is sent then, §6.4 step 5). */
  readonly hostIsIp: boolean;
  /** Port, the scheme's default when the URI has none. */
  readonly port: number;
  /** Percent-decoded path segments; `[]` for an empty path or "/". */
  readonly path: readonly string[];
  /** Percent-decoded query arguments. */
  readonly query: readonly string[];
}

const URI_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/;
// pchar = unreserved / pct-encoded / sub-delims / ":" / "@" (RFC 3986 §3.3)
const PATH_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;
const QUERY_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
const REG_NAME_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const IPV4_RE = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6_CHARS_RE = /^[0-9A-Fa-f:.]+$/;

function isIpv6(text: string): boolean {
  if (!IPV6_CHARS_RE.test(text)) return false;
  let head = text;
  let groupsForV4 = 0;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.') >= 0) {
    if (!IPV4_RE.test(text.slice(lastColon + 1))) return false;
    head = text.slice(0, lastColon + 1) + (text[lastColon - 1] === ':' ? '' : '0');
    groupsForV4 = 1; // an embedded IPv4 address takes two groups; one was replaced by "0"
  }
  const double = head.indexOf('::');
  if (double !== head.lastIndexOf('::')) return false;
  const parts = (double >= 0 ? head.replace('::', ':x:') : head).split(':');
  let groups = 0;
  for (const p of parts) {
    if (p === 'x' || (p === '' && double >= 0)) continue;
    if (!/^[0-9A-Fa-f]{1,4}$/.test(p)) return false;
    groups++;
  }
  groups += groupsForV4;
  return double >= 0 ? groups <= 7 : groups === 8;
}

/** Percent-decodes into bytes (RFC 3986 §2.1). */
export function percentDecode(text: string): Uint8Array {
  if (text.indexOf('%') < 0) return utf8Encode(text);
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.substr(i + 1, 2);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new UriError('invalid-percent-encoding', `bad percent-encoding "%${hex}"`);
      }
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      out.push(c);
    } else {
      const enc = utf8Encode(text.slice(i, i + (c >= 0xd800 && c <= 0xdbff ? 2 : 1)));
      for (const b of enc) out.push(b);
      if (c >= 0xd800 && c <= 0xdbff) i++;
    }
  }
  return Uint8Array.from(out);
}

function decodeToString(text: string): string {
  const bytes = percentDecode(text);
  return readUtf8(bytes, 0, bytes.length);
}

/**
 * Parses an absolute coap / coaps / coap+tcp / coaps+tcp URI (RFC 7252 §6, RFC 8323 §8).
 * Throws `UriError` for relative URIs, fragments, userinfo, bad hosts, ports or characters.
 */
export function parseUri(uri: string): CoapUri {
  const m = URI_RE.exec(uri);
  if (!m) throw new UriError('not-absolute', `"${uri}" is not an absolute URI`);
  const scheme = m[1]!.toLowerCase();
  const defaultPort = DEFAULT_PORTS[scheme];
  if (defaultPort === undefined) throw new UriError('unsupported-scheme', `unsupported scheme "${scheme}"`);
  if (m[5] !== undefined) throw new UriError('has-fragment', 'CoAP URIs have no fragment (RFC 7252 §6.4)');
  const authority = m[2]!;
  if (authority.indexOf('@') >= 0) throw new UriError('has-userinfo', 'CoAP URIs have no userinfo');
  let host: string;
  let hostIsIp: boolean;
  let rest: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw new UriError('invalid-host', `unterminated IP-literal in "${uri}"`);
    host = authority.slice(1, close);
    if (!isIpv6(host)) throw new UriError('invalid-host', `"${host}" is not an IPv6 address`);
    host = host.toLowerCase();
    hostIsIp = true;
    rest = authority.slice(close + 1);
  } else {
    const colon = authority.lastIndexOf(':');
    const raw = colon >= 0 ? authority.slice(0, colon) : authority;
    rest = colon >= 0 ? authority.slice(colon) : '';
    if (raw === '' || !REG_NAME_RE.test(raw)) throw new UriError('invalid-host', `invalid host "${raw}"`);
    hostIsIp = IPV4_RE.test(raw);
    host = hostIsIp ? raw : decodeToString(raw.toLowerCase());
  }
  let port = defaultPort;
  if (rest !== '') {
    if (!/^:\d*$/.test(rest)) throw new UriError('invalid-port', `invalid port in "${uri}"`);
    if (rest.length > 1) {
      port = Number(rest.slice(1));
      if (port > 65535) throw new UriError('invalid-port', `port ${port} is out of range`);
    }
  }
  const rawPath = m[3]!;
  if (!PATH_RE.test(rawPath))
    throw new UriError('invalid-character', `invalid character in path "${rawPath}"`);
  const rawQuery = m[4];
  if (rawQuery !== undefined && !QUERY_RE.test(rawQuery)) {
    throw new UriError('invalid-character', `invalid character in query "${rawQuery}"`);
  }
  const path = rawPath === '' || rawPath === '/' ? [] : rawPath.slice(1).split('/').map(decodeToString);
  // §6.4 step 9: a present query component has at least one (possibly empty) argument
  const query = rawQuery === undefined ? [] : rawQuery.split('&').map(decodeToString);
  return { scheme, host, hostIsIp, port, path, query };
}

/**
 * The request options for a URI (RFC 7252 §6.4): Uri-Host for a reg-name, Uri-Port only when the
 * destination port differs from the URI's, one Uri-Path per segment, one Uri-Query per argument.
 * Values are the percent-decoded octets.
 */
export function uriToOptions(uri: string | CoapUri, destinationPort?: number): CoapOptionInit[] {
  const u = typeof uri === 'string' ? parseUri(uri) : uri;
  const options: CoapOptionInit[] = [];
  if (!u.hostIsIp) options.push({ number: OptionNumber.UriHost, value: u.host });
  if (destinationPort !== undefined && destinationPort !== u.port) {
    options.push({ number: OptionNumber.UriPort, value: u.port });
  }
  for (const segment of u.path) options.push({ number: OptionNumber.UriPath, value: segment });
  for (const argument of u.query) options.push({ number: OptionNumber.UriQuery, value: argument });
  return options;
}

const HEX = '0123456789ABCDEF';

function percentEncode(text: string, allowed: RegExp): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const c = text.charCodeAt(i);
    if (c < 0x80 && allowed.test(ch)) {
      out += ch;
      continue;
    }
    const wide = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length;
    const piece = wide ? text.slice(i, i + 2) : ch;
    if (wide) i++;
    const bytes = new Uint8Array(utf8Length(piece));
    writeUtf8(piece, bytes, 0);
    for (const b of bytes) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

const SEGMENT_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
const QUERY_CHAR = /[A-Za-z0-9\-._~!$'()*+,;=:@/?]/; // "&" separates arguments, so it is encoded
const HOST_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=]/;

export interface UriParts {
  readonly scheme?: string;
  readonly host: string;
  readonly port?: number;
  readonly path?: readonly string[];
  readonly query?: readonly string[];
}

/** Composes a URI from its parts, percent-encoding as RFC 7252 §6.5 prescribes. */
export function formatUri(parts: UriParts): string {
  const scheme = (parts.scheme ?? 'coap').toLowerCase();
  const defaultPort = DEFAULT_PORTS[scheme];
  if (defaultPort === undefined) throw new UriError('unsupported-scheme', `unsupported scheme "${scheme}"`);
  let host = parts.host;
  if (host.indexOf(':') >= 0) {
    if (!isIpv6(host)) throw new UriError('invalid-host', `"${host}" is not an IPv6 address`);
    host = `[${host}]`;
  } else if (!IPV4_RE.test(host)) {
    if (host === '') throw new UriError('invalid-host', 'empty host');
    host = percentEncode(host, HOST_CHAR);
  }
  let uri = `${scheme}://${host}`;
  if (parts.port !== undefined && parts.port !== defaultPort) uri += `:${parts.port}`;
  const path = parts.path ?? [];
  if (path.length === 0) uri += '/';
  for (const segment of path) uri += `/${percentEncode(segment, SEGMENT_CHAR)}`;
  const query = parts.query ?? [];
  if (query.length > 0) uri += `?${query.map((q) => percentEncode(q, QUERY_CHAR)).join('&')}`;
  return uri;
}

/** A view of a message's options sufficient for §6.5. A decoded `CoapMessage` fits. */
export interface UriOptionSource {
  getString(number: number): string | undefined;
  getStrings(number: number): string[];
  getUint(number: number): number | undefined;
}

/**
 * Composes the request URI from a message's Uri-Host / Uri-Port / Uri-Path / Uri-Query options and the
 * destination the request was sent to (RFC 7252 §6.5).
 */
export function optionsToUri(
  message: UriOptionSource,
  destination: { scheme?: string; host: string; port?: number },
): string {
  return formatUri({
    scheme: destination.scheme ?? 'coap',
    host: message.getString(OptionNumber.UriHost) ?? destination.host,
    port: message.getUint(OptionNumber.UriPort) ?? destination.port,
    path: message.getStrings(OptionNumber.UriPath),
    query: message.getStrings(OptionNumber.UriQuery),
  });
}
