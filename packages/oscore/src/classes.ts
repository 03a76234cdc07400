/**
 * Option classes (RFC 8613 §4.1, Figure 5): E = encrypted and integrity protected (Inner), U = unprotected
 * (Outer), I = integrity protected only (none defined yet, §4.1.3). Unknown options are class E (§4.1).
 * Options registered later than RFC 8613 carry their own OSCORE class in their specification.
 */
import { OptionNumber } from '@thimble/coap-core';

/**
 * How OSCORE treats an option number:
 * - 'E': Inner only.
 * - 'U': Outer only.
 * - 'EU': may be both (Figure 5 marks E and U): the application value is Inner; an Outer copy exists
 *   only for intermediaries (Observe) or is added hop-by-hop (Block, Size, Max-Age of error responses).
 * - 'OSCORE': the OSCORE option itself (§2; nesting is not allowed, §4.1.3.7).
 */
export type OptionClass = 'E' | 'U' | 'EU' | 'OSCORE';

export function optionClass(number: number): OptionClass {
  switch (number) {
    case OptionNumber.OSCORE:
      return 'OSCORE';
    case OptionNumber.UriHost: // §4.1.3.2 (Class U by default, for forward proxies)
    case OptionNumber.UriPort: // §4.1.3.2
    case OptionNumber.ProxyUri: // §4.1.3.3 (after decomposition)
    case OptionNumber.ProxyScheme: // Figure 5
    case OptionNumber.HopLimit: // RFC 8768 §3: Class U
    case OptionNumber.EDHOC: // RFC 9668 §3.1: Class U
      return 'U';
    case OptionNumber.Observe: // §4.1.3.5
    case OptionNumber.MaxAge: // §4.1.3.1
    case OptionNumber.Block1: // §4.1.3.4
    case OptionNumber.Block2:
    case OptionNumber.Size1:
    case OptionNumber.Size2:
    case OptionNumber.QBlock1: // RFC 9177 §4: like Block1/Block2
    case OptionNumber.QBlock2:
    case OptionNumber.NoResponse: // §4.1.3.6: MUST be Inner; Outer ignored
      return 'EU';
    default:
      // Figure 5 class E options, Echo and Request-Tag (RFC 9175 §2.3, §3.3), and unknown options (§4.1)
      return 'E';
  }
}
