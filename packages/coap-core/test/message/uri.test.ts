import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  formatUri,
  MessageType,
  OptionNumber,
  optionsToUri,
  parseUri,
  UriError,
  uriToOptions,
} from '../../src/index.js';
import { loadVectors } from '../vectors.js';

interface UriVectors {
  valid: {
    source: string;
    uri: string;
    host: string;
    port: number;
    uriHost: string | null;
    path: string[];
    query: string[];
  }[];
  invalid: { uri: string; reason: string }[];
}
const vectors = loadVectors<UriVectors>('coap/uri.json');

function requestFor(uri: string) {
  return decodeMessage(
    encodeMessage({ type: MessageType.CON, code: 1, messageId: 1, options: uriToOptions(uri) }),
  );
}

describe('URI → options (RFC 7252 §6.4)', () => {
  for (const v of vectors.valid) {
    it(`${v.uri} [${v.source}]`, () => {
      const u = parseUri(v.uri);
      expect(u.host).toBe(v.host);
      expect(u.port).toBe(v.port);
      const m = requestFor(v.uri);
      expect(m.getString(OptionNumber.UriHost) ?? null).toBe(v.uriHost);
      expect(m.getStrings(OptionNumber.UriPath)).toEqual(v.path);
      expect(m.getStrings(OptionNumber.UriQuery)).toEqual(v.query);
      expect(m.hasOption(OptionNumber.UriPort)).toBe(false);
    });
  }

  for (const v of vectors.invalid) {
    it(`rejects ${v.uri} (${v.reason})`, () => {
      expect(() => parseUri(v.uri)).toThrowError(UriError);
      expect(() => parseUri(v.uri)).toThrowError(expect.objectContaining({ reason: v.reason }));
    });
  }

  it('sends Uri-Port only when the destination port differs', () => {
    expect(uriToOptions('coap://h:6000/', 5683)).toContainEqual({
      number: OptionNumber.UriPort,
      value: 6000,
    });
    expect(uriToOptions('coap://h:6000/', 6000).some((o) => o.number === OptionNumber.UriPort)).toBe(false);
  });
});

describe('options → URI (RFC 7252 §6.5)', () => {
  it('reconstructs the Appendix B examples', () => {
    const m = requestFor('coap://198.51.100.1:61616//%2F//?%2F%2F&?%26');
    expect(optionsToUri(m, { host: '198.51.100.1', port: 61616 })).toBe(
      'coap://198.51.100.1:61616//%2F//?//&?%26',
    );
    const named = requestFor('coap://example.net/.well-known/core');
    expect(optionsToUri(named, { host: '192.0.2.1' })).toBe('coap://example.net/.well-known/core');
    const ip6 = requestFor('coap://[2001:db8::2:1]/');
    expect(optionsToUri(ip6, { host: '2001:db8::2:1' })).toBe('coap://[2001:db8::2:1]/');
  });

  it('percent-encodes non-ASCII and reserved characters', () => {
    expect(formatUri({ host: 'h', path: ['a b', 'こ'], query: ['x&y=1'] })).toBe(
      'coap://h/a%20b/%E3%81%93?x%26y=1',
    );
    expect(formatUri({ scheme: 'coaps', host: '::1', port: 5684 })).toBe('coaps://[::1]/');
  });

  it('round-trips arbitrary paths and queries (property)', () => {
    const segment = fc.string({ maxLength: 8, unit: 'grapheme' });
    fc.assert(
      fc.property(
        fc.constantFrom('coap', 'coaps', 'coap+tcp'),
        fc.constantFrom('example.com', '10.0.0.1', '::1', 'fe80::1:2'),
        fc.integer({ min: 1, max: 65535 }),
        fc.array(segment, { maxLength: 5 }),
        fc.array(segment, { maxLength: 4 }),
        (scheme, host, port, path, query) => {
          // "/" alone and the empty path are the same URI (§6.4 step 8), so a single empty segment is "/"
          const p = path.length === 1 && path[0] === '' ? [] : path;
          const u = parseUri(formatUri({ scheme, host, port, path: p, query }));
          expect(u.scheme).toBe(scheme);
          expect(u.host).toBe(host);
          expect(u.port).toBe(port);
          expect(u.path).toEqual(p);
          expect(u.query).toEqual(query);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but UriError on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        try {
          parseUri(`coap://${s}`);
        } catch (e) {
          expect(e).toBeInstanceOf(UriError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
