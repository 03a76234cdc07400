import { describe, expect, it } from 'vitest';
import {
  Code,
  ContentFormat,
  codeName,
  contentFormatForExtension,
  contentFormatMediaType,
  describeCode,
  formatCode,
  isCritical,
  isNoCacheKey,
  isRepeatable,
  isRequestCode,
  isReservedCodeClass,
  isResponseCode,
  isUnsafe,
  MessageType,
  makeCode,
  messageTypeName,
  OptionNumber,
  optionByName,
  optionDefinition,
  optionFormat,
  optionName,
  parseCode,
  parseContentFormat,
  registeredOptions,
} from '../../src/index.js';

describe('option registry (RFC 7252 §5.10, §12.2 and later registrations)', () => {
  it('covers every option the issue lists, with format and length bounds', () => {
    const expected: [number, string, string, number, number, boolean][] = [
      [1, 'If-Match', 'opaque', 0, 8, true],
      [3, 'Uri-Host', 'string', 1, 255, false],
      [4, 'ETag', 'opaque', 1, 8, true],
      [5, 'If-None-Match', 'empty', 0, 0, false],
      [6, 'Observe', 'uint', 0, 3, false],
      [7, 'Uri-Port', 'uint', 0, 2, false],
      [8, 'Location-Path', 'string', 0, 255, true],
      [9, 'OSCORE', 'opaque', 0, 255, false],
      [11, 'Uri-Path', 'string', 0, 255, true],
      [12, 'Content-Format', 'uint', 0, 2, false],
      [14, 'Max-Age', 'uint', 0, 4, false],
      [15, 'Uri-Query', 'string', 0, 255, true],
      [16, 'Hop-Limit', 'uint', 1, 1, false],
      [17, 'Accept', 'uint', 0, 2, false],
      [19, 'Q-Block1', 'uint', 0, 3, false],
      [20, 'Location-Query', 'string', 0, 255, true],
      [21, 'EDHOC', 'empty', 0, 0, false],
      [23, 'Block2', 'uint', 0, 3, false],
      [27, 'Block1', 'uint', 0, 3, false],
      [28, 'Size2', 'uint', 0, 4, false],
      [31, 'Q-Block2', 'uint', 0, 3, true],
      [35, 'Proxy-Uri', 'string', 1, 1034, false],
      [39, 'Proxy-Scheme', 'string', 1, 255, false],
      [60, 'Size1', 'uint', 0, 4, false],
      [252, 'Echo', 'opaque', 1, 40, false],
      [258, 'No-Response', 'uint', 0, 1, false],
      [292, 'Request-Tag', 'opaque', 0, 8, true],
    ];
    for (const [number, name, format, minLength, maxLength, repeatable] of expected) {
      expect(optionDefinition(number)).toMatchObject({
        number,
        name,
        format,
        minLength,
        maxLength,
        repeatable,
      });
      expect(optionByName(name)?.number).toBe(number);
    }
    expect(registeredOptions().length).toBeGreaterThanOrEqual(expected.length);
    expect(OptionNumber.RequestTag).toBe(292);
  });

  it('treats unknown options as opaque and repeatable', () => {
    expect(optionDefinition(65000)).toBeUndefined();
    expect(optionFormat(65000)).toBe('opaque');
    expect(optionName(65000)).toBe('Option-65000');
    expect(isRepeatable(65000)).toBe(true);
    expect(isRepeatable(OptionNumber.Observe)).toBe(false);
  });

  it('derives critical / unsafe / no-cache-key from the number (RFC 7252 §5.4.6, Table 4)', () => {
    // Table 4 of RFC 7252: C = critical, U = unsafe, N = NoCacheKey
    const table: [number, boolean, boolean, boolean][] = [
      [1, true, false, false], // If-Match C
      [3, true, true, false], // Uri-Host C U
      [4, false, false, false], // ETag
      [5, true, false, false], // If-None-Match C
      [7, true, true, false], // Uri-Port C U
      [8, false, false, false], // Location-Path
      [11, true, true, false], // Uri-Path C U
      [12, false, false, false], // Content-Format
      [14, false, true, false], // Max-Age U
      [15, true, true, false], // Uri-Query C U
      [17, true, false, false], // Accept C
      [20, false, false, false], // Location-Query
      [35, true, true, false], // Proxy-Uri C U
      [39, true, true, false], // Proxy-Scheme C U
      [60, false, false, true], // Size1 N
      [28, false, false, true], // Size2 N (RFC 7959)
    ];
    for (const [n, c, u, nck] of table) {
      expect([n, isCritical(n), isUnsafe(n), isNoCacheKey(n)]).toEqual([n, c, u, nck]);
    }
  });
});

describe('codes and types (RFC 7252 §3, §12.1)', () => {
  it('names and formats codes', () => {
    expect(formatCode(Code.Content)).toBe('2.05');
    expect(formatCode(Code.RequestEntityTooLarge)).toBe('4.13');
    expect(describeCode(Code.NotFound)).toBe('4.04 Not Found');
    expect(describeCode(makeCode(4, 31))).toBe('4.31');
    expect(codeName(Code.Continue)).toBe('Continue');
    expect(parseCode('2.31')).toBe(Code.Continue);
    expect(parseCode('404')).toBe(Code.NotFound);
    expect(() => parseCode('9.99')).toThrow(RangeError);
    expect(makeCode(2, 5)).toBe(0x45);
    expect(() => makeCode(8, 0)).toThrow(RangeError);
  });

  it('classifies codes', () => {
    expect(isRequestCode(Code.iPATCH)).toBe(true);
    expect(isRequestCode(Code.Empty)).toBe(false);
    expect(isResponseCode(Code.HopLimitReached)).toBe(true);
    expect(isResponseCode(Code.GET)).toBe(false);
    expect(isReservedCodeClass(makeCode(1, 0))).toBe(true);
    expect(isReservedCodeClass(makeCode(7, 1))).toBe(true);
    expect(isReservedCodeClass(Code.Content)).toBe(false);
  });

  it('names message types', () => {
    expect(messageTypeName(MessageType.ACK)).toBe('ACK');
    expect(messageTypeName(MessageType.RST)).toBe('RST');
  });
});

describe('content formats (RFC 7252 §12.3 and the IANA registry)', () => {
  it('knows the formats LwM2M and CoRE use', () => {
    const required = [0, 40, 41, 42, 47, 50, 60, 110, 112, 11542, 11543, 11544];
    for (const n of required) expect(contentFormatMediaType(n)).toBeTypeOf('string');
    expect(ContentFormat.Lwm2mCbor).toBe(11544);
    expect(contentFormatMediaType(11542)).toBe('application/vnd.oma.lwm2m+tlv');
  });

  it('parses numbers and media types', () => {
    expect(parseContentFormat('application/senml+cbor')).toBe(112);
    expect(parseContentFormat('text/plain')).toBe(0);
    expect(parseContentFormat('11543')).toBe(11543);
    expect(parseContentFormat('application/unknown')).toBeUndefined();
    expect(parseContentFormat('70000')).toBeUndefined();
  });

  it('guesses from file extensions', () => {
    expect(contentFormatForExtension('.json')).toBe(50);
    expect(contentFormatForExtension('txt')).toBe(0);
    expect(contentFormatForExtension('img')).toBe(42);
  });
});
