/**
 * Errors of the LwM2M server's device-management API (LwM2M TS Core 1.1 §6.3, §6.4). A device that
 * answers 4.xx / 5.xx gives a `device-error` carrying the CoAP response code it sent.
 */
import { formatCode } from '@thimble/coap-core';
import { Lwm2mError } from '../util/errors.js';

export type Lwm2mServerErrorReason =
  /** No registration for this endpoint name. */
  | 'unknown-endpoint'
  /** The device did not answer in time. */
  | 'timeout'
  /** The device answered with an error code (4.xx / 5.xx), see `code`. */
  | 'device-error'
  /** The device's answer could not be decoded (bad payload, unknown content format). */
  | 'bad-response'
  /** The request could not be built (bad path, value not encodable in the format). */
  | 'bad-request'
  /** The request failed without a response (reset, transport, closed endpoint). */
  | 'request-failed'
  /** A credential is already bound to another endpoint (security store). */
  | 'conflict'
  /** A bound was reached (observations, pending requests). */
  | 'limit'
  /** The server was closed. */
  | 'closed';

export class Lwm2mServerError extends Lwm2mError<Lwm2mServerErrorReason> {
  override readonly name = 'Lwm2mServerError';
  /** CoAP response code from the device (`device-error`), e.g. 0x84 for 4.04. */
  readonly code: number | undefined;
  constructor(reason: Lwm2mServerErrorReason, message: string, options?: { code?: number; cause?: unknown }) {
    super(reason, message, options);
    this.code = options?.code;
  }

  /** The device's response code as text (`'4.04'`), when there is one. */
  get codeText(): string | undefined {
    if (this.code === undefined) return undefined;
    return formatCode(this.code);
  }
}
