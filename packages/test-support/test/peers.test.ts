import { describe, expect, it, vi } from 'vitest';
import { hasExecutable, IN_CI, peersPresent, requireJavaPeer } from '../src/peers.js';

describe('interop peer checks', () => {
  it('finds an executable on PATH and not a made-up one', () => {
    expect(hasExecutable('sh')).toBe(true);
    expect(hasExecutable('thimble-no-such-peer')).toBe(false);
  });

  it('a missing peer fails with CI=true, and is skipped with a message naming it otherwise', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const check = () =>
        requireJavaPeer('demo suite', [{ what: 'demo jar', path: '/nonexistent/x.jar' }], 'hint');
      if (IN_CI) {
        expect(check).toThrow(/demo suite: interop peer missing: .*demo jar \/nonexistent\/x\.jar.*CI=true/);
      } else {
        expect(check()).toBe(false);
        expect(warn).toHaveBeenCalledWith(
          expect.stringMatching(/^SKIPPED demo suite: .*demo jar \/nonexistent/),
        );
      }
      expect(peersPresent('demo suite', [], 'hint')).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });
});
