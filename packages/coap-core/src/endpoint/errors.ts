/** Why a request failed without a response. */
export type CoapRequestErrorReason =
  | 'timeout'
  | 'reset'
  | 'aborted'
  | 'closed'
  | 'transport'
  | 'queue-full'
  | 'invalid-request';

export class CoapRequestError extends Error {
  override readonly name = 'CoapRequestError';
  readonly reason: CoapRequestErrorReason;
  constructor(reason: CoapRequestErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}
