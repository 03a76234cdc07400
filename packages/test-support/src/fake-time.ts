/**
 * Running fake time in tests: `until` advances a `FakeClock` until a condition holds, `drive` until a
 * promise settles. Time jumps from timer to timer (`FakeClock.runUntil`), so long back-offs cost nothing.
 * These replace the copies the endpoint, OSCORE and LwM2M test harnesses used to carry.
 */

/** The part of `FakeClock` (@thimble/coap-core) these helpers use. */
export interface FakeTimeRunner {
  runUntil(done: () => boolean, limitMs: number): Promise<void>;
}

/** How long to run: a number is `limitMs`. */
export interface FakeTimeOptions {
  /** Fake milliseconds to run at most (default 600 000: ten minutes). */
  readonly limitMs?: number;
}

export interface UntilOptions extends FakeTimeOptions {
  /** The message of the error thrown when the condition is not reached (default below). */
  readonly message?: string;
}

export interface DriveOptions extends FakeTimeOptions {
  /**
   * Mark the promise's rejection as handled while time runs (default true). The rejection still reaches
   * the caller of `drive`; without the mark, a promise rejected before `drive` returns would be reported
   * as an unhandled rejection while fake time is still running.
   */
  readonly handleEarlyRejection?: boolean;
}

/** Default fake-time limit, ms. */
export const DEFAULT_FAKE_TIME_LIMIT_MS = 600_000;

const UNTIL_MESSAGE = 'condition not reached in fake time';

function limitOf(options: number | FakeTimeOptions | undefined): number {
  if (typeof options === 'number') return options;
  return options?.limitMs ?? DEFAULT_FAKE_TIME_LIMIT_MS;
}

/** Runs fake time until `done()` or the limit; throws when `done()` is still false then. */
export async function until(
  clock: FakeTimeRunner,
  done: () => boolean,
  options?: number | UntilOptions,
): Promise<void> {
  await clock.runUntil(done, limitOf(options));
  if (!done()) {
    throw new Error((typeof options === 'object' ? options.message : undefined) ?? UNTIL_MESSAGE);
  }
}

/**
 * Resolves `promise` while fake time runs (until it settles or the limit passes), then returns its
 * outcome: its value, or its rejection.
 */
export async function drive<T>(
  clock: FakeTimeRunner,
  promise: Promise<T>,
  options?: number | DriveOptions,
): Promise<T> {
  let settled = false;
  const p = promise.finally(() => {
    settled = true;
  });
  if (typeof options !== 'object' || options.handleEarlyRejection !== false) p.catch(() => undefined);
  await clock.runUntil(() => settled, limitOf(options));
  return p;
}
