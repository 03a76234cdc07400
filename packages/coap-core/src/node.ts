/**
 * Node.js adapters: UDP and DTLS transports and endpoint factories. Import from `@thimble/coap-core/node`.
 */
import { CoapEndpoint, type CoapEndpointOptions } from './endpoint/endpoint.js';
import { UdpTransport, type UdpTransportOptions } from './transport/udp.js';

export { UdpTransport, type UdpTransportOptions } from './transport/udp.js';

/** Binds a UDP socket and returns an endpoint on it (client and server). */
export async function createUdpEndpoint(
  options: UdpTransportOptions & Omit<CoapEndpointOptions, 'transport'> = {},
): Promise<CoapEndpoint> {
  const transport = await UdpTransport.bind(options);
  return new CoapEndpoint({ ...options, transport });
}

export {
  DtlsClientTransport,
  type DtlsClientTransportOptions,
  type DtlsCommonOptions,
  type DtlsPsk,
  DtlsServerTransport,
  type DtlsServerTransportOptions,
  type EcdsaCredentials,
  identityOf,
  type PeerIdentity,
  type PeerVerifier,
  type PskLookup,
} from './transport/dtls.js';
