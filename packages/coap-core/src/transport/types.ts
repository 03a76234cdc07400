/**
 * The one interface between the CoAP stack and whatever carries datagrams: UDP, DTLS, an in-memory
 * network. A transport sends a datagram to a peer and delivers the datagrams it receives with the
 * peer's identity.
 */

export interface Peer {
  /** IP address (or an in-memory name). */
  readonly address: string;
  readonly port: number;
  /** The authenticated identity on a secure transport (e.g. the DTLS PSK identity); absent on plain UDP. */
  readonly identity?: string;
}

/** What the transport knows about how a datagram arrived. */
export interface DatagramInfo {
  /** It was sent to a multicast group the transport joined (RFC 7252 §8). */
  readonly multicast: boolean;
}

/**
 * Receives one datagram. `data` is the receiver's to keep: a transport hands out a buffer of its own per
 * datagram and never writes to it again (the stack keeps views into it, e.g. Block1 chunks until the
 * body is reassembled, instead of copying).
 */
export type DatagramHandler = (data: Uint8Array, peer: Peer, info?: DatagramInfo) => void;
export type TransportErrorHandler = (error: Error, peer: Peer | undefined) => void;

export interface Transport {
  /** `coap` or `coaps` (or another scheme the transport implements). */
  readonly scheme: string;
  /** Local address once bound. */
  readonly local: Peer;
  /** Largest datagram the transport carries; the stack uses it to size Block-wise transfers. */
  readonly maxDatagramSize: number;
  /** Sends one datagram. Errors are reported through `onError`, never thrown asynchronously. */
  send(data: Uint8Array, peer: Peer): void;
  /** Registers the receiver (one per transport). */
  onDatagram(handler: DatagramHandler): void;
  /** Registers the error listener: failures to reach a peer (handshake, ICMP) are reported here. */
  onError(handler: TransportErrorHandler): void;
  /** Resolves a host name from a URI to a peer address (transports without DNS return the host as is). */
  resolve?(host: string, port: number): Promise<Peer>;
  close(): Promise<void>;
}

/** A map key for a peer's transport address. */
export function peerKey(peer: Peer): string {
  return `${peer.address}|${peer.port}`;
}

/** `[::1]:5683` or `127.0.0.1:5683`. */
export function formatPeer(peer: Peer): string {
  return peer.address.indexOf(':') >= 0 ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}

/** True for IPv4 224.0.0.0/4 and IPv6 ff00::/8 addresses. */
export function isMulticastAddress(address: string): boolean {
  if (address.includes(':')) return address.toLowerCase().startsWith('ff');
  const first = Number(address.split('.')[0]);
  return first >= 224 && first <= 239;
}

/** The "All CoAP Nodes" groups (RFC 7252 §12.8). */
export const ALL_COAP_NODES = {
  ipv4: '224.0.1.187',
  ipv6LinkLocal: 'ff02::fd',
  ipv6SiteLocal: 'ff05::fd',
} as const;
