/**
 * The 'echo-required' error (RFC 8613 Appendix B.1.2): raised after a request was authenticated by a context
 * that lost its replay window, it carries what the protected 4.01 + Echo challenge needs.
 */
import type { RequestBinding, SecurityContext } from './context.js';
import { OscoreError, type OscoreErrorExtra } from './errors.js';

/** Attached to errors raised after a request was authenticated (so a protected answer is possible). */
export interface OscoreErrorDetail extends OscoreErrorExtra {
  /** The context that verified the request. */
  readonly context: SecurityContext;
  /** The request binding, for a protected answer (Appendix B.1.2). */
  readonly binding: RequestBinding;
  /** The Echo value to send in the 4.01 challenge (RFC 9175 §2.2). */
  readonly echo: Uint8Array;
}

/** `OscoreError('echo-required')` with the detail `oscoreErrorResponse` protects its challenge with. */
export class OscoreEchoRequiredError extends OscoreError {
  declare readonly detail: OscoreErrorDetail;

  constructor(detail: OscoreErrorDetail) {
    super('echo-required', undefined, detail);
  }
}
