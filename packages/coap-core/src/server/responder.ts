/**
 * The last step of a server response before the exchange layers below (docs/ARCHITECTURE.md, coap-core):
 * a handler's `ResponseInit` becomes an outgoing message, No-Response (RFC 7967) and group requests
 * (RFC 7252 §8.2) are honoured.
 */
import type { Clock } from '../clock.js';
import { ContentFormat } from '../message/content-formats.js';
import { OptionNumber } from '../message/options.js';
import type { InboundExchange } from '../messaging/message-layer.js';
import { type Random, randomInt } from '../random.js';
import type { StackState } from '../stack/layer.js';
import { toBytes } from '../util/pool.js';
import { type ResponseInit, responseOptions } from './request.js';

export class Responder {
  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    /** DEFAULT_LEISURE (RFC 7252 §8.2), ms. */
    private readonly defaultLeisure: number,
    private readonly state: StackState,
  ) {}

  /** Sends `response` to `ex` (once; nothing after the endpoint closed). */
  reply(ex: InboundExchange, response: ResponseInit): void {
    if (ex.responded || this.state.closed) return;
    if (ex.multicast) {
      this.replyToGroup(ex, response);
      return;
    }
    // RFC 7967: No-Response suppresses the classes whose bits are set (2.xx → 2, 4.xx → 8, 5.xx → 16)
    const noResponse = ex.message.getUint(OptionNumber.NoResponse);
    if (noResponse !== undefined && noResponse !== 0) {
      const cls = response.code >>> 5;
      const bit = cls === 2 ? 2 : cls === 4 ? 8 : cls === 5 ? 16 : 0;
      if ((noResponse & bit) !== 0) {
        ex.acknowledge();
        return;
      }
    }
    ex.respond({
      code: response.code,
      options: responseOptions(response, []),
      payload: toBytes(response.payload),
    });
  }

  /**
   * RFC 7252 §8.2: no error responses to a group request (and no empty discovery result, RFC 6690
   * §4.1); the response is delayed by a random Leisure so the members do not all answer at once.
   */
  private replyToGroup(ex: InboundExchange, response: ResponseInit): void {
    const payload = toBytes(response.payload);
    const emptyDiscovery =
      response.contentFormat === ContentFormat.LinkFormat && (payload?.length ?? 0) === 0;
    if (response.code >>> 5 !== 2 || emptyDiscovery) return;
    const leisure = randomInt(this.random, 0, this.defaultLeisure);
    this.clock.setTimeout(() => {
      if (this.state.closed) return;
      ex.respond({ code: response.code, options: responseOptions(response, []), payload });
    }, leisure);
  }
}
