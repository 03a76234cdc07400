import { parseLinksPayload, RegistrationError } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('registration links cache', () => {
  it('gives registrations with the same links one frozen, exact-size result', () => {
    const text = '</>;rt="oma.lwm2m";ct="60 110",</1>;ver=1.1,</1/0>,</3/0>,</3303/0>';
    const a = parseLinksPayload(bytes(text), 40);
    const b = parseLinksPayload(bytes(text), 40);
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.objects)).toBe(true);
    expect(Object.isFrozen(a.objects[0]!.path)).toBe(true);
    expect(a).toEqual({
      rootPath: '/',
      contentFormats: [60, 110],
      objects: [{ path: [1], version: '1.1' }, { path: [1, 0] }, { path: [3, 0] }, { path: [3303, 0] }],
    });
    // different links, a different result
    expect(parseLinksPayload(bytes('</3/0>'), 40)).not.toBe(a);
  });

  it('applies the caller’s limits to a cached result too', () => {
    const text = '</1/0>,</3/0>,</4/0>';
    expect(parseLinksPayload(bytes(text), 40).objects.length).toBe(3);
    expect(() => parseLinksPayload(bytes(text), 40, { maxObjectLinks: 2 })).toThrow(RegistrationError);
    expect(() => parseLinksPayload(bytes(text), 0)).toThrow(RegistrationError);
  });

  it('stays bounded: many distinct payloads are all parsed correctly', () => {
    for (let i = 0; i < 600; i++) {
      const r = parseLinksPayload(bytes(`</3/0>,</${1000 + i}/0>`), 40);
      expect(r.objects[1]!.path).toEqual([1000 + i, 0]);
    }
    expect(parseLinksPayload(bytes('</3/0>,</1000/0>'), 40).objects[1]!.path).toEqual([1000, 0]);
  });
});
