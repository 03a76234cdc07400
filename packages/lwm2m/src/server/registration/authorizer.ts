/**
 * Authorization of the Registration interface and Send (LwM2M TS Core 1.1 §6.2.1, §7.1): checks the
 * credential a request came with against the endpoint it acts for.
 */
import { type CoapRequest, Code, type ResponseInit } from '@thimble/coap-core';
import type { SecurityStore } from '../security/types.js';

/**
 * How a request was authenticated: by its OSCORE context, by the DTLS session's PSK identity or raw
 * public key, or not.
 */
export type Authentication = 'oscore' | 'psk' | 'rpk' | undefined;

export type AuthorizationResult =
  | { readonly refused: ResponseInit }
  | { readonly refused?: undefined; readonly by: Authentication };

const NO_SECURITY: AuthorizationResult = { by: undefined };

export class RegistrationAuthorizer {
  constructor(
    private readonly security: SecurityStore | undefined,
    /** Refuse NoSec altogether (`RegistrationPolicyOptions.requireSecurity`). */
    private readonly requireSecurity = false,
  ) {}

  /**
   * A credential (OSCORE context, secure transport identity) bound to another endpoint, or none at all
   * for an endpoint that has credentials, is answered 4.03 Forbidden ("registration not allowed"). Returns
   * the refusal, or how the request was authenticated (undefined for NoSec). With `requireSecurity` NoSec
   * is refused too (4.03).
   */
  authorize(req: CoapRequest, endpoint: string): AuthorizationResult {
    const store = this.security;
    if (store === undefined) {
      return this.requireSecurity
        ? { refused: { code: Code.Forbidden, payload: 'security required' } }
        : NO_SECURITY;
    }
    const forbidden = (payload: string) => ({ refused: { code: Code.Forbidden, payload } });
    let by: Authentication;
    if (req.security !== undefined) {
      const bound = req.security.kind === 'oscore' ? store.getByOscoreKid(req.security.peerId) : undefined;
      if (bound?.endpoint !== endpoint) return forbidden('credentials not bound to this endpoint');
      by = 'oscore';
    }
    // the DTLS session's identity (coap-core's `Peer.identity`): `rpk:<SPKI hex>` for a raw public key
    // (RFC 7250), `x509:<subject>` for a certificate, else the PSK identity; never the payload's claim
    const identity = req.peer.identity;
    if (identity !== undefined) {
      const rpk = identity.startsWith('rpk:');
      const bound = rpk
        ? store.getByRpk(identity.slice(4))
        : identity.startsWith('x509:')
          ? undefined
          : store.getByPskIdentity(identity);
      if (bound?.endpoint !== endpoint) return forbidden('credentials not bound to this endpoint');
      by ??= rpk ? 'rpk' : 'psk';
    }
    if (by === undefined && store.get(endpoint) !== undefined)
      return forbidden('this endpoint must use its credentials');
    if (by === undefined && this.requireSecurity) return forbidden('security required');
    return { by };
  }
}
