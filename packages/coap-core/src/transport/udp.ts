/**
 * UDP transport over node:dgram (Node adapter). IPv4 and IPv6; port 0 binds an ephemeral port.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { CoapTransportError } from '../errors.js';
import {
  type DatagramHandler,
  isMulticastAddress,
  type Peer,
  type Transport,
  type TransportErrorHandler,
} from './types.js';

export interface UdpTransportOptions {
  /** Address to bind; default `::` (dual-stack) or `0.0.0.0` when `family` is 4. */
  readonly address?: string;
  /** Port to bind; 0 (default) picks an ephemeral port. */
  readonly port?: number;
  /** 4 or 6; default from `address`, else 6 with IPv4 mapped addresses accepted. */
  readonly family?: 4 | 6;
  /** Receive/send buffer sizes in bytes (SO_RCVBUF / SO_SNDBUF). */
  readonly bufferSize?: number;
  /** Allow several sockets on the port (needed to join multicast groups on a shared port). */
  readonly reuseAddress?: boolean;
  /**
   * A multicast group to serve (e.g. 224.0.1.187, ff02::fd): the socket binds to the group address and
   * joins it, so everything it receives is a group request (RFC 7252 §8.2).
   */
  readonly group?: string;
  /** Interface address for joining groups and sending to them (e.g. 127.0.0.1 to stay on loopback). */
  readonly multicastInterface?: string;
}

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/;

let lastLiteral = '';
let lastFamily = 0;

/**
 * Address lookup for `socket.send`. Node's default (`dns.lookup`) answers even an IP literal one tick
 * later, so every datagram sent would cost a `process.nextTick` and a closure; peers here are IP
 * addresses already (`resolve` turned host names into them), so answer those at once.
 */
function lookupLiteral(
  address: string,
  options: LookupOptions | number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  // the last literal is remembered: a transfer sends to the same address datagram after datagram, and
  // `isIP` runs a regular expression
  if (address === lastLiteral) {
    callback(null, address, lastFamily);
    return;
  }
  const family = isIP(address);
  if (family !== 0) {
    lastLiteral = address;
    lastFamily = family;
    callback(null, address, family);
  } else
    dnsLookup(
      address,
      typeof options === 'number' ? { family: options } : { ...options, all: false },
      callback,
    );
}

/** The peer a send error is about (Node puts address and port on the error). */
function errorPeer(err: Error): Peer | undefined {
  const e = err as Error & { address?: unknown; port?: unknown };
  if (typeof e.address !== 'string' || typeof e.port !== 'number') return undefined;
  const m = MAPPED_V4.exec(e.address);
  return { address: m ? m[1]! : e.address, port: e.port };
}

export class UdpTransport implements Transport {
  readonly scheme = 'coap';
  readonly maxDatagramSize = 1152; // RFC 7252 §4.6: good upper bound without Path MTU knowledge
  private readonly socket: Socket;
  private datagramHandler: DatagramHandler = () => {};
  private errorHandler: TransportErrorHandler = () => {};
  private readonly family: 4 | 6;
  private boundPeer: Peer = { address: '', port: 0 };
  private closed = false;
  private readonly info: { multicast: boolean } | undefined;
  /** One callback for every send (not a closure per datagram); errors carry the peer's address. */
  private readonly afterSend = (err: Error | null): void => {
    if (err) {
      const peer = errorPeer(err);
      this.errorHandler(new CoapTransportError('send', err.message, { cause: err, peer }), peer);
    }
  };

  private constructor(socket: Socket, family: 4 | 6, group: boolean) {
    this.socket = socket;
    this.family = family;
    this.info = group ? { multicast: true } : undefined;
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      // Node hands out a Buffer over its own memory; the stack only needs the Uint8Array view.
      const data = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      let address = rinfo.address;
      if (family === 6 && address.startsWith('::ffff:')) {
        const m = MAPPED_V4.exec(address);
        if (m) address = m[1]!;
      }
      this.datagramHandler(data, { address, port: rinfo.port }, this.info);
    });
    socket.on('error', (err) =>
      this.errorHandler(new CoapTransportError('socket', err.message, { cause: err }), undefined),
    );
  }

  /** Binds a UDP socket and resolves when it is listening. */
  static async bind(options: UdpTransportOptions = {}): Promise<UdpTransport> {
    const group = options.group;
    if (group !== undefined && !isMulticastAddress(group))
      throw new CoapTransportError('address', `${group} is not a multicast address`);
    const bindTo = group ?? options.address;
    const family = options.family ?? (bindTo !== undefined && isIP(bindTo) === 4 ? 4 : 6);
    const socket = createSocket({
      type: family === 4 ? 'udp4' : 'udp6',
      reuseAddr: options.reuseAddress ?? group !== undefined,
      ipv6Only: false,
      recvBufferSize: options.bufferSize,
      sendBufferSize: options.bufferSize,
      lookup: lookupLiteral,
    });
    const transport = new UdpTransport(socket, family, group !== undefined);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind({ port: options.port ?? 0, address: bindTo ?? (family === 4 ? '0.0.0.0' : '::') }, () => {
        socket.off('error', onError);
        try {
          if (group !== undefined) socket.addMembership(group, options.multicastInterface);
          if (options.multicastInterface !== undefined)
            socket.setMulticastInterface(options.multicastInterface);
          socket.setMulticastLoopback(true);
          resolve();
        } catch (e) {
          socket.close();
          reject(e);
        }
      });
    });
    const a = socket.address();
    transport.boundPeer = { address: a.address, port: a.port };
    return transport;
  }

  get local(): Peer {
    return this.boundPeer;
  }

  /** The underlying socket, for multicast membership and socket options. */
  get rawSocket(): Socket {
    return this.socket;
  }

  send(data: Uint8Array, peer: Peer): void {
    if (this.closed) return;
    const address = this.family === 6 && isIP(peer.address) === 4 ? `::ffff:${peer.address}` : peer.address;
    this.socket.send(data, peer.port, address, this.afterSend);
  }

  onDatagram(handler: DatagramHandler): void {
    this.datagramHandler = handler;
  }

  onError(handler: TransportErrorHandler): void {
    this.errorHandler = handler;
  }

  async resolve(host: string, port: number): Promise<Peer> {
    if (isIP(host) !== 0) return { address: host, port };
    const r = await lookup(host, { family: this.family === 4 ? 4 : 0 });
    return { address: r.address, port };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
