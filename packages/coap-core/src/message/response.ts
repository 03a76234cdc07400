import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import type { Peer } from '../transport/types.js';
import { utf8Decode } from '../util/bytes.js';

/** A response received by the client. For a Block2 transfer `payload` is the reassembled body. */
export class CoapResponse {
  constructor(
    /** The (last) message of the response. */
    readonly message: CoapMessage,
    readonly peer: Peer,
    private readonly body?: Uint8Array,
  ) {}
  get code(): number {
    return this.message.code;
  }
  /** True for 2.xx. */
  get ok(): boolean {
    return this.message.code >>> 5 === 2;
  }
  get payload(): Uint8Array {
    return this.body ?? this.message.payload;
  }
  get contentFormat(): number | undefined {
    return this.message.getUint(OptionNumber.ContentFormat);
  }
  /** The Observe sequence number of a notification, if any. */
  get observe(): number | undefined {
    return this.message.getUint(OptionNumber.Observe);
  }
  text(): string {
    return utf8Decode(this.payload);
  }
}
