/**
 * OSCORE as a layer of the CoAP endpoint (RFC 8613 §8): implementations of coap-core's `ClientSecurity`
 * and `ServerSecurity` hooks on top of the protection functions. The endpoint's security layer calls them
 * between its exchange layers (Block-wise, Observe) and its Outer Block-wise and token-matching layers
 * (docs/ARCHITECTURE.md, coap-core), so every block and every notification is an OSCORE message of its
 * own ("inner" Block-wise, §4.1.3.4.1), and handlers see the decrypted request with the authenticated
 * context. Below the layer, the endpoint's Outer Block-wise (§4.1.3.4.2, option `outerBlockwise`) splits
 * and reassembles whole OSCORE messages hop by hop, so each is protected and verified exactly once.
 *
 * ```ts
 * const client = new CoapEndpoint({ transport, clientSecurity: oscoreClient(ctx) });
 * const server = new CoapEndpoint({ transport, serverSecurity: oscoreServer([serverCtx]) });
 * server.route('GET', '/secret', (req) => ({ code: Code.Content, payload: oscoreContextOf(req) ? 'hi' : '' }),
 *   { requireOscore: true });
 * ```
 */
import {
  type ClientSecurity,
  type CoapMessage,
  type CoapMessageInit,
  Code,
  decodeMessage,
  encodeMessage,
  MessageType,
  OptionNumber,
  type OutgoingMessage,
  type SecuredRequest,
  type SecurityIdentity,
  type ServerSecurity,
  toHex,
  type UnprotectResult,
  utf8Encode,
} from '@thimble/coap-core';
import type { SecurityContext } from './context.js';
import { oscoreErrorResponse } from './error-response.js';
import { OscoreError } from './errors.js';
import {
  type ContextLookup,
  contextLookup,
  type ProtectRequestOptions,
  protectRequest,
  protectResponse,
  unprotectRequest,
  unprotectResponse,
} from './protect.js';

/** The `SecurityIdentity.kind` of requests verified by OSCORE. */
export const OSCORE_KIND = 'oscore';

function toInit(m: OutgoingMessage, type: MessageType): CoapMessageInit {
  // The message ID is the message layer's business: it assigns one when it sends the result.
  return { type, code: m.code, messageId: 0, token: m.token, options: m.options, payload: m.payload };
}

function toOutgoing(m: CoapMessageInit): OutgoingMessage {
  return { code: m.code, token: m.token, options: m.options, payload: m.payload };
}

/**
 * The endpoint reads messages through `CoapMessage` views: encode the decrypted message once and view it.
 * This copy is owned by the exchange, independent of the datagram buffer the transport may reuse.
 */
function view(m: CoapMessageInit): CoapMessage {
  return decodeMessage(encodeMessage(m));
}

/**
 * Client side: protects every request with `ctx` (§8.1) and verifies each response with the request's
 * binding (§8.4). Responses that are not protected (e.g. an unprotected §8.2 error) or do not verify make
 * the request fail; they are never passed on as authenticated.
 */
export function oscoreClient(ctx: SecurityContext, options?: ProtectRequestOptions): ClientSecurity {
  return {
    outerBlockwise: true, // §4.1.3.4: Block options are Inner; any on the wire are Outer (§4.1.3.4.2)
    protectRequest(request: OutgoingMessage, confirmable: boolean): SecuredRequest {
      const { message, binding } = protectRequest(
        ctx,
        toInit(request, confirmable ? MessageType.CON : MessageType.NON),
        options,
      );
      return {
        message: toOutgoing(message),
        unprotectResponse(response: CoapMessage): CoapMessage {
          return view(unprotectResponse(ctx, binding, response));
        },
      };
    },
  };
}

function hasOscoreOption(message: CoapMessage): boolean {
  return message.hasOption(OptionNumber.OSCORE);
}

/**
 * Server side: requests with an OSCORE option are verified with the context found by 'kid' / 'kid
 * context' (§8.2) and reach the router decrypted; their responses and notifications are protected with
 * the request's binding (§8.3, notifications with a new Partial IV, §8.3.1). Verification failures are
 * answered with the §8.2 errors (unprotected), a context that lost its replay state with a protected 4.01
 * + Echo (Appendix B.1.2); the handler never sees those requests. Requests without an OSCORE option pass
 * unprotected (use the route option `requireOscore` to refuse them).
 */
export function oscoreServer(contexts: readonly SecurityContext[] | ContextLookup): ServerSecurity {
  const lookup = typeof contexts === 'function' ? contexts : contextLookup(contexts);
  return {
    // RFC 8613 §4.1.3.4.2: Block options on an OSCORE message are Outer ones (the endpoint reassembles)
    isProtected: hasOscoreOption,
    unprotectRequest(request: CoapMessage): UnprotectResult | undefined {
      if (!hasOscoreOption(request)) return undefined;
      let verified: ReturnType<typeof unprotectRequest>;
      try {
        verified = unprotectRequest(lookup, request);
      } catch (e) {
        if (e instanceof OscoreError)
          return { ok: false, response: toOutgoing(oscoreErrorResponse(e, request)) };
        // Bad input is normal input: whatever went wrong, answer and keep going
        return {
          ok: false,
          response: {
            code: Code.InternalServerError,
            options: [{ number: OptionNumber.MaxAge, value: 0 }],
            payload: utf8Encode('OSCORE processing failed'),
          },
        };
      }
      const { context, binding } = verified;
      const identity: SecurityIdentity = {
        kind: OSCORE_KIND,
        peerId: toHex(context.recipientId),
        context,
      };
      return {
        ok: true,
        request: view(verified.request),
        identity,
        protectResponse(response: OutgoingMessage): OutgoingMessage {
          return toOutgoing(protectResponse(context, binding, toInit(response, MessageType.NON)));
        },
      };
    },
  };
}

/** The OSCORE context that verified a request a handler got (`CoapRequest.security`), if any. */
export function oscoreContextOf(request: {
  readonly security?: SecurityIdentity | undefined;
}): SecurityContext | undefined {
  const identity = request.security;
  return identity?.kind === OSCORE_KIND ? (identity.context as SecurityContext) : undefined;
}
