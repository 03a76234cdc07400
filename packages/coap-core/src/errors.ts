/**
 * The common base of coap-core's typed errors. Every error the package throws or reports on purpose is a
 * `CoapError` with a machine-readable `reason` (a string union per subclass), so callers branch on
 * `instanceof` and `.reason`, never on the wording of `.message`. See docs/ARCHITECTURE.md (coap-core).
 */
import type { Peer } from './transport/types.js';

export abstract class CoapError<R extends string = string> extends Error {
  readonly reason: R;
  constructor(reason: R, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** Why a transport could not carry a datagram. */
export type CoapTransportErrorReason =
  /** A DTLS session failed: handshake timeout, alert, or closed before the handshake completed. */
  | 'dtls'
  /** A datagram could not be sent (e.g. EMSGSIZE, EHOSTUNREACH, an ICMP error). */
  | 'send'
  /** The socket itself failed. */
  | 'socket'
  /** An address was unusable: in use, or not a multicast group where one is needed. */
  | 'address';

/**
 * A transport failure, reported through `Transport.onError` (and as the `cause` of a `CoapRequestError`
 * of reason 'transport'). `cause` holds the platform's own error when there is one.
 */
export class CoapTransportError extends CoapError<CoapTransportErrorReason> {
  override readonly name = 'CoapTransportError';
  /** The peer the failure concerns, when known. */
  readonly peer: Peer | undefined;
  constructor(reason: CoapTransportErrorReason, message: string, options?: { cause?: unknown; peer?: Peer }) {
    super(reason, message, options);
    this.peer = options?.peer;
  }
}

/** Why a request failed without a response. */
export type CoapRequestErrorReason =
  | 'timeout'
  | 'reset'
  | 'aborted'
  | 'closed'
  | 'transport'
  | 'queue-full'
  | 'invalid-request'
  /** The response was not protected or failed verification (e.g. OSCORE, RFC 8613 §8.4). */
  | 'security';

export class CoapRequestError extends CoapError<CoapRequestErrorReason> {
  override readonly name = 'CoapRequestError';
  constructor(reason: CoapRequestErrorReason, message: string, options?: { cause?: unknown }) {
    super(reason, message, options);
  }
}

/**
 * Carries a response code out of a block sink or handler (e.g. 4.13 when a sink runs out of space): the
 * server answers with `code` instead of 5.00.
 */
export class CoapStatusError extends CoapError<'status'> {
  override readonly name = 'CoapStatusError';
  constructor(
    readonly code: number,
    message = '',
  ) {
    super('status', message);
  }
}
