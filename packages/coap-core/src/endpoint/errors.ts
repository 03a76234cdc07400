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

export class CoapRequestError extends Error {
  override readonly name = 'CoapRequestError';
  readonly reason: CoapRequestErrorReason;
  constructor(reason: CoapRequestErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}
