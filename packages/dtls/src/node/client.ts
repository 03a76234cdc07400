/**
 * `connect()`: a DTLS 1.2 client on a `node:dgram` socket (Node adapter). The handshake honours the caller's
 * timeout and AbortSignal; a failed or aborted handshake closes the socket and leaves no timer behind.
 * With a Connection ID (RFC 9146) `rebind()` moves to a new local port and keeps the session.
 */

import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { systemClock } from '../clock.js';
import { type ClientConnectionSettings, Connection, type SessionState } from '../connection.js';
import type { CryptoProvider } from '../crypto.js';
import { DtlsError } from '../errors.js';
import type { PeerIdentity } from '../types.js';
import { nodeCrypto } from './crypto.js';

export interface DtlsConnectOptions
  extends Omit<ClientConnectionSettings, 'crypto' | 'clock' | 'handshakeTimeoutMs'> {
  readonly host: string;
  readonly port: number;
  /** Handshake timeout in ms (default 10,000): the promise rejects with reason `handshake-timeout`. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly crypto?: CryptoProvider;
  readonly clock?: ClientConnectionSettings['clock'];
  /** Local port to bind (default any). */
  readonly localPort?: number;
}

export class DtlsClient {
  private dataHandlers: ((data: Uint8Array) => void)[] = [];
  private closeHandlers: ((error: DtlsError) => void)[] = [];
  private closeError: DtlsError | undefined;

  /** @internal use `connect()` */
  constructor(
    private socket: Socket,
    readonly connection: Connection,
    /** The server's address and port. */
    readonly remote: { readonly address: string; readonly port: number },
    private readonly type: 'udp4' | 'udp6',
  ) {}

  /** The server's identity as the handshake established it (PSK identity used, or its key/certificate). */
  get identity(): PeerIdentity | undefined {
    return this.connection.peerIdentity;
  }

  /** The session, for an abbreviated handshake later (`connect({ resume })`). */
  get session(): SessionState | undefined {
    return this.connection.session;
  }

  get local(): { address: string; port: number } {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  get closed(): boolean {
    return this.connection.closed;
  }

  /** Largest payload per `send`. */
  get maxDataSize(): number {
    return this.connection.maxDataSize;
  }

  send(data: Uint8Array): void {
    this.connection.send(data);
  }

  onData(handler: (data: Uint8Array) => void): void {
    this.dataHandlers.push(handler);
  }

  /** The session ended: close_notify, a fatal alert, `close()`. */
  onClose(handler: (error: DtlsError) => void): void {
    if (this.closeError !== undefined) handler(this.closeError);
    else this.closeHandlers.push(handler);
  }

  /** @internal */
  emitData(data: Uint8Array): void {
    for (const h of this.dataHandlers) h(data);
  }

  /** @internal */
  emitClose(error: DtlsError): void {
    this.closeError = error;
    for (const h of this.closeHandlers) h(error);
    this.closeHandlers = [];
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  /**
   * Moves to a new local UDP port, as a NAT rebinding would; with a Connection ID the server keeps the
   * session (RFC 9146 §6). Resolves when the new socket is bound.
   */
  async rebind(): Promise<void> {
    const next = createSocket(this.type);
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.bind(0, () => {
        next.off('error', reject);
        resolve();
      });
    });
    const old = this.socket;
    this.socket = next;
    attach(next, this.connection, this.remote);
    old.close();
  }

  /** @internal */
  sendDatagram(d: Uint8Array): void {
    if (this.connection.closed && this.closeError !== undefined) return;
    this.socket.send(d, this.remote.port, this.remote.address);
  }

  /** Sends close_notify and closes the socket. */
  async close(): Promise<void> {
    this.connection.close();
  }
}

function attach(socket: Socket, connection: Connection, remote: { address: string; port: number }): void {
  socket.on('message', (msg, rinfo) => {
    if (rinfo.address !== remote.address || rinfo.port !== remote.port) return;
    connection.receive(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
  });
  socket.on('error', () => {
    // ICMP errors surface as socket errors; the handshake timeout or retransmission handles them.
  });
}

/** Opens a DTLS session to `host:port`. Rejects with a `DtlsError` (reason says why) and leaks nothing on failure. */
export async function connect(options: DtlsConnectOptions): Promise<DtlsClient> {
  if (options.signal?.aborted) throw new DtlsError('aborted', 'aborted before connecting');
  const address = isIP(options.host) !== 0 ? options.host : (await lookup(options.host)).address;
  const type = isIP(address) === 6 ? 'udp6' : 'udp4';
  const socket = createSocket(type);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.localPort ?? 0, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const remote = { address, port: options.port };
  let client: DtlsClient | undefined;
  return new Promise<DtlsClient>((resolve, reject) => {
    let settled = false;
    const onAbort = () => connection.abort(new DtlsError('aborted', 'DTLS handshake aborted'));
    const pending: Uint8Array[] = [];
    const connection = Connection.client(
      {
        ...options,
        crypto: options.crypto ?? nodeCrypto,
        clock: options.clock ?? systemClock,
        handshakeTimeoutMs: options.timeoutMs ?? 10_000,
      },
      {
        send: (d) => {
          if (client !== undefined) client.sendDatagram(d);
          else pending.push(d);
        },
        onConnected: () => {
          settled = true;
          options.signal?.removeEventListener('abort', onAbort);
          resolve(client!);
        },
        onData: (d) => client?.emitData(d),
        onClose: (error) => {
          options.signal?.removeEventListener('abort', onAbort);
          if (!settled) {
            settled = true;
            try {
              socket.close();
            } catch {
              // already closed
            }
            reject(error);
            return;
          }
          client?.emitClose(error);
        },
      },
    );
    client = new DtlsClient(socket, connection, remote, type);
    attach(socket, connection, remote);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    for (const d of pending) client.sendDatagram(d);
  });
}
