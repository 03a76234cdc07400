/**
 * Errors of the content-format codecs. Each carries a machine-readable `reason` and the CoAP response the
 * server side should answer with (RFC 7252 §5.9 response codes): 4.15 when the format itself
 * is not supported for the request, 4.00 for a payload that does not decode, 4.06 when the requested
 * (Accept) format cannot carry the node, 5.00 when the data to encode is itself invalid.
 */
import { Lwm2mError } from '../util/errors.js';

export type Lwm2mContentErrorReason =
  | 'unsupported-format'
  | 'format-not-applicable'
  | 'malformed'
  | 'truncated'
  | 'too-large'
  | 'too-deep'
  | 'wrong-type'
  | 'invalid-value'
  | 'unknown-object'
  | 'unknown-resource'
  | 'invalid-path'
  | 'path-mismatch'
  | 'duplicate'
  | 'missing-value';

export type Lwm2mResponseCode = '4.00' | '4.06' | '4.15' | '5.00';

const DEFAULT_CODE: Record<Lwm2mContentErrorReason, Lwm2mResponseCode> = {
  'unsupported-format': '4.15',
  'format-not-applicable': '4.15',
  malformed: '4.00',
  truncated: '4.00',
  'too-large': '4.00',
  'too-deep': '4.00',
  'wrong-type': '4.00',
  'invalid-value': '4.00',
  'unknown-object': '4.00',
  'unknown-resource': '4.00',
  'invalid-path': '4.00',
  'path-mismatch': '4.00',
  duplicate: '4.00',
  'missing-value': '4.00',
};

export class Lwm2mContentError extends Lwm2mError<Lwm2mContentErrorReason> {
  override readonly name = 'Lwm2mContentError';
  /** The CoAP response code the server side should send back. */
  readonly responseCode: Lwm2mResponseCode;
  /** The content format being decoded or encoded, when known. */
  readonly format: number | undefined;
  constructor(
    reason: Lwm2mContentErrorReason,
    message: string,
    options: { format?: number; responseCode?: Lwm2mResponseCode } = {},
  ) {
    super(reason, message);
    this.format = options.format;
    this.responseCode = options.responseCode ?? DEFAULT_CODE[reason];
  }
}

/** Errors raised while encoding say 4.06 (cannot represent) or 5.00 (invalid data) instead of 4.xx. */
export function encodeError(
  reason: Lwm2mContentErrorReason,
  message: string,
  format: number,
): Lwm2mContentError {
  const code: Lwm2mResponseCode =
    reason === 'format-not-applicable' || reason === 'unsupported-format' ? '4.06' : '5.00';
  return new Lwm2mContentError(reason, message, { format, responseCode: code });
}
