/**
 * CoRE Link Format (RFC 6690): `</sensors/temp>;rt="temperature-c";if="sensor";obs,</x>;ct=40`.
 *
 * Attributes keep their order; repeated attributes are kept; a parameter without a value (`obs`) has the
 * value `true`. Unknown attributes are kept as they are.
 */
import { CoapError } from '../errors.js';

export interface LinkAttribute {
  readonly name: string;
  /** The unquoted value, or `true` for a parameter that has none. */
  readonly value: string | true;
}

export interface Link {
  /** The URI-Reference between `<` and `>`. */
  readonly target: string;
  readonly attributes: readonly LinkAttribute[];
}

export type LinkFormatErrorReason =
  | 'expected-link'
  | 'unterminated-target'
  | 'invalid-target'
  | 'invalid-parameter-name'
  | 'expected-value'
  | 'unterminated-quoted-string'
  | 'unexpected-character'
  | 'too-large';

export class LinkFormatError extends CoapError<LinkFormatErrorReason> {
  override readonly name = 'LinkFormatError';
  /** Character offset in the input. */
  readonly offset: number;
  constructor(reason: LinkFormatErrorReason, offset: number, detail: string) {
    super(reason, `${detail} (at character ${offset})`);
    this.offset = offset;
  }
}

export interface ParseLinkFormatOptions {
  /** Upper bound on the number of links accepted (default 10,000). */
  readonly maxLinks?: number;
}

// parmname = 1*( ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" )
// (RFC 8288 token characters; "*" allowed for ext-name-star)
const isParmChar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  c === 0x21 ||
  c === 0x23 ||
  c === 0x24 ||
  c === 0x26 ||
  c === 0x2a ||
  c === 0x2b ||
  c === 0x2d ||
  c === 0x2e ||
  c === 0x5e ||
  c === 0x5f ||
  c === 0x60 ||
  c === 0x7c ||
  c === 0x7e;

// ptokenchar (RFC 6690 §2): "!" / "#" / "$" / "%" / "&" / "'" / "(" / ")" / "*" / "+" / "-" / "." / "/" /
// DIGIT / ":" / "<" / "=" / ">" / "?" / "@" / ALPHA / "[" / "]" / "^" / "_" / "`" / "{" / "|" / "}" / "~"
const isPtokenChar = (c: number): boolean =>
  c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c;

const isWhite = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * Parses an `application/link-format` document. An empty document is an empty list. Throws
 * `LinkFormatError` with a reason and offset for malformed input.
 */
export function parseLinkFormat(text: string, options: ParseLinkFormatOptions = {}): Link[] {
  const maxLinks = options.maxLinks ?? 10_000;
  const links: Link[] = [];
  const n = text.length;
  let i = 0;
  const skipWhite = (): void => {
    while (i < n && isWhite(text.charCodeAt(i))) i++;
  };
  skipWhite();
  if (i === n) return links;
  for (;;) {
    skipWhite();
    if (text.charCodeAt(i) !== 0x3c /* < */) throw new LinkFormatError('expected-link', i, 'expected "<"');
    const close = text.indexOf('>', i + 1);
    if (close < 0) throw new LinkFormatError('unterminated-target', i, 'missing ">" after link target');
    const target = text.slice(i + 1, close);
    for (let k = 0; k < target.length; k++) {
      const c = target.charCodeAt(k);
      if (c <= 0x20 || c === 0x3c || c === 0x22 || c >= 0x7f) {
        throw new LinkFormatError('invalid-target', i + 1 + k, 'invalid character in link target');
      }
    }
    i = close + 1;
    const attributes: LinkAttribute[] = [];
    for (;;) {
      skipWhite();
      if (i >= n || text.charCodeAt(i) !== 0x3b /* ; */) break;
      i++;
      skipWhite();
      const nameStart = i;
      while (i < n && isParmChar(text.charCodeAt(i))) i++;
      if (i === nameStart)
        throw new LinkFormatError('invalid-parameter-name', i, 'expected a parameter name');
      const name = text.slice(nameStart, i);
      skipWhite();
      if (i < n && text.charCodeAt(i) === 0x3d /* = */) {
        i++;
        skipWhite();
        if (i < n && text.charCodeAt(i) === 0x22 /* " */) {
          let value = '';
          let j = i + 1;
          let closed = false;
          while (j < n) {
            const c = text.charCodeAt(j);
            if (c === 0x5c /* \ */) {
              if (j + 1 >= n) break;
              value += text[j + 1];
              j += 2;
              continue;
            }
            if (c === 0x22) {
              closed = true;
              break;
            }
            value += text[j];
            j++;
          }
          if (!closed)
            throw new LinkFormatError('unterminated-quoted-string', i, 'unterminated quoted string');
          attributes.push({ name, value });
          i = j + 1;
        } else {
          const valueStart = i;
          while (i < n && isPtokenChar(text.charCodeAt(i))) i++;
          if (i === valueStart)
            throw new LinkFormatError('expected-value', i, `expected a value for "${name}"`);
          attributes.push({ name, value: text.slice(valueStart, i) });
        }
      } else {
        attributes.push({ name, value: true });
      }
    }
    links.push({ target, attributes });
    if (links.length > maxLinks) throw new LinkFormatError('too-large', i, `more than ${maxLinks} links`);
    skipWhite();
    if (i >= n) return links;
    if (text.charCodeAt(i) !== 0x2c /* , */) {
      throw new LinkFormatError('unexpected-character', i, `unexpected "${text[i]}"`);
    }
    i++;
  }
}

/** Attributes whose values are always quoted when serialized (RFC 6690 §3 and §5; RFC 8288). */
const ALWAYS_QUOTED = new Set(['rt', 'if', 'title', 'anchor', 'rel', 'rev']);

function formatValue(name: string, value: string): string {
  let plain = value.length > 0 && !ALWAYS_QUOTED.has(name);
  if (plain) {
    for (let k = 0; k < value.length; k++) {
      if (!isPtokenChar(value.charCodeAt(k))) {
        plain = false;
        break;
      }
    }
  }
  return plain ? value : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Serializes links to `application/link-format` text. */
export function formatLinkFormat(links: readonly Link[]): string {
  let out = '';
  for (let l = 0; l < links.length; l++) {
    const link = links[l]!;
    if (l > 0) out += ',';
    for (let k = 0; k < link.target.length; k++) {
      const c = link.target.charCodeAt(k);
      if (c <= 0x20 || c === 0x3c || c === 0x3e || c === 0x22 || c >= 0x7f) {
        throw new LinkFormatError('invalid-target', k, `invalid character in link target "${link.target}"`);
      }
    }
    out += `<${link.target}>`;
    for (const a of link.attributes) {
      if (!/^[A-Za-z0-9!#$&*+\-.^_`|~]+$/.test(a.name)) {
        throw new LinkFormatError('invalid-parameter-name', 0, `invalid parameter name "${a.name}"`);
      }
      out += a.value === true ? `;${a.name}` : `;${a.name}=${formatValue(a.name, a.value)}`;
    }
  }
  return out;
}

/** The first value of attribute `name`, `true` for a valueless one, or undefined. */
export function linkAttribute(link: Link, name: string): string | true | undefined {
  for (const a of link.attributes) if (a.name === name) return a.value;
  return undefined;
}

/** Every value of attribute `name`, with space-separated relation types split (`rt="a b"` → a, b). */
export function linkAttributeValues(link: Link, name: string): string[] {
  const out: string[] = [];
  for (const a of link.attributes) {
    if (a.name !== name) continue;
    if (a.value === true) out.push('');
    else for (const v of a.value.split(' ')) if (v !== '') out.push(v);
  }
  return out;
}

/**
 * Filters links by a `/.well-known/core` query (RFC 6690 §4.1): `href`, or any attribute, matched exactly,
 * or as a prefix when the query value ends with `*`. Space-separated attribute values match individually.
 */
export function filterLinks(links: readonly Link[], name: string, value: string): Link[] {
  const prefix = value.endsWith('*');
  const wanted = prefix ? value.slice(0, -1) : value;
  const matches = (v: string): boolean => (prefix ? v.startsWith(wanted) : v === wanted);
  return links.filter((link) => {
    if (name === 'href') return matches(link.target);
    return linkAttributeValues(link, name).some(matches);
  });
}
