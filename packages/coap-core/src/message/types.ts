import type { MessageType } from './constants.js';

/** An option value to encode: bytes as they are, a string as UTF-8, a number as a minimal uint. */
export type OptionValue = Uint8Array | string | number;

/** An option in a message to encode. */
export interface CoapOptionInit {
  readonly number: number;
  readonly value: OptionValue;
}

/** An option of a decoded message. */
export interface CoapOption {
  readonly number: number;
  readonly value: Uint8Array;
}

/** Everything needed to encode a message. A decoded `CoapMessage` also fits this shape. */
export interface CoapMessageInit {
  readonly type: MessageType;
  readonly code: number;
  readonly messageId: number;
  readonly token?: Uint8Array;
  /** In any order: the encoder sorts by number, keeping the order of repeated options. */
  readonly options?: readonly CoapOptionInit[];
  readonly payload?: Uint8Array;
}
