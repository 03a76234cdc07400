/**
 * The public types the client's parts share (events, streamed writes): a leaf module of client/ (see
 * docs/ARCHITECTURE.md, "lwm2m").
 */
import type { Peer } from '@thimble/coap-core';
import type { Lwm2mPath } from '../model/path.js';

/** What a streamed write's block comes with (see `Lwm2mClient.streamWrites`). */
export interface StreamedWriteInfo {
  /** PUT (replace) or POST. */
  readonly method: 'PUT' | 'POST';
  readonly contentFormat: number | undefined;
  /** Size1 of the first block: the whole body's size, when the server said it (RFC 7959 §4). */
  readonly size: number | undefined;
  readonly peer: Peer;
}

/**
 * A resource that takes Block1 writes block by block instead of reassembled (e.g. the Package resource
 * /5/0/0 of Firmware Update): the image never sits whole in memory.
 */
export interface ResourceStream {
  /**
   * One block of a Block1 Write, in order: `offset` 0 starts a transfer (a new one replaces an unfinished
   * one), `more` false ends it. Resolving answers 2.31 Continue (2.04 Changed after the last block);
   * throwing an `Lwm2mClientError` answers its code (e.g. 4.13 when out of space) and ends the transfer.
   */
  block(chunk: Uint8Array, offset: number, more: boolean, info: StreamedWriteInfo): void | Promise<void>;
}

/** One served operation, for logging (the `lwm2m client` command prints these). */
export interface OperationEvent {
  readonly operation: string;
  readonly path: string;
  /** Response code, `2.05` style. */
  readonly code: string;
  readonly detail?: string;
}

export type Lwm2mClientEvents = {
  /** Registered with one server (its Short Server ID second). */
  registered: (location: string, shortServerId: number) => void;
  updated: (shortServerId: number) => void;
  deregistered: (shortServerId: number) => void;
  /** Queue mode: the client went quiet / woke up with an Update (Core §6.5). */
  sleeping: () => void;
  awake: () => void;
  /**
   * A server's registration failed for good (retries exhausted) and its Server instance asks for a
   * bootstrap then (/1/x/16 Bootstrap on Registration Failure, true by default): the bootstrap code
   * listens to this.
   */
  bootstrapRequired: (shortServerId: number) => void;
  /**
   * A server rejected Register at LwM2M version `from` (answer `code`, e.g. `4.12`, or a bare `4.00`):
   * the client registers again at once at `to` (Core §6.2.1, version fallback).
   */
  versionFallback: (from: string, to: string, code: string, shortServerId: number) => void;
  /** Errors of registration (with the server's Short Server ID) and of the client. */
  error: (error: Error, shortServerId?: number) => void;
  operation: (event: OperationEvent) => void;
  /** Written by the server (Write, Create, Write-Composite): path of the changed resource or instance. */
  changed: (path: Lwm2mPath) => void;
  /** A Bootstrap-Request goes to the bootstrap server (Core §6.1.3). */
  bootstrapStarted: (serverUri: string) => void;
  /** Bootstrap-Finish accepted: registration with the bootstrapped server follows. */
  bootstrapped: () => void;
  /** A bootstrap failed; the next one starts in `retryIn` ms (undefined: the client gave up). */
  bootstrapFailed: (error: Error, retryIn: number | undefined) => void;
};
