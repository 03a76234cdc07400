import { describe, expect, it } from 'vitest';
import { runFuzz, runResponseFuzz } from './fuzz-harness.js';

describe('fuzzing the server unprotect path (RFC 8613 §8.2)', () => {
  it('100,000 mutated protected requests: only codec errors, verified requests or typed §8 errors', () => {
    const stats = runFuzz(100_000, 0x05c0de);
    // every outcome category is actually exercised
    expect(stats.decodeErrors).toBeGreaterThan(0);
    expect(stats.accepted).toBeGreaterThan(0);
    for (const reason of [
      'bad-option',
      'context-not-found',
      'decryption-failed',
      'replay',
      'not-protected',
      'echo-required',
    ] as const) {
      expect(stats.reasons[reason] ?? 0, reason).toBeGreaterThan(0);
    }
    const total =
      stats.decodeErrors + stats.accepted + Object.values(stats.reasons).reduce((a, b) => a + b, 0);
    expect(total).toBe(100_000);
  }, 60_000);

  it('20,000 mutated protected responses and notifications on the client (§8.4): typed errors only', () => {
    const stats = runResponseFuzz(20_000, 0x8613);
    expect(stats.accepted).toBeGreaterThan(0);
    for (const reason of ['bad-option', 'decryption-failed', 'replay', 'not-protected'] as const) {
      expect(stats.reasons[reason] ?? 0, reason).toBeGreaterThan(0);
    }
  }, 60_000);
});
