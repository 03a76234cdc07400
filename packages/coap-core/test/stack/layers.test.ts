import { describe, expect, it } from 'vitest';
import { Code, decodeMessage, encodeMessage, type InboundExchange, MessageType } from '../../src/index.js';
import type { CoapMessage } from '../../src/message/decode.js';
import type { OutgoingMessage } from '../../src/messaging/message-layer.js';
import type { ClientExchange } from '../../src/stack/exchange.js';
import { AbstractLayer, connectLayers, ExchangeWrapper, type Layer } from '../../src/stack/layer.js';
import type { Peer } from '../../src/transport/types.js';

const peer: Peer = { address: '10.0.0.2', port: 5683 };
const request = decodeMessage(
  encodeMessage({ type: MessageType.CON, code: Code.GET, messageId: 1, token: Uint8Array.of(1) }),
);

/** A layer that records each movement through it and passes it on (the `AbstractLayer` defaults). */
class Recorder extends AbstractLayer {
  constructor(
    readonly name: string,
    readonly log: string[],
  ) {
    super();
  }
  override receiveRequest(exchange: InboundExchange): void {
    this.log.push(`${this.name} up`);
    super.receiveRequest(exchange);
  }
  override sendRequest(exchange: ClientExchange, message: OutgoingMessage): void {
    this.log.push(`${this.name} down`);
    super.sendRequest(exchange, message);
  }
  override receiveResponse(exchange: ClientExchange, message: CoapMessage, p: Peer): void {
    this.log.push(`${this.name} response up`);
    super.receiveResponse(exchange, message, p);
  }
}

/** The ends of a stack: records what reaches them. */
class End extends AbstractLayer implements Layer {
  readonly seen: string[] = [];
  override receiveRequest(): void {
    this.seen.push('request');
  }
  override sendRequest(): void {
    this.seen.push('send');
  }
  override receiveResponse(): void {
    this.seen.push('response');
  }
}

function inbound(log: string[]): InboundExchange {
  return {
    message: request,
    peer,
    multicast: false,
    responded: false,
    respond: () => log.push('respond'),
    acknowledge: () => log.push('ack'),
  };
}

describe('the layer stack (docs/ARCHITECTURE.md, coap-core)', () => {
  it('connectLayers links a bottom-first list: requests and responses go up in order, requests down in reverse', () => {
    const log: string[] = [];
    const bottom = new End();
    const top = new End();
    const a = new Recorder('a', log);
    const b = new Recorder('b', log);
    connectLayers([bottom, a, b, top]);
    const x = {} as ClientExchange;

    a.receiveRequest(inbound(log));
    expect(log).toEqual(['a up', 'b up']);
    expect(top.seen).toEqual(['request']);

    log.length = 0;
    b.sendRequest(x, { code: Code.GET });
    expect(log).toEqual(['b down', 'a down']);
    expect(bottom.seen).toEqual(['send']);

    log.length = 0;
    a.receiveResponse(x, request, peer);
    expect(log).toEqual(['a response up', 'b response up']);
    expect(top.seen).toEqual(['request', 'response']);
  });

  it('an ExchangeWrapper delegates peer, responded, multicast and acknowledge, and intercepts respond', () => {
    const log: string[] = [];
    const outer = inbound(log);
    class Upper extends ExchangeWrapper {
      readonly message = request;
      respond(response: OutgoingMessage): void {
        log.push(`wrapped ${response.code}`);
        this.outer.respond(response);
      }
    }
    const ex = new Upper(outer);
    expect(ex.peer).toBe(peer);
    expect(ex.responded).toBe(false);
    expect(ex.multicast).toBe(false);
    ex.acknowledge();
    ex.respond({ code: Code.Content });
    expect(log).toEqual(['ack', `wrapped ${Code.Content}`, 'respond']);
  });
});
