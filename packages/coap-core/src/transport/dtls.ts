/**
 * DTLS client transport (`coaps://`) with pre-shared keys, on node-dtls-client (Node adapter).
 *
 * One DTLS session per server, opened on the first datagram to it; datagrams wait until the handshake
 * finishes. Handshake failures and timeouts are reported through `onError` with the peer, which fails
 * that peer's pending requests with a clear error.
 *
 * Known gap (node-dtls-client 2.0.3): a ServerKeyExchange carrying a PSK identity hint makes the library
 * throw inside its UDP message handler, which would kill the process. We wrap the library's handler so
 * such a throw fails the session instead (see `guard`). A DTLS implementation of our own is planned.
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { dtls } from 'node-dtls-client';
import { CoapTransportError } from '../errors.js';
import type { DatagramHandler, Peer, Transport, TransportErrorHandler } from './types.js';
import { peerKey } from './types.js';

export interface DtlsPsk {
  /** PSK identity sent to the server. */
  readonly identity: string;
  /** The pre-shared key bytes. */
  readonly key: Uint8Array;
}

export interface DtlsClientTransportOptions {
  readonly psk: DtlsPsk;
  /** Handshake timeout in ms (default 5,000). */
  readonly handshakeTimeout?: number;
}

interface Session {
  readonly socket: dtls.Socket;
  connected: boolean;
  readonly backlog: Uint8Array[];
}

type Listener = (...args: unknown[]) => void;

export class DtlsClientTransport implements Transport {
  readonly scheme = 'coaps';
  readonly maxDatagramSize = 1152 - 29; // DTLS 1.2 record overhead with AES-CCM-8
  readonly local: Peer = { address: '0.0.0.0', port: 0 };
  private readonly sessions = new Map<string, Session>();
  private datagramHandler: DatagramHandler = () => {};
  private errorHandler: TransportErrorHandler = () => {};
  private closed = false;

  constructor(private readonly options: DtlsClientTransportOptions) {}

  onDatagram(handler: DatagramHandler): void {
    this.datagramHandler = handler;
  }

  onError(handler: TransportErrorHandler): void {
    this.errorHandler = handler;
  }

  async resolve(host: string, port: number): Promise<Peer> {
    if (isIP(host) !== 0) return { address: host, port };
    const r = await lookup(host);
    return { address: r.address, port };
  }

  send(data: Uint8Array, peer: Peer): void {
    if (this.closed) return;
    const key = peerKey(peer);
    let session = this.sessions.get(key);
    if (session === undefined) {
      session = this.open(peer, key);
      if (session === undefined) return;
    }
    if (session.connected) session.socket.send(Buffer.from(data));
    else session.backlog.push(data.slice());
  }

  private open(peer: Peer, key: string): Session | undefined {
    const { identity, key: psk } = this.options.psk;
    let socket: dtls.Socket;
    try {
      socket = dtls.createSocket({
        type: isIP(peer.address) === 6 ? 'udp6' : 'udp4',
        address: peer.address,
        port: peer.port,
        psk: { [identity]: Buffer.from(psk) },
        timeout: this.options.handshakeTimeout ?? 5_000,
      });
    } catch (e) {
      this.errorHandler(
        new CoapTransportError(
          'dtls',
          `cannot open a DTLS session with ${peer.address}:${peer.port}: ${(e as Error).message}`,
          {
            cause: e,
            peer,
          },
        ),
        peer,
      );
      return undefined;
    }
    const session: Session = { socket, connected: false, backlog: [] };
    this.sessions.set(key, session);
    const fail = (err: Error) => {
      if (this.sessions.get(key) !== session) return;
      this.sessions.delete(key);
      try {
        socket.close();
      } catch {
        // already closed
      }
      this.errorHandler(
        new CoapTransportError(
          'dtls',
          `DTLS session with ${peer.address}:${peer.port} failed: ${err.message}`,
          {
            cause: err,
            peer,
          },
        ),
        peer,
      );
    };
    this.guard(socket, fail);
    socket.on('connected', () => {
      session.connected = true;
      for (const d of session.backlog.splice(0)) socket.send(Buffer.from(d));
    });
    socket.on('message', (msg: Buffer) => {
      this.datagramHandler(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), {
        address: peer.address,
        port: peer.port,
        identity,
      });
    });
    socket.on('error', (err: Error) => fail(err));
    socket.on('close', () => {
      if (this.sessions.get(key) === session) {
        this.sessions.delete(key);
        if (!session.connected) fail(new Error('connection closed during the handshake'));
      }
    });
    return session;
  }

  /** Turns a throw inside node-dtls-client's UDP handler into a session failure (see the file comment). */
  private guard(socket: dtls.Socket, fail: (err: Error) => void): void {
    const udp = (
      socket as unknown as {
        udp?: {
          listeners(e: string): Listener[];
          removeAllListeners(e: string): void;
          on(e: string, l: Listener): void;
        };
      }
    ).udp;
    if (udp === undefined || typeof udp.listeners !== 'function') return;
    const listeners = udp.listeners('message');
    udp.removeAllListeners('message');
    for (const l of listeners) {
      udp.on('message', (...args: unknown[]) => {
        try {
          l(...args);
        } catch (e) {
          fail(e instanceof Error ? e : new Error(String(e)));
        }
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const closing = [...this.sessions.values()].map(
      (s) =>
        new Promise<void>((resolve) => {
          try {
            s.socket.close(() => resolve());
            setTimeout(resolve, 200).unref();
          } catch {
            resolve();
          }
        }),
    );
    this.sessions.clear();
    await Promise.all(closing);
  }
}
