import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  filterLinks,
  formatLinkFormat,
  type Link,
  LinkFormatError,
  linkAttribute,
  linkAttributeValues,
  parseLinkFormat,
} from '../../src/index.js';
import { loadVectors } from '../vectors.js';

interface LinkVectors {
  valid: { source: string; text: string; links: Link[] }[];
  invalid: { text: string; reason: string }[];
}
const vectors = loadVectors<LinkVectors>('coap/link-format.json');

describe('CoRE Link Format (RFC 6690)', () => {
  for (const v of vectors.valid) {
    it(`parses ${v.source}`, () => {
      expect(parseLinkFormat(v.text)).toEqual(v.links);
    });
    it(`serializes ${v.source} and parses it back`, () => {
      expect(parseLinkFormat(formatLinkFormat(v.links))).toEqual(v.links);
    });
  }

  for (const v of vectors.invalid) {
    it(`rejects ${JSON.stringify(v.text)} (${v.reason})`, () => {
      expect(() => parseLinkFormat(v.text)).toThrowError(LinkFormatError);
      expect(() => parseLinkFormat(v.text)).toThrowError(expect.objectContaining({ reason: v.reason }));
    });
  }

  it('quotes rt / if / title and values that need it, leaves ct / sz bare', () => {
    const text = formatLinkFormat([
      {
        target: '/s',
        attributes: [
          { name: 'rt', value: 'temp' },
          { name: 'ct', value: '40' },
          { name: 'obs', value: true },
          { name: 'x', value: 'a,b' },
          { name: 'title', value: 'a "b"' },
        ],
      },
    ]);
    expect(text).toBe('</s>;rt="temp";ct=40;obs;x="a,b";title="a \\"b\\""');
  });

  it('refuses to serialize a target or parameter name that cannot be represented', () => {
    expect(() => formatLinkFormat([{ target: '/a>b', attributes: [] }])).toThrowError(LinkFormatError);
    expect(() =>
      formatLinkFormat([{ target: '/a', attributes: [{ name: 'a b', value: true }] }]),
    ).toThrowError(LinkFormatError);
  });

  it('bounds the number of links', () => {
    expect(() => parseLinkFormat('</a>,</b>,</c>', { maxLinks: 2 })).toThrowError(
      expect.objectContaining({ reason: 'too-large' }),
    );
  });

  it('reads and filters attributes (RFC 6690 §4.1 query filtering)', () => {
    const links = parseLinkFormat('</a>;rt="temp light";if=sensor,</b>;rt=humidity;obs,</c>');
    expect(linkAttribute(links[1]!, 'obs')).toBe(true);
    expect(linkAttribute(links[2]!, 'rt')).toBeUndefined();
    expect(linkAttributeValues(links[0]!, 'rt')).toEqual(['temp', 'light']);
    expect(filterLinks(links, 'rt', 'light').map((l) => l.target)).toEqual(['/a']);
    expect(filterLinks(links, 'rt', 'hum*').map((l) => l.target)).toEqual(['/b']);
    expect(filterLinks(links, 'href', '/c').map((l) => l.target)).toEqual(['/c']);
    expect(filterLinks(links, 'if', '*').map((l) => l.target)).toEqual(['/a']);
  });

  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
  const target = fc.stringMatching(/^\/[A-Za-z0-9/._~%-]{0,12}$/);
  const value = fc.oneof(fc.constant(true as const), fc.string({ maxLength: 10 }));
  const link = fc.record({
    target,
    attributes: fc.array(fc.record({ name, value }), { maxLength: 4 }),
  });

  it('parse(format(links)) is the identity (property)', () => {
    fc.assert(
      fc.property(fc.array(link, { maxLength: 6 }), (links) => {
        expect(parseLinkFormat(formatLinkFormat(links))).toEqual(links);
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary text parses or throws LinkFormatError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          parseLinkFormat(text);
        } catch (e) {
          expect(e).toBeInstanceOf(LinkFormatError);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
