/**
 * Client requests at the top of the stack (docs/ARCHITECTURE.md, coap-core): a `RequestOptions` becomes
 * a prepared request (URI, options, timeout, security), each exchange of it goes down the stack as a
 * `ClientExchange` with a fresh token; bodies larger than a block go through Block-wise (`blockwise/
 * client.ts`), and a 4.01 with Echo is answered once (RFC 9175 §2.4). Group requests (RFC 7252 §8.1) and
 * CoAP ping (§4.3) live here too.
 */
import { type BlockRequests, BlockwiseClient } from '../blockwise/client.js';
import { CoapRequestError } from '../errors.js';
import { encodeBlock, sizeToSzx } from '../message/block.js';
import { Code, isRequestCode } from '../message/constants.js';
import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import { CoapResponse } from '../message/response.js';
import type { CoapOptionInit } from '../message/types.js';
import { parseUri, uriToOptions } from '../message/uri.js';
import type { MessageLayer, OutgoingMessage } from '../messaging/message-layer.js';
import { maxTransmitWait, nonLifetime } from '../messaging/parameters.js';
import type { Random } from '../random.js';
import type { ClientSecurity } from '../security/types.js';
import { METHOD_CODES } from '../server/router.js';
import type { ClientExchange } from '../stack/exchange.js';
import type { Layer, StackState } from '../stack/layer.js';
import type { Matcher } from '../stack/matcher.js';
import type { Peer, Transport } from '../transport/types.js';
import { toBytes } from '../util/pool.js';
import type { Prepared, RequestOptions } from './options.js';

/** Whether a message carries an Echo option (RFC 9175 §2.2.1). */
function hasEcho(options: readonly CoapOptionInit[]): boolean {
  return options.some((o) => o.number === OptionNumber.Echo);
}

/** RFC 9175 §2.4: a 4.01 with an Echo option asks the client to repeat the request with that Echo value. */
export function echoChallenge(response: CoapMessage): Uint8Array | undefined {
  if (response.code !== Code.Unauthorized) return undefined;
  return response.getOption(OptionNumber.Echo);
}

export class ClientRequests implements BlockRequests {
  readonly blockwise: BlockwiseClient;

  constructor(
    private readonly transport: Transport,
    readonly matcher: Matcher,
    /** Where requests enter the stack going down (the top of the exchange layers). */
    private readonly entry: Layer,
    readonly messaging: MessageLayer,
    private readonly blockSize: number,
    private readonly clientSecurity: ClientSecurity | undefined,
    random: Random,
    private readonly state: StackState,
  ) {
    this.blockwise = new BlockwiseClient(this, matcher, random);
  }

  async prepare(options: RequestOptions): Promise<Prepared> {
    if (options.uri === undefined) return this.prepareFor(options, undefined);
    const u = this.parseRequestUri(options.uri);
    const peer =
      options.peer ??
      (this.transport.resolve
        ? await this.transport.resolve(u.host, u.port)
        : { address: u.host, port: u.port });
    return this.prepareFor(options, { uri: u, peer });
  }

  private parseRequestUri(uri: string): ReturnType<typeof parseUri> {
    if (this.state.closed) throw new CoapRequestError('closed', 'endpoint is closed');
    let u: ReturnType<typeof parseUri>;
    try {
      u = parseUri(uri);
    } catch (e) {
      throw new CoapRequestError('invalid-request', (e as Error).message, { cause: e });
    }
    if (u.scheme !== this.transport.scheme) {
      throw new CoapRequestError(
        'invalid-request',
        `this endpoint speaks ${this.transport.scheme}://, not ${u.scheme}://`,
      );
    }
    return u;
  }

  /** Builds a request; `target` is its parsed URI with the peer it resolved to, when it has a URI. */
  prepareFor(
    options: RequestOptions,
    target: { readonly uri: ReturnType<typeof parseUri>; readonly peer: Peer } | undefined,
  ): Prepared {
    if (this.state.closed) throw new CoapRequestError('closed', 'endpoint is closed');
    const method = options.method ?? 'GET';
    const code = typeof method === 'number' ? method : METHOD_CODES[method];
    if (code === undefined || !isRequestCode(code)) {
      throw new CoapRequestError('invalid-request', `unknown method ${String(method)}`);
    }
    let peer: Peer;
    const opts: CoapOptionInit[] = [];
    if (options.uri !== undefined) {
      const u = target?.uri ?? this.parseRequestUri(options.uri);
      peer = target?.peer ?? options.peer ?? { address: u.host, port: u.port };
      for (const o of uriToOptions(u, peer.port)) opts.push(o);
    } else if (options.peer !== undefined) {
      peer = options.peer;
      const path = options.path ?? [];
      const segments = typeof path === 'string' ? path.split('/').filter((s) => s !== '') : path;
      for (const s of segments) opts.push({ number: OptionNumber.UriPath, value: s });
      for (const q of options.query ?? []) opts.push({ number: OptionNumber.UriQuery, value: q });
    } else {
      throw new CoapRequestError('invalid-request', 'a request needs a uri or a peer');
    }
    if (options.contentFormat !== undefined) {
      opts.push({ number: OptionNumber.ContentFormat, value: options.contentFormat });
    }
    if (options.accept !== undefined) opts.push({ number: OptionNumber.Accept, value: options.accept });
    if (options.options !== undefined) for (const o of options.options) opts.push(o);
    const confirmable = options.confirmable ?? true;
    const timeout =
      options.timeout ??
      (confirmable
        ? maxTransmitWait(this.messaging.parameters) + this.messaging.parameters.processingDelay
        : nonLifetime(this.messaging.parameters));
    const blockSize = options.blockSize ?? this.blockSize;
    try {
      sizeToSzx(blockSize);
    } catch (e) {
      throw new CoapRequestError('invalid-request', (e as Error).message);
    }
    return {
      code,
      peer,
      options: opts,
      payload: toBytes(options.payload),
      confirmable,
      timeout,
      signal: options.signal,
      blockSize,
      earlyBlock2: options.blockSize !== undefined,
      maxBodySize: options.maxBodySize ?? 16 * 1024 * 1024,
      onBlock: options.onBlock,
      security: options.security === null ? undefined : (options.security ?? this.clientSecurity),
    };
  }

  /**
   * Sends a request and resolves with the response, running Block1 / Block2 transfers transparently
   * (RFC 7959). Rejects with `CoapRequestError` when no response comes.
   */
  request(options: RequestOptions): Promise<CoapResponse> {
    // by peer (no URI to resolve) the request is built at once: one promise and microtask less
    if (options.uri === undefined) {
      let p: Prepared;
      try {
        p = this.prepareFor(options, undefined);
      } catch (e) {
        return Promise.reject(e);
      }
      return this.requestPrepared(p);
    }
    return this.prepare(options).then((p) => this.requestPrepared(p));
  }

  async requestPrepared(p: Prepared): Promise<CoapResponse> {
    let response: CoapResponse;
    let tag: Uint8Array | undefined;
    if (p.payload !== undefined && p.payload.length > p.blockSize) {
      tag = this.blockwise.requestTag();
      response = await this.blockwise.upload(p, tag);
    } else {
      const extra: CoapOptionInit[] = [];
      if (p.earlyBlock2 && (p.code === Code.GET || p.code === Code.FETCH)) {
        extra.push({
          number: OptionNumber.Block2,
          value: encodeBlock({ num: 0, more: false, szx: sizeToSzx(p.blockSize) }),
        });
      }
      response = await this.single(p, extra, p.payload);
    }
    return this.blockwise.download(p, response, tag);
  }

  /** One request/response exchange with a fresh token. */
  single(
    p: Prepared,
    extra: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
  ): Promise<CoapResponse> {
    if (this.matcher.size >= this.matcher.maxPending) return Promise.reject(this.matcher.queueFull());
    const options = extra.length === 0 ? p.options : [...p.options, ...extra];
    return this.send(p, options, payload).then((r) => this.echoRetry(p, options, payload, r) ?? r);
  }

  send(
    p: Prepared,
    options: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
  ): Promise<CoapResponse> {
    return this.exchange(
      { code: p.code, token: this.matcher.newToken(), options, payload },
      p.peer,
      p.confirmable,
      p.timeout,
      p.signal,
      undefined,
      undefined,
      p.security,
    );
  }

  /**
   * RFC 9175 §2.4 / RFC 8613 Appendix B.1.2: a 4.01 with Echo is answered once by repeating the request
   * (protected anew) with the Echo value, e.g. after an OSCORE server lost its replay window. Returns the
   * repeated exchange, or undefined when `r` is the answer.
   */
  echoRetry(
    p: Prepared,
    options: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
    r: CoapResponse,
  ): Promise<CoapResponse> | undefined {
    const echo = echoChallenge(r.message);
    if (echo === undefined || hasEcho(options)) return undefined;
    return this.send(p, [...options, { number: OptionNumber.Echo, value: echo.slice() }], payload);
  }

  /** One exchange: `message` goes down the stack; resolves with its response. */
  exchange(
    message: OutgoingMessage,
    peer: Peer,
    confirmable: boolean,
    timeout: number,
    signal: AbortSignal | undefined,
    observe?: ClientExchange['observe'],
    group?: ClientExchange['group'],
    security?: ClientSecurity,
  ): Promise<CoapResponse> {
    return this.matcher.exchange(
      this.entry,
      message,
      peer,
      confirmable,
      timeout,
      signal,
      observe,
      group,
      security,
    );
  }

  /**
   * CoAP ping (RFC 7252 §4.3): an Empty Confirmable message that a live peer answers with a Reset.
   * Resolves true on the Reset, false if the peer never answers.
   */
  ping(peer: Peer): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.messaging.send({ code: Code.Empty }, peer, true, {
        onReset: () => resolve(true),
        onAck: () => resolve(true),
        onTimeout: () => resolve(false),
      });
    });
  }

  /**
   * Sends a Non-confirmable request to a group address (RFC 7252 §8.1) and collects every response
   * that arrives within `window` ms.
   */
  async groupRequest(options: RequestOptions & { window?: number }): Promise<CoapResponse[]> {
    const p = await this.prepare({ ...options, confirmable: false });
    if (p.security !== undefined) {
      // a pairwise security context cannot protect a group request (that needs Group OSCORE)
      throw new CoapRequestError(
        'invalid-request',
        'group requests cannot be protected; pass security: null to send one unprotected',
      );
    }
    const responses: CoapResponse[] = [];
    await this.exchange(
      { code: p.code, token: this.matcher.newToken(), options: p.options, payload: p.payload },
      p.peer,
      false,
      options.window ?? 2_000,
      p.signal,
      undefined,
      (message, peer) => {
        responses.push(new CoapResponse(message, peer));
      },
    );
    return responses;
  }
}
