/**
 * The hooks through which an object-security mechanism (OSCORE, RFC 8613 §8) plugs into the endpoint's
 * security layer (`security/layer.ts`), which sits between the exchange layers (Block-wise, Observe) and
 * the Outer Block-wise and token-matching layers (docs/ARCHITECTURE.md, coap-core). coap-core defines only
 * these interfaces; `@thimble/oscore` implements them (`oscoreClient`, `oscoreServer`), so the core has no
 * dependency on any security package.
 *
 * Block-wise and Observe run above the layer: every block request/response and every notification is a
 * protected message of its own ("inner" Block-wise, RFC 8613 §4.1.3.4.1). Below it, the endpoint can also
 * split and reassemble the protected messages themselves ("outer" Block-wise, §4.1.3.4.2, see
 * `outer-blockwise.ts`), so the layer always protects and unprotects whole messages, once each.
 */
import type { CoapMessage } from '../message/decode.js';
import type { OutgoingMessage } from '../messaging/message-layer.js';
import type { Peer } from '../transport/types.js';

/** Who a verified request came from, as a handler sees it (`CoapRequest.security`). */
export interface SecurityIdentity {
  /** The mechanism, e.g. `'oscore'`. */
  readonly kind: string;
  /** The authenticated peer, e.g. the hex OSCORE Sender ID of the client (its 'kid'). */
  readonly peerId: string;
  /** Mechanism-specific detail (for OSCORE: the `SecurityContext` that verified the request). */
  readonly context: unknown;
}

/** Client side: protects requests to one peer (or one set of resources). */
export interface ClientSecurity {
  /** Protects one request (a new one for every block and every retry); the result verifies its responses. */
  protectRequest(request: OutgoingMessage, confirmable: boolean): SecuredRequest;
  /**
   * True when the layer hides the application's Block options inside the protected message (OSCORE,
   * RFC 8613 §4.1.3.4.1), so Block options on the wire are Outer ones: the endpoint then runs Outer
   * Block-wise on the protected messages (§4.1.3.4.2).
   */
  readonly outerBlockwise?: boolean;
}

/** One protected request and the state needed to verify its response(s) (e.g. the OSCORE binding). */
export interface SecuredRequest {
  /** The message to send in place of the request. */
  readonly message: OutgoingMessage;
  /**
   * Verifies and decrypts a response or notification; returns the inner message. Throws when the
   * response is not protected or fails verification: it must then never be used. It must also throw for
   * a notification older than one it already passed: the endpoint then skips its own RFC 7641 §3.4
   * reordering check (OSCORE orders notifications by Partial IV, RFC 8613 §4.1.3.5.2, §7.4.1).
   */
  unprotectResponse(response: CoapMessage): CoapMessage;
}

/** Server side: unprotects requests and protects their responses. */
export interface ServerSecurity {
  /**
   * Returns undefined when `request` is not one of this layer's (it is then handled unprotected);
   * otherwise the verified inner request, or the error answer to send instead (RFC 8613 §8.2).
   */
  unprotectRequest(request: CoapMessage, peer: Peer): UnprotectResult | undefined;
  /**
   * Whether `request` is one of this layer's protected messages (e.g. it has an OSCORE option). The
   * endpoint then treats Block1 / Block2 / Size1 / Size2 on it as Outer options and reassembles the
   * protected message before `unprotectRequest` (Outer Block-wise, RFC 8613 §4.1.3.4.2). Without this
   * method Outer Block-wise is off on the server side.
   */
  isProtected?(request: CoapMessage): boolean;
}

export type UnprotectResult =
  | {
      readonly ok: true;
      /** The decrypted request (inner code and options, outer header). */
      readonly request: CoapMessage;
      readonly identity: SecurityIdentity;
      /** Protects a response or a notification to this request. */
      protectResponse(response: OutgoingMessage): OutgoingMessage;
    }
  | {
      readonly ok: false;
      /** The error response (unprotected §8.2 error, or a protected 4.01 + Echo challenge). */
      readonly response: OutgoingMessage;
    };
