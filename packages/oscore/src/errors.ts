/**
 * Typed OSCORE errors. Every failure of the protection layer, whether caused by a peer's bytes or by the
 * local state, is an `OscoreError` with a `reason`; `oscoreErrorResponse` (error-response.ts) maps the
 * server-side reasons to the responses of RFC 8613 §8.2 / §7.4 / Appendix B.1.2.
 */

export type OscoreErrorReason =
  /** The OSCORE option value cannot be parsed, or lacks what a request needs (RFC 8613 §6.1, §8.2 step 2). */
  | 'bad-option'
  /** No recipient context for the kid / kid context (RFC 8613 §8.2 step 2). */
  | 'context-not-found'
  /** AEAD verification failed (RFC 8613 §8.2 step 6, §8.4 step 5). */
  | 'decryption-failed'
  /** The authenticated plaintext is not a well-formed code + options + payload (RFC 8613 §5.3). */
  | 'malformed-plaintext'
  /** The Partial IV was seen before or is older than the replay window (RFC 8613 §7.4). */
  | 'replay'
  /** The recipient's replay state was lost: freshness must be proven with Echo first (Appendix B.1.2). */
  | 'echo-required'
  /** The sender sequence number would pass 2^40 − 1: the context is spent (RFC 8613 §7.2.1). */
  | 'sequence-exhausted'
  /** The sequence-number store could not persist a reservation (Appendix B.1.1): nothing was sent. */
  | 'persistence-failed'
  /** A message given to `unprotect*` carries no OSCORE option (RFC 8613 §2). */
  | 'not-protected'
  /** A message given to `protect*` cannot be protected (e.g. it already has an OSCORE option). */
  | 'invalid-message'
  /** Security context parameters are invalid (RFC 8613 §3.2, §3.3). */
  | 'invalid-context';

const TEXT: Record<OscoreErrorReason, string> = {
  'bad-option': 'OSCORE option cannot be parsed',
  'context-not-found': 'Security context not found',
  'decryption-failed': 'Decryption failed',
  'malformed-plaintext': 'decrypted plaintext is not a valid CoAP code, options and payload',
  replay: 'Replay detected',
  'echo-required': 'request freshness must be proven with an Echo option',
  'sequence-exhausted': 'sender sequence number exhausted (2^40 − 1); the security context must be renewed',
  'persistence-failed': 'could not persist the sender sequence number reservation',
  'not-protected': 'message has no OSCORE option',
  'invalid-message': 'message cannot be protected',
  'invalid-context': 'invalid security context parameters',
};

export class OscoreError extends Error {
  override readonly name = 'OscoreError';
  readonly reason: OscoreErrorReason;
  /**
   * Extra information attached by the thrower. An 'echo-required' error is an `OscoreEchoRequiredError`
   * (echo-error.ts) whose detail also holds the context and request binding the challenge needs.
   */
  readonly detail: OscoreErrorExtra | undefined;

  constructor(
    reason: OscoreErrorReason,
    message?: string,
    detail?: OscoreErrorExtra,
    options?: ErrorOptions,
  ) {
    super(message === undefined ? TEXT[reason] : `${TEXT[reason]}: ${message}`, options);
    this.reason = reason;
    this.detail = detail;
  }
}

/**
 * The part of an error's detail this module can name. It imports nothing, so every module of the package
 * (context.ts included) can throw an `OscoreError` without an import cycle; the full detail of an
 * authenticated request's error, with its security context, is `OscoreErrorDetail` (echo-error.ts).
 */
export interface OscoreErrorExtra {
  /** For 'echo-required': the Echo value to send in the 4.01 challenge (RFC 9175 §2.2). */
  readonly echo?: Uint8Array;
}
