/**
 * The layer interface of the endpoint's stack (docs/ARCHITECTURE.md, coap-core). Below the exchange layers
 * every layer sees the same four movements:
 *
 * - a request from a peer travels up (`receiveRequest`); its response travels back down through the
 *   exchange's `respond`, which a layer that must see it (security, Outer Block-wise) wraps on the way up
 *   (`ExchangeWrapper`);
 * - a request of ours travels down (`sendRequest`) as a `ClientExchange`, the unit of client state; its
 *   response travels up (`receiveResponse`) once the matcher found the exchange by token and peer.
 *
 * Empty messages (ACK, RST, ping) end at the message layer and come up as the `TransmissionCallbacks` of
 * the exchange they concern. Layer calls are plain method calls: no closure or array per message.
 */
import type { CoapMessage } from '../message/decode.js';
import type { InboundExchange, OutgoingMessage } from '../messaging/message-layer.js';
import type { Peer } from '../transport/types.js';
import type { ClientExchange } from './exchange.js';

export interface Layer {
  /** Up: a request from a peer (server role). Its response goes down through `exchange.respond`. */
  receiveRequest(exchange: InboundExchange): void;
  /** Down: a request of ours (client role), as `message` (the layers below may replace it). */
  sendRequest(exchange: ClientExchange, message: OutgoingMessage): void;
  /** Up: the response (or a notification) to one of our requests, from `peer`. */
  receiveResponse(exchange: ClientExchange, message: CoapMessage, peer: Peer): void;
}

/**
 * The call a server-side layer above the fork makes on the one above it: a request passed up (Block-wise →
 * Observe → dispatch). Declared here so that a lower layer names no upper one.
 */
export interface RequestReceiver {
  receiveRequest(exchange: InboundExchange): void;
}

/** Pass-through defaults: a layer overrides only the movements it takes part in. */
export abstract class AbstractLayer implements Layer {
  /** The next layer up and down, set once by `connectLayers` when the stack is built. */
  upper!: Layer;
  lower!: Layer;
  receiveRequest(exchange: InboundExchange): void {
    this.upper.receiveRequest(exchange);
  }
  sendRequest(exchange: ClientExchange, message: OutgoingMessage): void {
    this.lower.sendRequest(exchange, message);
  }
  receiveResponse(exchange: ClientExchange, message: CoapMessage, peer: Peer): void {
    this.upper.receiveResponse(exchange, message, peer);
  }
}

/** Links the layers of `stack`, listed bottom first, each to its neighbours. */
export function connectLayers(stack: readonly AbstractLayer[]): void {
  for (let i = 0; i < stack.length; i++) {
    if (i > 0) stack[i]!.lower = stack[i - 1]!;
    if (i < stack.length - 1) stack[i]!.upper = stack[i + 1]!;
  }
}

/**
 * An inbound exchange as a layer hands it up when it changed the request or must see the response:
 * `peer`, `responded`, `multicast` and `acknowledge` are the wrapped exchange's; a subclass gives the
 * `message` and intercepts `respond`.
 */
export abstract class ExchangeWrapper implements InboundExchange {
  constructor(readonly outer: InboundExchange) {}
  abstract readonly message: CoapMessage;
  abstract respond(response: OutgoingMessage): void;
  get peer(): Peer {
    return this.outer.peer;
  }
  get responded(): boolean {
    return this.outer.responded;
  }
  get multicast(): boolean {
    return this.outer.multicast;
  }
  acknowledge(): void {
    this.outer.acknowledge();
  }
}

/** State every layer of one endpoint reads. */
export interface StackState {
  /** Set once by `CoapEndpoint.close`: nothing is sent afterwards. */
  closed: boolean;
}
