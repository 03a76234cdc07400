/**
 * Devices with the Firmware Update object on the in-memory network of the server harness, and a sink that
 * hashes what it receives (so tests check images byte for byte without keeping them).
 */
import { createHash, type Hash } from 'node:crypto';
import {
  type FirmwareDownloadInfo,
  FirmwareOutOfSpaceError,
  type FirmwareSink,
  type FirmwareUpdate,
  type FirmwareUpdateOptions,
  installFirmwareUpdate,
  type Lwm2mClient,
  type Lwm2mClientOptions,
} from '@thimble/lwm2m';
import type { ServerSetup } from '../server/harness.js';

export class HashingSink implements FirmwareSink {
  /** Chunk sizes of the current download. */
  chunks: number[] = [];
  received = 0;
  begun: FirmwareDownloadInfo[] = [];
  aborted: string[] = [];
  /** SHA-256 (hex) of the last download that finished. */
  finished: string | undefined;
  /** Throws FirmwareOutOfSpaceError beyond this many bytes. */
  capacity: number | undefined;
  private hash: Hash = createHash('sha256');

  begin(info: FirmwareDownloadInfo): void {
    this.begun.push(info);
    this.hash = createHash('sha256');
    this.received = 0;
    this.chunks = [];
    if (this.capacity !== undefined && info.size !== undefined && info.size > this.capacity)
      throw new FirmwareOutOfSpaceError();
  }

  write(chunk: Uint8Array, offset: number): void {
    if (offset !== this.received) throw new Error(`chunk at ${offset}, expected ${this.received}`);
    if (this.capacity !== undefined && offset + chunk.length > this.capacity)
      throw new FirmwareOutOfSpaceError();
    this.hash.update(chunk);
    this.chunks.push(chunk.length);
    this.received += chunk.length;
  }

  finish(): void {
    this.finished = this.hash.digest('hex');
  }

  abort(reason: string): void {
    this.aborted.push(reason);
  }
}

export const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** A deterministic image of `n` bytes. */
export const image = (n: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + (i >> 9) * 7) & 0xff);

export interface FwDevice {
  client: Lwm2mClient;
  fw: FirmwareUpdate;
  sink: HashingSink;
  installs: string[];
}

/** A harness device (dev<n>) with the firmware object; install reports version `2.0.0`. */
export function fwDevice(
  s: ServerSetup,
  n: number,
  options: Partial<FirmwareUpdateOptions> = {},
  clientOptions: Partial<Lwm2mClientOptions> = {},
): FwDevice {
  const client = s.device(n, clientOptions);
  const sink = new HashingSink();
  const installs: string[] = [];
  const fw = installFirmwareUpdate(client, {
    sink,
    install: async (pkg) => {
      installs.push(pkg.sha256);
      return { version: '2.0.0' };
    },
    clock: s.clock,
    pushTimeout: 30_000,
    pullRetryDelay: 1000,
    ...options,
  });
  return { client, fw, sink, installs };
}
