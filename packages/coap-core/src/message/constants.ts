/**
 * Message types, codes and their names (RFC 7252 §3, §12.1; RFC 8132; RFC 8516; RFC 8768; RFC 7959).
 */

/** The 2-bit message type field (RFC 7252 §3). */
export const MessageType = {
  CON: 0,
  NON: 1,
  ACK: 2,
  RST: 3,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const TYPE_NAMES = ['CON', 'NON', 'ACK', 'RST'] as const;

/** `CON`, `NON`, `ACK` or `RST`. */
export function messageTypeName(type: MessageType): (typeof TYPE_NAMES)[number] {
  return TYPE_NAMES[type & 3]!;
}

/** Builds a code byte from its class and detail: `makeCode(2, 5)` is 2.05 (0x45). */
export function makeCode(codeClass: number, detail: number): number {
  if (codeClass < 0 || codeClass > 7 || detail < 0 || detail > 31) {
    throw new RangeError(`invalid CoAP code ${codeClass}.${detail}`);
  }
  return (codeClass << 5) | detail;
}

export function codeClass(code: number): number {
  return code >>> 5;
}

export function codeDetail(code: number): number {
  return code & 0x1f;
}

/**
 * Method and response codes (RFC 7252 §12.1, RFC 7959 §2.9, RFC 8132 §2/§3, RFC 8516, RFC 8768).
 * The value is the code byte as it travels: class in the top 3 bits, detail in the low 5.
 */
export const Code = {
  Empty: 0x00,
  // Methods (0.xx)
  GET: 0x01,
  POST: 0x02,
  PUT: 0x03,
  DELETE: 0x04,
  FETCH: 0x05,
  PATCH: 0x06,
  iPATCH: 0x07,
  // Success (2.xx)
  Created: 0x41,
  Deleted: 0x42,
  Valid: 0x43,
  Changed: 0x44,
  Content: 0x45,
  Continue: 0x5f,
  // Client error (4.xx)
  BadRequest: 0x80,
  Unauthorized: 0x81,
  BadOption: 0x82,
  Forbidden: 0x83,
  NotFound: 0x84,
  MethodNotAllowed: 0x85,
  NotAcceptable: 0x86,
  RequestEntityIncomplete: 0x88,
  Conflict: 0x89,
  PreconditionFailed: 0x8c,
  RequestEntityTooLarge: 0x8d,
  UnsupportedContentFormat: 0x8f,
  UnprocessableEntity: 0x96,
  TooManyRequests: 0x9d,
  // Server error (5.xx)
  InternalServerError: 0xa0,
  NotImplemented: 0xa1,
  BadGateway: 0xa2,
  ServiceUnavailable: 0xa3,
  GatewayTimeout: 0xa4,
  ProxyingNotSupported: 0xa5,
  HopLimitReached: 0xa8,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const CODE_NAMES: Record<number, string> = {
  0: 'Empty',
  1: 'GET',
  2: 'POST',
  3: 'PUT',
  4: 'DELETE',
  5: 'FETCH',
  6: 'PATCH',
  7: 'iPATCH',
  65: 'Created',
  66: 'Deleted',
  67: 'Valid',
  68: 'Changed',
  69: 'Content',
  95: 'Continue',
  128: 'Bad Request',
  129: 'Unauthorized',
  130: 'Bad Option',
  131: 'Forbidden',
  132: 'Not Found',
  133: 'Method Not Allowed',
  134: 'Not Acceptable',
  136: 'Request Entity Incomplete',
  137: 'Conflict',
  140: 'Precondition Failed',
  141: 'Request Entity Too Large',
  143: 'Unsupported Content-Format',
  150: 'Unprocessable Entity',
  157: 'Too Many Requests',
  160: 'Internal Server Error',
  161: 'Not Implemented',
  162: 'Bad Gateway',
  163: 'Service Unavailable',
  164: 'Gateway Timeout',
  165: 'Proxying Not Supported',
  168: 'Hop Limit Reached',
};

/** `c.dd` dotted form of a code: `formatCode(0x45)` is `"2.05"`. */
export function formatCode(code: number): string {
  const detail = code & 0x1f;
  return `${code >>> 5}.${detail < 10 ? '0' : ''}${detail}`;
}

/** Parses `"2.05"` (or `"205"`) into a code byte. */
export function parseCode(text: string): number {
  const m = /^([0-7])\.?([0-3][0-9])$/.exec(text.trim());
  if (!m) throw new RangeError(`invalid CoAP code "${text}"`);
  return makeCode(Number(m[1]), Number(m[2]));
}

/** The registered name of a code (`"Content"`), or undefined for an unregistered code. */
export function codeName(code: number): string | undefined {
  return CODE_NAMES[code];
}

/** `"2.05 Content"`; unregistered codes show only the number. */
export function describeCode(code: number): string {
  const name = CODE_NAMES[code];
  return name === undefined ? formatCode(code) : `${formatCode(code)} ${name}`;
}

/** True for 0.01–0.31 (RFC 7252 §12.1.1). */
export function isRequestCode(code: number): boolean {
  return code > 0 && code < 0x20;
}

/** True for classes 2, 4 and 5 (RFC 7252 §5.9). */
export function isResponseCode(code: number): boolean {
  const c = code >>> 5;
  return c === 2 || c === 4 || c === 5;
}

export function isSuccessCode(code: number): boolean {
  return code >>> 5 === 2;
}

/** Classes 1, 6 and 7 are reserved on UDP (7 is signaling on reliable transports, RFC 8323). */
export function isReservedCodeClass(code: number): boolean {
  const c = code >>> 5;
  return c === 1 || c === 6 || c === 7;
}
