/**
 * Node adapters of the LwM2M client: transports towards its servers (UDP for `coap://`, DTLS with a
 * pre-shared key for `coaps://`, on node-dtls-client) and the file store of its state.
 */
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
import { DtlsClientTransport, UdpTransport } from '@thimble/coap-core/node';
import type { SequenceNumberStore } from '@thimble/oscore';
import { FileSequenceStore } from '@thimble/oscore/node';
import type { ServerTransportFactory, ServerTransportRequest } from '../client/registration/servers.js';
import type { ClientState, ClientStateStore } from '../client/state/state.js';

export interface NodeServerTransportOptions {
  /** Local address for UDP sockets (default: any). */
  readonly address?: string;
  /** Local port for the first UDP socket (default: ephemeral). Later sockets take ephemeral ports. */
  readonly port?: number;
  /** DTLS handshake timeout, ms (default 5,000). */
  readonly handshakeTimeout?: number;
}

/**
 * The client's transport factory on Node: a UDP socket for `coap://` servers (NoSec, OSCORE), a DTLS
 * session with the account's PSK for `coaps://` servers (Security Mode 0).
 */
export function nodeServerTransports(options: NodeServerTransportOptions = {}): ServerTransportFactory {
  let portUsed = false;
  return async (request: ServerTransportRequest): Promise<Transport> => {
    if (request.scheme === 'coaps') {
      if (request.psk === undefined)
        throw new Error(`server ${request.account.shortServerId}: coaps:// needs a PSK identity and key`);
      return new DtlsClientTransport({ psk: request.psk, handshakeTimeout: options.handshakeTimeout });
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
