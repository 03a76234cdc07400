/**
 * The security layer (docs/ARCHITECTURE.md, coap-core): object security such as OSCORE (RFC 8613 §8)
 * between the exchange layers above (Block-wise, Observe: "inner" Block-wise, §4.1.3.4.1) and Outer
 * Block-wise below. The mechanism itself plugs in through the `ServerSecurity` / `ClientSecurity` hooks
 * (`types.ts`), given to the endpoint at construction.
 *
 * - Server: a protected request is verified and decrypted before anything above looks at it (§8.2); it
 *   goes up as a `SecuredExchange`, whose responses are protected on their way down (§8.3).
 * - Client: a request with a `security` is protected on its way down (a new protection for every block
 *   and retry); its responses must verify before they go up (§8.4).
 */
import { CoapRequestError } from '../errors.js';
import { Code, describeCode } from '../message/constants.js';
import type { CoapMessage } from '../message/decode.js';
import type { InboundExchange, OutgoingMessage } from '../messaging/message-layer.js';
import type { ClientExchange } from '../stack/exchange.js';
import { AbstractLayer, ExchangeWrapper } from '../stack/layer.js';
import type { Matcher } from '../stack/matcher.js';
import type { Peer } from '../transport/types.js';
import { utf8Decode } from '../util/bytes.js';
import type { SecurityIdentity, ServerSecurity, UnprotectResult } from './types.js';

/**
 * A request that arrived protected, as the exchange layers see it: the inner (decrypted) message, and
 * responses protected on their way out (RFC 8613 §8.3).
 */
export class SecuredExchange extends ExchangeWrapper {
  constructor(
    outer: InboundExchange,
    private readonly result: Extract<UnprotectResult, { ok: true }>,
  ) {
    super(outer);
  }
  get message(): CoapMessage {
    return this.result.request;
  }
  get identity(): SecurityIdentity {
    return this.result.identity;
  }
  /** Protects a response or notification to this request (a new Partial IV each, RFC 8613 §8.3.1). */
  protect(response: OutgoingMessage): OutgoingMessage {
    return this.result.protectResponse(response);
  }
  respond(response: OutgoingMessage): void {
    let out: OutgoingMessage;
    try {
      out = this.result.protectResponse(response);
    } catch {
      // e.g. the sender sequence numbers are exhausted: an unprotected 5.00 is all we can say
      out = { code: Code.InternalServerError };
    }
    this.outer.respond(out);
  }
}

/** The authenticated peer of a request that came protected, if it did. */
export function identityOf(ex: InboundExchange): SecurityIdentity | undefined {
  return ex instanceof SecuredExchange ? ex.identity : undefined;
}

/** " (peer answered 4.01 Unauthorized: Security context not found)" for an unprotected error response. */
export function unprotectedDiagnostic(message: CoapMessage): string {
  if (message.code >>> 5 < 4) return '';
  const text = message.payloadLength > 0 ? `: ${utf8Decode(message.payload)}` : '';
  return ` (peer answered ${describeCode(message.code)}${text})`;
}

export class SecurityLayer extends AbstractLayer {
  constructor(
    /** The server side, given at construction (`CoapEndpointOptions.serverSecurity`). */
    readonly server: ServerSecurity | undefined,
    private readonly matcher: Matcher,
  ) {
    super();
  }

  override receiveRequest(ex: InboundExchange): void {
    const security = this.server;
    // RFC 8613 §8.2: verify and decrypt before anything looks at the request
    const result = security === undefined ? undefined : security.unprotectRequest(ex.message, ex.peer);
    if (result === undefined) {
      this.upper.receiveRequest(ex);
      return;
    }
    if (!result.ok) {
      if (!ex.multicast) ex.respond(result.response);
      return;
    }
    this.upper.receiveRequest(new SecuredExchange(ex, result));
  }

  override sendRequest(x: ClientExchange, message: OutgoingMessage): void {
    const security = x.security;
    if (security === undefined) {
      this.lower.sendRequest(x, message);
      return;
    }
    try {
      x.secured = security.protectRequest(message, x.confirmable);
    } catch (e) {
      x.reject(
        new CoapRequestError('security', `cannot protect the request: ${(e as Error).message}`, { cause: e }),
      );
      return;
    }
    this.lower.sendRequest(x, x.secured.message);
  }

  override receiveResponse(x: ClientExchange, message: CoapMessage, peer: Peer): void {
    const secured = x.secured;
    if (secured === undefined) {
      this.upper.receiveResponse(x, message, peer);
      return;
    }
    let inner: CoapMessage;
    try {
      inner = secured.unprotectResponse(message);
    } catch (e) {
      // RFC 8613 §8.4: an unprotected or unverifiable response is never taken as the answer. An
      // established observation just drops it (it may be forged); a request fails with the reason.
      if (x.observe !== undefined && x.received > 0) return;
      this.matcher.fail(
        x,
        new CoapRequestError(
          'security',
          `response rejected by the security layer: ${(e as Error).message}${unprotectedDiagnostic(message)}`,
          { cause: e },
        ),
      );
      return;
    }
    this.upper.receiveResponse(x, inner, peer);
  }
}
