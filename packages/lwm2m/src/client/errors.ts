/**
 * Errors of the LwM2M client. A device-management request that fails answers with the CoAP response
 * code the error carries (LwM2M TS Transport 1.1 §6.3 / TS Core 1.1 §6.3: 4.00 Bad Request, 4.04 Not
 * Found, 4.05 Method Not Allowed, 4.06 Not Acceptable, 4.15 Unsupported Content-Format, 5.00; 4.08 and 4.13
 * for streamed Block1 writes, RFC 7959 §2.9).
 */
import { Lwm2mError } from '../util/errors.js';

export type Lwm2mClientErrorCode =
  | '4.00'
  | '4.01'
  | '4.04'
  | '4.05'
  | '4.06'
  | '4.08'
  | '4.13'
  | '4.15'
  | '5.00';

export type Lwm2mClientErrorReason =
  | 'not-found'
  | 'not-allowed'
  | 'bad-request'
  | 'not-acceptable'
  | 'unsupported-format'
  | 'unknown-object'
  | 'duplicate-instance'
  | 'invalid-value'
  | 'application'
  | 'not-registered'
  | 'registration-failed'
  /** A DTLS handshake or OSCORE verification failed, or a security mode is not supported. */
  | 'security';

export class Lwm2mClientError extends Lwm2mError<Lwm2mClientErrorReason> {
  override readonly name = 'Lwm2mClientError';
  /** The CoAP response code a device-management request failing with this error gets. */
  readonly code: Lwm2mClientErrorCode;
  constructor(reason: Lwm2mClientErrorReason, code: Lwm2mClientErrorCode, message: string) {
    super(reason, message);
    this.code = code;
  }
}

/** `'4.04'` → 0x84 (RFC 7252 §5.9: class in the top 3 bits, detail in the low 5). */
export function codeFromText(text: string): number {
  const dot = text.indexOf('.');
  return (Number(text.slice(0, dot)) << 5) | Number(text.slice(dot + 1));
}

/** Throws an `Lwm2mClientError` (the request then gets `code` as its response). */
export function fail(reason: Lwm2mClientErrorReason, code: Lwm2mClientErrorCode, message: string): never {
  throw new Lwm2mClientError(reason, code, message);
}
