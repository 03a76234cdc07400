/**
 * The answers to OSCORE errors on the server (RFC 8613 §8.2, §7.4, Appendix B.1.2):
 *
 * | reason                | response                              | protected |
 * |-----------------------|---------------------------------------|-----------|
 * | bad-option            | 4.02 Bad Option "Failed to decode COSE" | no      |
 * | context-not-found     | 4.01 "Security context not found"     | no        |
 * | decryption-failed     | 4.00 "Decryption failed"              | no        |
 * | malformed-plaintext   | 4.00 "Decryption failed"              | no        |
 * | replay                | 4.01 "Replay detected"                | no        |
 * | echo-required         | 4.01 with Echo (RFC 9175 §2.4)        | yes, with its own Partial IV |
 * | not-protected         | 4.01 "OSCORE required"                | no        |
 * | other (local) reasons | 5.00 / 5.03                           | no        |
 *
 * Unprotected error responses carry an Outer Max-Age 0 so OSCORE-unaware caches do not keep them (§4.1.3.1,
 * §8.2) and the diagnostic string as payload. `malformed-plaintext` answers like a decryption failure so
 * the server does not reveal which step failed.
 */
import {
  type CoapMessage,
  type CoapMessageInit,
  Code,
  MessageType,
  OptionNumber,
  utf8Encode,
} from '@thimble/coap-core';
import { OscoreEchoRequiredError } from './echo-error.js';
import { OscoreError } from './errors.js';
import { protectResponse } from './protect.js';

interface Answer {
  readonly code: number;
  readonly diagnostic: string;
}

const ANSWERS: Readonly<Record<string, Answer>> = {
  'bad-option': { code: Code.BadOption, diagnostic: 'Failed to decode COSE' },
  'context-not-found': { code: Code.Unauthorized, diagnostic: 'Security context not found' },
  'decryption-failed': { code: Code.BadRequest, diagnostic: 'Decryption failed' },
  'malformed-plaintext': { code: Code.BadRequest, diagnostic: 'Decryption failed' },
  replay: { code: Code.Unauthorized, diagnostic: 'Replay detected' },
  'not-protected': { code: Code.Unauthorized, diagnostic: 'OSCORE required' },
  'sequence-exhausted': { code: Code.ServiceUnavailable, diagnostic: 'Security context exhausted' },
  'persistence-failed': { code: Code.ServiceUnavailable, diagnostic: 'Security context unavailable' },
};

const INTERNAL: Answer = { code: Code.InternalServerError, diagnostic: 'OSCORE processing failed' };

/** The header fields of a request an answer needs (a decoded `CoapMessage` fits). */
export type RequestHeader = Pick<CoapMessage, 'type' | 'messageId' | 'token'>;

/** The code and diagnostic payload of the unprotected answer to `reason` (§8.2). */
export function oscoreErrorAnswer(error: OscoreError): { code: number; diagnostic: string } {
  return ANSWERS[error.reason] ?? INTERNAL;
}

/**
 * The response to send for an `OscoreError` raised while verifying `request` (§8.2). The type is ACK for a
 * CON request (piggybacked, same message ID) and NON otherwise (the message layer should then assign a
 * fresh message ID); the token is the request's.
 *
 * For 'echo-required' the answer is a 4.01 (Unauthorized) with an Echo option, protected with the context
 * that verified the request and with the server's own Partial IV (Appendix B.1.2), so the possibly
 * replayed request's nonce is never reused.
 */
export function oscoreErrorResponse(error: OscoreError, request: RequestHeader): CoapMessageInit {
  const type = request.type === MessageType.CON ? MessageType.ACK : MessageType.NON;
  if (error instanceof OscoreEchoRequiredError) {
    try {
      return protectResponse(
        error.detail.context,
        error.detail.binding,
        {
          type,
          code: Code.Unauthorized,
          messageId: request.messageId,
          token: request.token,
          options: [{ number: OptionNumber.Echo, value: error.detail.echo }],
        },
        { newPartialIv: true },
      );
    } catch (e) {
      if (!(e instanceof OscoreError)) throw e;
      return oscoreErrorResponse(e, request);
    }
  }
  const answer = oscoreErrorAnswer(error);
  return {
    type,
    code: answer.code,
    messageId: request.messageId,
    token: request.token,
    options: [{ number: OptionNumber.MaxAge, value: 0 }],
    payload: utf8Encode(answer.diagnostic),
  };
}
