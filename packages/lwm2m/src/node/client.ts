/**
 * Node adapters of the LwM2M client: transports towards its servers (UDP for `coap://`, DTLS for
 * `coaps://` with a pre-shared key, a raw public key or a certificate, on @thimble/dtls) and the file
 * store of its state.
 */

import { X509Certificate } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Transport } from '@thimble/coap-core';
import { DtlsClientTransport, type DtlsClientTransportOptions, UdpTransport } from '@thimble/coap-core/node';
import type { SequenceNumberStore } from '@thimble/oscore';
import { FileSequenceStore } from '@thimble/oscore/node';
import {
  type DtlsKeys,
  SecurityMode,
  type ServerTransportFactory,
  type ServerTransportRequest,
} from '../client/registration/servers.js';
import type { ClientState, ClientStateStore } from '../client/state/state.js';

export interface NodeServerTransportOptions {
  /** Local address for UDP sockets (default: any). */
  readonly address?: string;
  /** Local port for the first UDP socket (default: ephemeral). Later sockets take ephemeral ports. */
  readonly port?: number;
  /** DTLS handshake timeout, ms (default 5,000). */
  readonly handshakeTimeout?: number;
  /** Offer a DTLS Connection ID (RFC 9146), so a NAT rebinding keeps the session (default true). */
  readonly connectionId?: boolean;
}

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * DTLS options for Security Modes RPK and Certificate (TS Core 1.1 §7.1.2, §7.1.3): our key, and trust in
 * exactly the server key (RPK) or in a chain that ends in /0/x/4 or was issued by it (Certificate).
 */
export function dtlsKeyOptions(mode: number, keys: DtlsKeys): DtlsClientTransportOptions {
  if (mode === SecurityMode.RawPublicKey) {
    return {
      ecdsa: { privateKey: keys.privateKey, publicKey: keys.own },
      trustedPublicKeys: [keys.server],
    };
  }
  const own = new X509Certificate(keys.own);
  return {
    ecdsa: {
      privateKey: keys.privateKey,
      publicKey: u8(own.publicKey.export({ format: 'der', type: 'spki' }) as Buffer),
      certificateChain: [keys.own],
    },
    // the server's chain must end in /0/x/4 or be signed by it
    trustAnchors: [keys.server],
  };
}

/**
 * The client's transport factory on Node: a UDP socket for `coap://` servers (NoSec, OSCORE), a DTLS
 * session with the account's PSK for `coaps://` servers (Security Mode 0).
 */
export function nodeServerTransports(options: NodeServerTransportOptions = {}): ServerTransportFactory {
  let portUsed = false;
  return async (request: ServerTransportRequest): Promise<Transport> => {
    if (request.scheme === 'coaps') {
      const common = {
        handshakeTimeout: options.handshakeTimeout,
        connectionId: options.connectionId ?? true,
      };
      const mode = request.securityMode ?? SecurityMode.PreSharedKey;
      if (mode === SecurityMode.PreSharedKey) {
        if (request.psk === undefined)
          throw new Error(`server ${request.account.shortServerId}: coaps:// needs a PSK identity and key`);
        return new DtlsClientTransport({ ...common, psk: request.psk });
      }
      if (request.keys === undefined)
        throw new Error(`server ${request.account.shortServerId}: Security Mode ${mode} needs its keys`);
      return new DtlsClientTransport({ ...common, ...dtlsKeyOptions(mode, request.keys) });
    }
    const port = portUsed ? 0 : (options.port ?? 0);
    portUsed = true;
    const family = request.host.includes(':') ? 6 : 4;
    return UdpTransport.bind({
      address: options.address,
      port,
      family: options.address ? undefined : family,
    });
  };
}

/**
 * Keeps the client's state in a directory: `state.json` (bootstrap result and registrations, written to a
 * temporary file, fsynced and renamed over the old one) and one `oscore-*.json` sequence file per OSCORE
 * context (aiocoap's sequence format, RFC 8613 Appendix B.1.1).
 */
export class FileClientStateStore implements ClientStateStore {
  readonly file: string;

  constructor(readonly directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    this.file = join(directory, 'state.json');
  }

  load(): ClientState | undefined {
    if (!existsSync(this.file)) return undefined;
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as ClientState;
    if (parsed === null || typeof parsed !== 'object' || parsed.format !== 1)
      throw new Error(`${this.file}: not a client state (format 1)`);
    return parsed;
  }

  save(state: ClientState): void {
    const tmp = join(this.directory, `.state-${process.pid}.json`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(state, null, 1)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }

  sequenceStore(name: string): SequenceNumberStore {
    return new FileSequenceStore(join(this.directory, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}.json`));
  }
}
