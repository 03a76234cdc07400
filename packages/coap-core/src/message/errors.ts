import { CoapError } from '../errors.js';

/** Why a datagram is not a well-formed CoAP message (RFC 7252 §3, §4.1). */
export type CoapDecodeErrorReason =
  | 'message-too-short'
  | 'unsupported-version'
  | 'invalid-token-length'
  | 'truncated-token'
  | 'empty-message-not-empty'
  | 'reserved-option-delta'
  | 'reserved-option-length'
  | 'truncated-option'
  | 'option-number-too-large'
  | 'payload-marker-without-payload';

const MESSAGES: Record<CoapDecodeErrorReason, string> = {
  'message-too-short': 'message is shorter than the 4-byte header',
  'unsupported-version': 'version is not 1',
  'invalid-token-length': 'token length 9-15 is reserved',
  'truncated-token': 'message ends inside the token',
  'empty-message-not-empty': 'an Empty message (0.00) carries bytes after the message ID',
  'reserved-option-delta': 'option delta nibble 15 is reserved outside the payload marker',
  'reserved-option-length': 'option length nibble 15 is reserved',
  'truncated-option': 'message ends inside an option',
  'option-number-too-large': 'option number exceeds 65535',
  'payload-marker-without-payload': 'payload marker is followed by no payload',
};

/**
 * A message format error. `type` and `messageId` are set when the 4-byte header could be read, so the
 * message layer can reject a Confirmable message with a Reset (RFC 7252 §4.2) and drop the rest (§4.3).
 */
export class CoapDecodeError extends CoapError<CoapDecodeErrorReason> {
  override readonly name = 'CoapDecodeError';
  /** Byte offset where the problem was found. */
  readonly offset: number;
  readonly type: number | undefined;
  readonly messageId: number | undefined;

  constructor(reason: CoapDecodeErrorReason, offset: number, bytes: Uint8Array) {
    super(reason, `${MESSAGES[reason]} (at byte ${offset})`);
    this.offset = offset;
    if (bytes.length >= 4 && bytes[0]! >>> 6 === 1) {
      this.type = (bytes[0]! >>> 4) & 3;
      this.messageId = (bytes[2]! << 8) | bytes[3]!;
    } else {
      this.type = undefined;
      this.messageId = undefined;
    }
  }
}

export type CoapEncodeErrorReason =
  | 'invalid-type'
  | 'invalid-code'
  | 'invalid-message-id'
  | 'token-too-long'
  | 'empty-message-not-empty'
  | 'invalid-option-number'
  | 'option-value-too-long'
  | 'invalid-uint'
  | 'buffer-too-small';

/** The message given to the encoder cannot be expressed on the wire, or the target is too small. */
export class CoapEncodeError extends CoapError<CoapEncodeErrorReason> {
  override readonly name = 'CoapEncodeError';
  constructor(reason: CoapEncodeErrorReason, message: string) {
    super(reason, message);
  }
}
