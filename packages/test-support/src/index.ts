/**
 * @thimble/test-support: helpers shared by the tests of every package (private, never published; the
 * tests read it from source). Fake time and OSCORE helpers here; interop peers in
 * `@thimble/test-support/peers` (it registers vitest hooks); the Leshan launch set-up, framework-free for
 * the benchmarks, in `@thimble/test-support/leshan`.
 */
export {
  DEFAULT_FAKE_TIME_LIMIT_MS,
  type DriveOptions,
  drive,
  type FakeTimeOptions,
  type FakeTimeRunner,
  type UntilOptions,
  until,
} from './fake-time.js';
export { reasonOf, requestRejection } from './oscore.js';
