/**
 * A request as a server handler sees it, and what a handler answers (docs/ARCHITECTURE.md, coap-core:
 * the server dispatch at the top of the stack).
 */
import { Code } from '../message/constants.js';
import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import type { CoapOptionInit } from '../message/types.js';
import type { SecurityIdentity } from '../security/types.js';
import type { Peer } from '../transport/types.js';
import { bytesEqual, utf8Decode } from '../util/bytes.js';

/** A request as a server handler sees it. */
export class CoapRequest {
  private queryList: string[] | undefined;
  constructor(
    readonly message: CoapMessage,
    readonly peer: Peer,
    readonly path: readonly string[],
    readonly params: Readonly<Record<string, string>>,
    private readonly body?: Uint8Array,
    /** Set when the request came protected (e.g. OSCORE) and verified: the authenticated peer. */
    readonly security?: SecurityIdentity,
  ) {}
  get method(): number {
    return this.message.code;
  }
  /** The request body (reassembled for Block1 transfers). */
  get payload(): Uint8Array {
    return this.body ?? this.message.payload;
  }
  get contentFormat(): number | undefined {
    return this.message.getUint(OptionNumber.ContentFormat);
  }
  get accept(): number | undefined {
    return this.message.getUint(OptionNumber.Accept);
  }
  /** The Observe option of the request (0 register, 1 deregister), if any. */
  get observe(): number | undefined {
    return this.message.getUint(OptionNumber.Observe);
  }
  get query(): readonly string[] {
    if (this.queryList === undefined) this.queryList = this.message.getStrings(OptionNumber.UriQuery);
    return this.queryList;
  }
  /** The value of `name=value` in the query, `''` for a bare `name`, undefined if absent. */
  queryParam(name: string): string | undefined {
    for (const q of this.query) {
      const eq = q.indexOf('=');
      if (eq < 0 ? q === name : q.slice(0, eq) === name) return eq < 0 ? '' : q.slice(eq + 1);
    }
    return undefined;
  }
  text(): string {
    return utf8Decode(this.payload);
  }
  /** The ETags of a GET / FETCH that asks whether its stored representations are still valid (RFC 7252 §5.10.6.2). */
  get etags(): Uint8Array[] {
    return this.message.getOptions(OptionNumber.ETag);
  }
  /** If-Match values (RFC 7252 §5.10.8.1): an empty one matches any current representation. */
  get ifMatch(): Uint8Array[] {
    return this.message.getOptions(OptionNumber.IfMatch);
  }
  /** If-None-Match is present (RFC 7252 §5.10.8.2): the request applies only if the resource does not exist. */
  get ifNoneMatch(): boolean {
    return this.message.hasOption(OptionNumber.IfNoneMatch);
  }

  /**
   * The answer the conditions of this request call for, given the resource's current state, or undefined
   * when the handler should go on: 4.12 Precondition Failed when If-Match names no current representation
   * or If-None-Match finds one (RFC 7252 §5.10.8), 2.03 Valid (with the ETag) when a GET or FETCH names
   * the current ETag (§5.10.6.2, §5.9.1.3).
   */
  checkConditions(current: ResourceState): ResponseInit | undefined {
    const etag = current.exists ? current.etag : undefined;
    const ifMatch = this.ifMatch;
    if (ifMatch.length > 0) {
      const ok =
        current.exists && ifMatch.some((v) => v.length === 0 || (etag !== undefined && bytesEqual(v, etag)));
      if (!ok) return { code: Code.PreconditionFailed };
    }
    if (this.ifNoneMatch && current.exists) return { code: Code.PreconditionFailed };
    const method = this.method;
    if ((method === Code.GET || method === Code.FETCH) && etag !== undefined) {
      if (this.etags.some((v) => bytesEqual(v, etag))) return { code: Code.Valid, etag };
    }
    return undefined;
  }
}

/** A resource's state for `CoapRequest.checkConditions`: whether it exists, and its current ETag. */
export interface ResourceState {
  readonly exists: boolean;
  readonly etag?: Uint8Array;
}

/** What a handler returns. */
export interface ResponseInit {
  readonly code: number;
  readonly payload?: Uint8Array | string;
  readonly contentFormat?: number;
  readonly maxAge?: number;
  readonly etag?: Uint8Array;
  /**
   * Extra options. With a Block2 option the handler serves that block of its representation itself (the
   * payload is the block): the endpoint sends it as it is and keeps no snapshot (RFC 7959 §2.4).
   */
  readonly options?: readonly CoapOptionInit[];
}

export type Handler = (request: CoapRequest) => ResponseInit | Promise<ResponseInit>;

/** Receives a Block1 body block by block instead of having it reassembled in memory. */
export type BlockSink = (
  request: CoapRequest,
  chunk: Uint8Array,
  offset: number,
  more: boolean,
) => void | Promise<void>;

export interface RouteOptions {
  /** Content-Formats the handler accepts in request payloads; others get 4.15 (RFC 7252 §5.10.3). */
  readonly accepts?: readonly number[];
  /** Link attributes for `/.well-known/core` (rt, if, ct, obs, title, ...). Omit to hide the resource. */
  readonly link?: Readonly<Record<string, string | number | true | readonly string[]>>;
  /**
   * GET (and FETCH, RFC 8132 §2.4) on this route may register observers (RFC 7641); `notify(path)` sends
   * them the new state.
   */
  readonly observable?: boolean;
  /** Largest request body for this route (4.13 with Size1 beyond it). */
  readonly maxBodySize?: number;
  /** Streams Block1 bodies to this sink; the handler then sees an empty payload (RFC 7959 §2.5). */
  readonly blockSink?: BlockSink;
  /**
   * Only OSCORE-protected requests reach the handler; others get 4.01 Unauthorized (RFC 8613 §8.2 allows
   * a server to require OSCORE for a resource).
   */
  readonly requireOscore?: boolean;
  /**
   * Answer with a separate response (RFC 7252 §5.2.2): a Confirmable request is acknowledged with an
   * Empty ACK before the handler runs, and the response follows in a message of its own. Without it the
   * response is piggybacked when the handler answers in time.
   */
  readonly separate?: boolean;
  /**
   * The resources a route with parameters (`/sensors/:id`) serves, as paths (`/sensors/1`), listed in
   * `/.well-known/core` with the route's `link` attributes (RFC 6690 §4). A route with parameters and no
   * `linkTargets` is not listed: its pattern is not a URI.
   */
  readonly linkTargets?: () => readonly string[];
}

export interface RouteEntry {
  readonly handler: Handler;
  readonly options: RouteOptions;
}

/** The options a handler's response asks for (ETag, Content-Format, Max-Age, extra), after `first`. */
export function responseOptions(response: ResponseInit, first: CoapOptionInit[]): CoapOptionInit[] {
  const options = first;
  if (response.etag !== undefined) options.push({ number: OptionNumber.ETag, value: response.etag });
  if (response.contentFormat !== undefined) {
    options.push({ number: OptionNumber.ContentFormat, value: response.contentFormat });
  }
  if (response.maxAge !== undefined) options.push({ number: OptionNumber.MaxAge, value: response.maxAge });
  if (response.options !== undefined) for (const o of response.options) options.push(o);
  return options;
}
