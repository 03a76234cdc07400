import { formatLwm2mPath, isPathPrefix, Lwm2mPathError, parseLwm2mPath, pathLevel } from '@thimble/lwm2m';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('LwM2M paths (LwM2M TS Core 1.1, "Identifiers"; ids 0–65534)', () => {
  it('parses root, object, instance, resource and resource instance paths', () => {
    expect(parseLwm2mPath('/')).toEqual([]);
    expect(parseLwm2mPath('/3')).toEqual([3]);
    expect(parseLwm2mPath('/3/0')).toEqual([3, 0]);
    expect(parseLwm2mPath('/3/0/1')).toEqual([3, 0, 1]);
    expect(parseLwm2mPath('/3/0/1/2')).toEqual([3, 0, 1, 2]);
    expect(parseLwm2mPath('3/0/')).toEqual([3, 0]);
    expect(parseLwm2mPath('/65534')).toEqual([65534]);
  });

  it('names the level', () => {
    expect([[], [3], [3, 0], [3, 0, 1], [3, 0, 1, 2]].map(pathLevel)).toEqual([
      'root',
      'object',
      'instance',
      'resource',
      'resourceInstance',
    ]);
  });

  it('rejects ids above 65534, non-numbers, empty segments and more than 4 ids', () => {
    const reason = (s: string) => {
      try {
        parseLwm2mPath(s);
      } catch (e) {
        return e instanceof Lwm2mPathError ? e.reason : 'other';
      }
      return 'none';
    };
    expect(reason('/65535')).toBe('invalid-id');
    expect(reason('/3/x')).toBe('syntax');
    expect(reason('/3//0')).toBe('syntax');
    expect(reason('/-1')).toBe('syntax');
    expect(reason('/1/2/3/4/5')).toBe('too-long');
    expect(() => formatLwm2mPath([3, 65535])).toThrow(Lwm2mPathError);
  });

  it('format → parse is the identity', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 65534 }), { maxLength: 4 }), (p) => {
        expect(parseLwm2mPath(formatLwm2mPath(p))).toEqual(p);
      }),
    );
  });

  it('knows prefixes', () => {
    expect(isPathPrefix([], [3, 0])).toBe(true);
    expect(isPathPrefix([3], [3, 0, 1])).toBe(true);
    expect(isPathPrefix([3, 1], [3, 0, 1])).toBe(false);
    expect(isPathPrefix([3, 0, 1], [3, 0])).toBe(false);
  });
});
