/**
 * Errors of the REST API as JSON: `{ "error": "<code>", "message": "...", "coapCode"?: "4.04" }`. The
 * server's failures map to HTTP statuses here, in one place.
 */
import { Lwm2mServerError } from '../../server/errors.js';
import { JsonNodeError } from './json-nodes.js';

export interface ErrorBody {
  readonly error: string;
  readonly message: string;
  /** The device's CoAP response code (`device-error`), e.g. `"4.04"`. */
  readonly coapCode?: string;
}

/** An error the API answers with `status` and a JSON body. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (message: string): HttpError => new HttpError(404, 'not-found', message);
export const badRequest = (message: string): HttpError => new HttpError(400, 'bad-request', message);

/**
 * A device's 4.xx answer keeps its meaning where HTTP has the same code (4.01 Unauthorized becomes 403: the
 * device refused this server, the API caller is authenticated); 5.03 and 5.04 stay; other 5.xx are a bad
 * gateway.
 */
const COAP_TO_HTTP: { readonly [coap: string]: number } = {
  '4.00': 400,
  '4.01': 403,
  '4.02': 400,
  '4.03': 403,
  '4.04': 404,
  '4.05': 405,
  '4.06': 406,
  '4.08': 400,
  '4.09': 409,
  '4.12': 412,
  '4.13': 413,
  '4.15': 415,
  '4.29': 429,
  '5.03': 503,
  '5.04': 504,
};

function serverErrorStatus(e: Lwm2mServerError): number {
  switch (e.reason) {
    case 'unknown-endpoint':
      return 404;
    case 'timeout':
      return 504;
    case 'device-error': {
      const coap = e.codeText ?? '5.00';
      return COAP_TO_HTTP[coap] ?? (coap.startsWith('4.') ? 400 : 502);
    }
    case 'bad-request':
      return 400;
    case 'limit':
    case 'closed':
      return 503;
    default: // bad-response, request-failed
      return 502;
  }
}

/** The HTTP status and JSON body for an error thrown by a route, or undefined for one this file does not know. */
export function errorResponse(e: unknown): { status: number; body: ErrorBody } | undefined {
  if (e instanceof HttpError) return { status: e.status, body: { error: e.code, message: e.message } };
  if (e instanceof JsonNodeError) return { status: 400, body: { error: 'bad-request', message: e.message } };
  if (e instanceof Lwm2mServerError) {
    const body: ErrorBody =
      e.codeText === undefined
        ? { error: e.reason, message: e.message }
        : { error: e.reason, message: e.message, coapCode: e.codeText };
    return { status: serverErrorStatus(e), body };
  }
  return undefined;
}
