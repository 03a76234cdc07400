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

export type DatagramHandler = (data: Uint8Array, peer: Peer) => void;
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
