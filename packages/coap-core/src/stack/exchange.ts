/**
 * The unit of client state in the endpoint's stack (docs/ARCHITECTURE.md, coap-core): a request of ours on
 * its way down and its response on the way up. It sits below every layer (`layer.ts`, the matcher and the
 * layers above name it); what it calls on the matcher that owns it is `ExchangeOwner`.
 */
import type { TimerHandle } from '../clock.js';
import { CoapRequestError } from '../errors.js';
import type { CoapMessage } from '../message/decode.js';
import type { CoapResponse } from '../message/response.js';
import type {
  MessageLayer,
  OutgoingMessage,
  Transmission,
  TransmissionCallbacks,
} from '../messaging/message-layer.js';
import type { ClientSecurity, SecuredRequest } from '../security/types.js';
import type { Peer } from '../transport/types.js';

/** What a `ClientExchange` calls on the matcher that owns it (`Matcher` implements it). */
export interface ExchangeOwner {
  /** The message layer below, for its transmission parameters. */
  readonly messaging: Pick<MessageLayer, 'parameters'>;
  /** Arms the response timer of a request acknowledged with an empty ACK. */
  armLate(x: ClientExchange): void;
  /** Fails `x` with `error`, if it is still pending. */
  fail(x: ClientExchange, error: Error): void;
}

/** The protected request as sent, to ask for the rest of an Outer Block2 response (RFC 8613 §4.1.3.4.2). */
export interface OuterRequest {
  readonly message: OutgoingMessage;
}

/**
 * A request of ours and its state on the way down and up the stack, until its response came (or, for an
 * observation, until it ends). It is also the message layer's callbacks for its transmission: one object
 * per request instead of a callbacks object and two closures.
 */
export class ClientExchange implements TransmissionCallbacks {
  timer: TimerHandle | undefined = undefined;
  tx: Transmission | undefined = undefined;
  abort: (() => void) | undefined = undefined;
  /** The protected request whose responses must verify (set by the security layer), if any. */
  secured: SecuredRequest | undefined = undefined;
  /** Responses accepted so far (an observation ignores unverifiable ones once it is established). */
  received = 0;
  /** Set by the Outer Block-wise layer for a protected request that may get an Outer Block2 response. */
  outer: OuterRequest | undefined = undefined;
  /** Taken out of the pending requests by a layer that finishes it later (Outer Block2 reassembly). */
  detached = false;
  /** When the response timer is armed only on an empty ACK: when it runs out (clock ms). */
  deadline: number | undefined = undefined;
  constructor(
    readonly key: string,
    /** Where the request went: only a response from there is its answer. */
    readonly peer: Peer,
    readonly confirmable: boolean,
    /** Milliseconds to wait for the response. */
    readonly timeout: number,
    readonly resolve: (r: CoapResponse) => void,
    readonly reject: (e: Error) => void,
    readonly signal: AbortSignal | undefined,
    /** Set for observations: every response with this token goes here and the entry stays. */
    readonly observe: ((message: CoapMessage, peer: Peer) => void) | undefined,
    /** Set for group requests: responses from any peer are collected. */
    readonly group: ((message: CoapMessage, peer: Peer) => void) | undefined,
    /** Protects this request and verifies its responses (the security layer's business). */
    readonly security: ClientSecurity | undefined,
    private readonly matcher: ExchangeOwner,
  ) {}
  onAck(piggybacked: boolean): void {
    // an empty ACK: the response comes separately, within the request's timeout (see `sendRequest`)
    if (!piggybacked && this.deadline !== undefined && this.timer === undefined) this.matcher.armLate(this);
  }
  onReset(): void {
    this.matcher.fail(this, new CoapRequestError('reset', 'the peer rejected the request (RST)'));
  }
  onTimeout(): void {
    this.matcher.fail(
      this,
      new CoapRequestError(
        'timeout',
        `no acknowledgement after ${this.matcher.messaging.parameters.maxRetransmit} retransmissions`,
      ),
    );
  }
}
