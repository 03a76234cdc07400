import { CoapError } from '../errors.js';

/** Why a request failed without a response. */
export type CoapRequestErrorReason =
  | 'timeout'
  | 'reset'
  | 'aborted'
  | 'closed'
  | 'transport'
  | 'queue-full'
  | 'invalid-request'
  /** The response was not protected or failed verification (e.g. OSCORE, RFC 8613 §8.4). */
  | 'security';

export class CoapRequestError extends CoapError<CoapRequestErrorReason> {
  override readonly name = 'CoapRequestError';
  constructor(reason: CoapRequestErrorReason, message: string, options?: { cause?: unknown }) {
    super(reason, message, options);
  }
}

/**
 * Carries a response code out of a block sink or handler (e.g. 4.13 when a sink runs out of space): the
 * server answers with `code` instead of 5.00.
 */
export class CoapStatusError extends CoapError<'status'> {
  override readonly name = 'CoapStatusError';
  constructor(
    readonly code: number,
    message = '',
  ) {
    super('status', message);
  }
}
