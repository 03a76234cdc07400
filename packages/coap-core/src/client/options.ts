/** What a client request asks for (docs/ARCHITECTURE.md, coap-core: client requests at the top of the stack). */
import type { CoapOptionInit } from '../message/types.js';
import type { ClientSecurity } from '../security/types.js';
import type { Method } from '../server/router.js';
import type { Peer } from '../transport/types.js';

export interface RequestOptions {
  /** Method name or code (default GET). */
  readonly method?: Method | number;
  /** Absolute URI; alternatively `peer` plus `path` / `query` / `options`. */
  readonly uri?: string;
  readonly peer?: Peer;
  readonly path?: string | readonly string[];
  readonly query?: readonly string[];
  /**
   * Extra options (added after those from the URI). A Block2 option here asks for that one block (RFC 7959
   * §2.4, e.g. to resume a download): the response comes back as it is, without fetching further blocks.
   */
  readonly options?: readonly CoapOptionInit[];
  readonly payload?: Uint8Array | string;
  /** Confirmable (default) or Non-confirmable. */
  readonly confirmable?: boolean;
  readonly accept?: number;
  readonly contentFormat?: number;
  readonly signal?: AbortSignal;
  /** Milliseconds to wait for each response (default: MAX_TRANSMIT_WAIT for CON, NON_LIFETIME for NON). */
  readonly timeout?: number;
  /** Block size for this request (16–1024); also asks the server for it early (RFC 7959 §2.4). */
  readonly blockSize?: number;
  /** Largest response body reassembled from Block2 (default 16 MiB). */
  readonly maxBodySize?: number;
  /** Called for each block of a Block-wise transfer, in order (progress, streaming). */
  readonly onBlock?: (progress: BlockProgress) => void;
  /**
   * Protects this request (every block and retry) and verifies its responses, e.g. `oscoreClient(ctx)`;
   * `null` sends it unprotected even when the endpoint has a `clientSecurity`. A response that is not
   * protected or fails verification rejects the request with a `CoapRequestError` of reason 'security'.
   */
  readonly security?: ClientSecurity | null;
}

export interface BlockProgress {
  readonly direction: 'upload' | 'download';
  readonly offset: number;
  readonly data: Uint8Array;
  readonly more: boolean;
  /** Total size when known (Size1 / Size2). */
  readonly total: number | undefined;
}

/** A request built from its `RequestOptions`, as the client layers work on it. */
export interface Prepared {
  readonly code: number;
  readonly peer: Peer;
  readonly options: CoapOptionInit[];
  readonly payload: Uint8Array | undefined;
  readonly confirmable: boolean;
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
  readonly blockSize: number;
  readonly earlyBlock2: boolean;
  readonly maxBodySize: number;
  readonly onBlock: ((p: BlockProgress) => void) | undefined;
  readonly security: ClientSecurity | undefined;
}
