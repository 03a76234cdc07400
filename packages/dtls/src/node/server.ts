/**
 * `DtlsServer`: a DTLS 1.2 server on one `node:dgram` socket (Node adapter). The portable `ServerEngine`
 * does the work: cookies, demultiplexing by address and Connection ID, limits; this file moves datagrams.
 */

import { createSocket, type Socket } from 'node:dgram';
import { systemClock } from '../clock.js';
import type { CryptoProvider } from '../crypto.js';
import { DtlsError } from '../errors.js';
import {
  ServerEngine,
  type ServerEngineOptions,
  type ServerEngineStats,
  type ServerSession,
} from '../server.js';
import type { PeerIdentity } from '../types.js';
import { nodeCrypto } from './crypto.js';

export interface DtlsServerOptions extends Omit<ServerEngineOptions, 'crypto' | 'clock'> {
  readonly crypto?: CryptoProvider;
  readonly clock?: ServerEngineOptions['clock'];
  /** UDP port (default 0: any free port; 5684 is coaps). */
  readonly port?: number;
  /** Local address (default '0.0.0.0', or '::' for udp6). */
  readonly address?: string;
  readonly type?: 'udp4' | 'udp6';
}

/** Where a datagram came from: the transport address and the authenticated identity. */
export interface DtlsPeer {
  readonly address: string;
  readonly port: number;
  readonly identity: PeerIdentity | undefined;
}

export type DtlsDataHandler = (data: Uint8Array, peer: DtlsPeer) => void;

export class DtlsServer {
  private readonly engine: ServerEngine;
  private dataHandlers: DtlsDataHandler[] = [];
  private sessionHandlers: ((peer: DtlsPeer) => void)[] = [];
  private closeHandlers: ((peer: DtlsPeer, error: DtlsError) => void)[] = [];
  private logHandlers: ((message: string, peer: { address: string; port: number }) => void)[] = [];
  private closing: Promise<void> | undefined;
  private sending = 0;
  private drained: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    options: DtlsServerOptions,
  ) {
    this.engine = new ServerEngine(
      { ...options, crypto: options.crypto ?? nodeCrypto, clock: options.clock ?? systemClock },
      {
        send: (datagram, address, port) => {
          this.sending++;
          this.socket.send(datagram, port, address, () => {
            this.sending--;
            if (this.sending === 0) this.drained?.();
          });
        },
        onSession: (s) => {
          for (const h of this.sessionHandlers) h(peerOf(s));
        },
        onData: (d, s) => {
          const peer = peerOf(s);
          for (const h of this.dataHandlers) h(d, peer);
        },
        onClose: (s, e) => {
          for (const h of this.closeHandlers) h(peerOf(s), e);
        },
        onLog: (m, address, port) => {
          for (const h of this.logHandlers) h(m, { address, port });
        },
      },
    );
    socket.on('message', (msg, rinfo) => {
      // A copy is not needed: dgram hands us a fresh Buffer per datagram; views keep it alive.
      this.engine.receive(
        new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
        rinfo.address,
        rinfo.port,
      );
    });
    socket.on('error', (e) => {
      for (const h of this.logHandlers) h(`socket error: ${e.message}`, this.local);
    });
  }

  /** Binds the socket and starts serving. */
  static listen(options: DtlsServerOptions): Promise<DtlsServer> {
    const type = options.type ?? 'udp4';
    const socket = createSocket({ type, reuseAddr: false });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, options.address ?? (type === 'udp6' ? '::' : '0.0.0.0'), () => {
        socket.off('error', reject);
        resolve(new DtlsServer(socket, options));
      });
    });
  }

  get local(): { address: string; port: number } {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  get stats(): ServerEngineStats {
    return this.engine.stats;
  }

  /** Application data from an established session. */
  onData(handler: DtlsDataHandler): void {
    this.dataHandlers.push(handler);
  }

  /** A handshake finished. */
  onSession(handler: (peer: DtlsPeer) => void): void {
    this.sessionHandlers.push(handler);
  }

  /** A session ended or a handshake failed (with the reason). */
  onClose(handler: (peer: DtlsPeer, error: DtlsError) => void): void {
    this.closeHandlers.push(handler);
  }

  /** Log lines: refused and failed handshakes with their reason. */
  onLog(handler: (message: string, peer: { address: string; port: number }) => void): void {
    this.logHandlers.push(handler);
  }

  /** The session currently at this transport address, if any. */
  session(peer: { address: string; port: number }): ServerSession | undefined {
    return this.engine.sessionAt(peer.address, peer.port);
  }

  /** Sends application data to an established session. Throws `DtlsError('closed')` when there is none. */
  send(peer: { address: string; port: number }, data: Uint8Array): void {
    const s = this.session(peer);
    if (s === undefined || !s.connection.connected) {
      throw new DtlsError('closed', `no DTLS session with ${peer.address}:${peer.port}`);
    }
    s.send(data);
  }

  /** Sends close_notify to every session, then closes the socket. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.engine.close();
    // Let the close_notify alerts leave before the socket goes.
    this.closing = new Promise<void>((resolve) => {
      if (this.sending === 0) resolve();
      else this.drained = resolve;
    }).then(() => new Promise<void>((resolve) => this.socket.close(() => resolve())));
    return this.closing;
  }
}

function peerOf(s: ServerSession): DtlsPeer {
  return { address: s.address, port: s.port, identity: s.identity };
}
