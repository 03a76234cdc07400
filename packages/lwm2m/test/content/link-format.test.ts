import {
  formatDiscover,
  formatRegistrationLinks,
  Lwm2mContentError,
  parseDiscover,
  parseRegistrationLinks,
} from '@thimble/lwm2m';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('Registration payload (LwM2M TS Core 1.1, Register operation)', () => {
  it('parses objects and instances with ver, without a root link', () => {
    const reg = parseRegistrationLinks('</1/0>,</1/1>,</2/0>,</3/0>,</4/0>,</5>;ver=1.1');
    expect(reg.rootPath).toBe('/');
    expect(reg.contentFormats).toEqual([]);
    expect(reg.objects).toEqual([
      { path: [1, 0] },
      { path: [1, 1] },
      { path: [2, 0] },
      { path: [3, 0] },
      { path: [4, 0] },
      { path: [5], version: '1.1' },
    ]);
  });

  it('parses an alternate path and supported content formats on the rt="oma.lwm2m" link', () => {
    const reg = parseRegistrationLinks(
      '</lwm2m>;rt="oma.lwm2m";ct="60 110 112 11543",</lwm2m/1/0>,</lwm2m/3/0>',
    );
    expect(reg.rootPath).toBe('/lwm2m');
    expect(reg.contentFormats).toEqual([60, 110, 112, 11543]);
    expect(reg.objects.map((o) => o.path)).toEqual([
      [1, 0],
      [3, 0],
    ]);
  });

  it('formats the payload and reads it back', () => {
    const reg = {
      rootPath: '/',
      contentFormats: [11543],
      objects: [{ path: [1, 0] }, { path: [3, 0] }, { path: [5], version: '1.1' }],
    };
    const text = formatRegistrationLinks(reg);
    expect(text).toBe('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</5>;ver=1.1');
    expect(parseRegistrationLinks(text)).toEqual(reg);
  });

  it('rejects links that are not objects or instances, and malformed link format', () => {
    expect(() => parseRegistrationLinks('</3/0/1>')).toThrow(Lwm2mContentError);
    expect(() => parseRegistrationLinks('</3/0')).toThrow(Lwm2mContentError);
    expect(() => parseRegistrationLinks('</lwm2m>;rt="oma.lwm2m",</other/3/0>')).toThrow(Lwm2mContentError);
    expect(() => parseRegistrationLinks('</3/70000>')).toThrow(Lwm2mContentError);
  });
});

describe('Discover (LwM2M TS Core 1.1, Discover operation) with notification attributes', () => {
  const text =
    '</3>;ver=1.1,</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/6>;dim=2,</3/0/7>;dim=2;gt=50;lt=42.2;st=0.5,</3/0/8>;epmin=1;epmax=3';

  it('parses paths and typed attributes', () => {
    expect(parseDiscover(text)).toEqual([
      { path: [3], attributes: { ver: '1.1' } },
      { path: [3, 0], attributes: { pmin: 10, pmax: 60 } },
      { path: [3, 0, 1], attributes: {} },
      { path: [3, 0, 6], attributes: { dim: 2 } },
      { path: [3, 0, 7], attributes: { dim: 2, gt: 50, lt: 42.2, st: 0.5 } },
      { path: [3, 0, 8], attributes: { epmin: 1, epmax: 3 } },
    ]);
  });

  it('formats what it parses', () => {
    expect(formatDiscover(parseDiscover(text))).toBe(text);
  });

  it('reads Bootstrap-Discover attributes ssid and uri (TS Core 1.1, Bootstrap-Discover operation)', () => {
    const bs = '</0/0>;ssid=101;uri="coap://server1.example:5683",</1/0>;ssid=101';
    expect(parseDiscover(bs)).toEqual([
      { path: [0, 0], attributes: { ssid: 101, uri: 'coap://server1.example:5683' } },
      { path: [1, 0], attributes: { ssid: 101 } },
    ]);
    // coap-core writes a value that is a valid ptoken without quotes; both forms are the same link.
    const out = formatDiscover(parseDiscover(bs));
    expect(out).toBe('</0/0>;ssid=101;uri=coap://server1.example:5683,</1/0>;ssid=101');
    expect(parseDiscover(out)).toEqual(parseDiscover(bs));
  });

  it('rejects attribute values of the wrong shape', () => {
    expect(() => parseDiscover('</3/0>;pmin=ten')).toThrow(Lwm2mContentError);
    expect(() => parseDiscover('</3/0>;gt=1.2.3')).toThrow(Lwm2mContentError);
    expect(() => parseDiscover('</3/0>;ver=1')).toThrow(Lwm2mContentError);
  });
});

describe('link-format parsers on arbitrary input (fast-check)', () => {
  const only = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof Lwm2mContentError)) throw e;
    }
  };
  const linkish = fc
    .array(
      fc.constantFrom(
        '<',
        '>',
        '/',
        '3',
        '0',
        '65535',
        ';',
        ',',
        '=',
        '"',
        'rt',
        'oma.lwm2m',
        'ct',
        'ver',
        'pmin',
        'gt',
        '1.1',
        ' ',
        'x',
      ),
      {
        maxLength: 30,
      },
    )
    .map((parts) => parts.join(''));

  it('only ever throw Lwm2mContentError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), linkish), (text) => {
        only(() => parseDiscover(text));
        only(() => parseRegistrationLinks(text));
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 2000) },
    );
  });
});
