/** Helpers for OSCORE tests: what an operation threw, as the typed reason of RFC 8613's errors. */
import { CoapRequestError } from '@thimble/coap-core';
import { OscoreError, type OscoreErrorReason } from '@thimble/oscore';
import { type DriveOptions, drive, type FakeTimeRunner } from './fake-time.js';

/**
 * The `reason` of the `OscoreError` that `f` throws, or undefined when it throws nothing. Any other error
 * is rethrown, so a test cannot mistake a bug for an expected rejection.
 */
export function reasonOf(f: () => unknown): OscoreErrorReason | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof OscoreError) return e.reason;
    throw e;
  }
  return undefined;
}

/**
 * Drives a request in fake time and returns the `CoapRequestError` it fails with; any other error is
 * rethrown, and a request that succeeds fails the test.
 */
export async function requestRejection(
  clock: FakeTimeRunner,
  promise: Promise<unknown>,
  options?: number | DriveOptions,
): Promise<CoapRequestError> {
  try {
    await drive(clock, promise, options);
  } catch (e) {
    if (e instanceof CoapRequestError) return e;
    throw e;
  }
  throw new Error('expected the request to fail');
}
