/**
 * The CoAP option registry (RFC 7252 §5.10 and §12.2, with the options registered since).
 */

/** Registered option numbers. */
export const OptionNumber = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  OSCORE: 9,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  HopLimit: 16,
  Accept: 17,
  QBlock1: 19,
  LocationQuery: 20,
  EDHOC: 21,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  QBlock2: 31,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  Echo: 252,
  NoResponse: 258,
  RequestTag: 292,
  OcfAcceptContentFormatVersion: 2049,
  OcfContentFormatVersion: 2053,
} as const;
export type OptionNumber = (typeof OptionNumber)[keyof typeof OptionNumber];

/** Option value formats (RFC 7252 §3.2). */
export type OptionFormat = 'empty' | 'opaque' | 'uint' | 'string';

export interface OptionDefinition {
  readonly number: number;
  readonly name: string;
  readonly format: OptionFormat;
  readonly minLength: number;
  readonly maxLength: number;
  readonly repeatable: boolean;
  /** Where the option is defined. */
  readonly reference: string;
}

function def(
  number: number,
  name: string,
  format: OptionFormat,
  minLength: number,
  maxLength: number,
  repeatable: boolean,
  reference: string,
): OptionDefinition {
  return { number, name, format, minLength, maxLength, repeatable, reference };
}

const DEFINITIONS: readonly OptionDefinition[] = [
  def(1, 'If-Match', 'opaque', 0, 8, true, 'RFC 7252 §5.10.8.1'),
  def(3, 'Uri-Host', 'string', 1, 255, false, 'RFC 7252 §5.10.1'),
  def(4, 'ETag', 'opaque', 1, 8, true, 'RFC 7252 §5.10.6'),
  def(5, 'If-None-Match', 'empty', 0, 0, false, 'RFC 7252 §5.10.8.2'),
  def(6, 'Observe', 'uint', 0, 3, false, 'RFC 7641 §2'),
  def(7, 'Uri-Port', 'uint', 0, 2, false, 'RFC 7252 §5.10.1'),
  def(8, 'Location-Path', 'string', 0, 255, true, 'RFC 7252 §5.10.7'),
  def(9, 'OSCORE', 'opaque', 0, 255, false, 'RFC 8613 §2'),
  def(11, 'Uri-Path', 'string', 0, 255, true, 'RFC 7252 §5.10.1'),
  def(12, 'Content-Format', 'uint', 0, 2, false, 'RFC 7252 §5.10.3'),
  def(14, 'Max-Age', 'uint', 0, 4, false, 'RFC 7252 §5.10.5'),
  def(15, 'Uri-Query', 'string', 0, 255, true, 'RFC 7252 §5.10.1'),
  def(16, 'Hop-Limit', 'uint', 1, 1, false, 'RFC 8768 §3'),
  def(17, 'Accept', 'uint', 0, 2, false, 'RFC 7252 §5.10.4'),
  def(19, 'Q-Block1', 'uint', 0, 3, false, 'RFC 9177 §4'),
  def(20, 'Location-Query', 'string', 0, 255, true, 'RFC 7252 §5.10.7'),
  def(21, 'EDHOC', 'empty', 0, 0, false, 'RFC 9668 §3.1'),
  def(23, 'Block2', 'uint', 0, 3, false, 'RFC 7959 §2.1'),
  def(27, 'Block1', 'uint', 0, 3, false, 'RFC 7959 §2.1'),
  def(28, 'Size2', 'uint', 0, 4, false, 'RFC 7959 §4'),
  def(31, 'Q-Block2', 'uint', 0, 3, true, 'RFC 9177 §4'),
  def(35, 'Proxy-Uri', 'string', 1, 1034, false, 'RFC 7252 §5.10.2'),
  def(39, 'Proxy-Scheme', 'string', 1, 255, false, 'RFC 7252 §5.10.2'),
  def(60, 'Size1', 'uint', 0, 4, false, 'RFC 7252 §5.10.9'),
  def(252, 'Echo', 'opaque', 1, 40, false, 'RFC 9175 §2.2.1'),
  def(258, 'No-Response', 'uint', 0, 1, false, 'RFC 7967 §2'),
  def(292, 'Request-Tag', 'opaque', 0, 8, true, 'RFC 9175 §3.2.1'),
  def(2049, 'OCF-Accept-Content-Format-Version', 'uint', 2, 2, false, 'OCF Core'),
  def(2053, 'OCF-Content-Format-Version', 'uint', 2, 2, false, 'OCF Core'),
];

const BY_NUMBER = new Map<number, OptionDefinition>(DEFINITIONS.map((d) => [d.number, d]));
const BY_NAME = new Map<string, OptionDefinition>(DEFINITIONS.map((d) => [d.name.toLowerCase(), d]));

/** Every registered option, in number order. */
export function registeredOptions(): readonly OptionDefinition[] {
  return DEFINITIONS;
}

/** The definition of a registered option, or undefined: unknown options are kept as opaque bytes. */
export function optionDefinition(number: number): OptionDefinition | undefined {
  return BY_NUMBER.get(number);
}

/** Looks an option up by its registered name (case-insensitive), e.g. `"Uri-Path"`. */
export function optionByName(name: string): OptionDefinition | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** The registered name, or `Option-<n>` for an unknown number. */
export function optionName(number: number): string {
  return BY_NUMBER.get(number)?.name ?? `Option-${number}`;
}

/** The value format of an option; unknown options are opaque. */
export function optionFormat(number: number): OptionFormat {
  return BY_NUMBER.get(number)?.format ?? 'opaque';
}

/** RFC 7252 §5.4.6: odd option numbers are critical. */
export function isCritical(number: number): boolean {
  return (number & 1) === 1;
}

/** RFC 7252 §5.4.6: bit 1 set means unsafe to forward. */
export function isUnsafe(number: number): boolean {
  return (number & 2) === 2;
}

/** RFC 7252 §5.4.6: a safe-to-forward option with bits 2–4 all set is not part of the cache key. */
export function isNoCacheKey(number: number): boolean {
  return (number & 0x1e) === 0x1c;
}

/** True if the option may appear more than once. Unknown options are treated as repeatable. */
export function isRepeatable(number: number): boolean {
  return BY_NUMBER.get(number)?.repeatable ?? true;
}
