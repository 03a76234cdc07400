/**
 * The server dispatch at the top of the stack (docs/ARCHITECTURE.md, coap-core): routes a request on
 * method and path to its handler, answers 4.02 / 4.04 / 4.05 / 4.01 / 4.15 itself (RFC 7252 §5.4.1,
 * §5.8, §5.10.3; RFC 8613 §8.2) and generates `/.well-known/core` (RFC 6690). A handler's response goes
 * down through Observe (registration) and Block-wise (blocks) to the `Responder`.
 */

import type { BlockwiseDispatch, BlockwiseServer } from '../blockwise/server.js';
import { CoapStatusError } from '../errors.js';
import { filterLinks, formatLinkFormat, type Link, type LinkAttribute } from '../link-format/index.js';
import { Code } from '../message/constants.js';
import { ContentFormat } from '../message/content-formats.js';
import type { CoapMessage } from '../message/decode.js';
import { isCritical, OptionNumber, optionName } from '../message/options.js';
import type { InboundExchange } from '../messaging/message-layer.js';
import type { ObserveServer } from '../observe/server.js';
import { identityOf } from '../security/layer.js';
import type { RequestReceiver } from '../stack/layer.js';
import {
  CoapRequest,
  type Handler,
  type ResponseInit,
  type RouteEntry,
  type RouteOptions,
} from './request.js';
import type { Responder } from './responder.js';
import { type CompiledRoute, METHOD_CODES, type Method, type RouteMatch, Router } from './router.js';

/** Critical options the server understands by itself (RFC 7252 §5.4.1). */
const UNDERSTOOD_CRITICAL = new Set<number>([
  OptionNumber.IfMatch,
  OptionNumber.UriHost,
  OptionNumber.IfNoneMatch,
  OptionNumber.UriPort,
  OptionNumber.UriPath,
  OptionNumber.UriQuery,
  OptionNumber.Accept,
  OptionNumber.Block1,
  OptionNumber.Block2,
]);
const SINGLE_CRITICAL = new Set<number>([
  OptionNumber.UriHost,
  OptionNumber.IfNoneMatch,
  OptionNumber.UriPort,
  OptionNumber.Accept,
  OptionNumber.Block1,
  OptionNumber.Block2,
]);

function linkAttributes(link: NonNullable<RouteOptions['link']>): LinkAttribute[] {
  const out: LinkAttribute[] = [];
  for (const [name, v] of Object.entries(link)) {
    if (v === true) out.push({ name, value: true });
    else if (Array.isArray(v)) out.push({ name, value: v.join(' ') });
    else out.push({ name, value: String(v) });
  }
  return out;
}

export class ServerDispatch implements RequestReceiver, BlockwiseDispatch {
  private readonly router = new Router<RouteEntry>();
  private readonly understood = new Set(UNDERSTOOD_CRITICAL);
  private readonly linkProviders: (() => Link[])[] = [];
  /** The layers below, for the responses (set when the stack is built). */
  observe!: ObserveServer;
  blockwise!: BlockwiseServer;

  constructor(private readonly responder: Responder) {}

  /** Declares a critical option as understood by a layer (e.g. OSCORE by the security layer). */
  understandOption(number: number): void {
    this.understood.add(number);
  }

  route(method: Method | readonly Method[], pattern: string, handler: Handler, options: RouteOptions): void {
    const methods = typeof method === 'string' ? [method] : method;
    for (const m of methods) {
      const route: CompiledRoute<RouteEntry> = this.router.add(pattern, METHOD_CODES[m], {
        handler,
        options,
      });
      if (options.link !== undefined) {
        route.link = linkAttributes(options.link);
        if (options.observable && !route.link.some((a) => a.name === 'obs'))
          route.link.push({ name: 'obs', value: true });
      }
      if (options.linkTargets !== undefined) route.linkTargets = options.linkTargets;
    }
  }

  addLinkProvider(provider: () => Link[]): void {
    this.linkProviders.push(provider);
  }

  /** The resources `/.well-known/core` lists (RFC 6690 §4): routes with link attributes and no parameters. */
  links(): Link[] {
    const out: Link[] = [];
    for (const r of this.router.all()) {
      if (r.link === undefined || r.wildcard) continue;
      if (r.segments.some((s) => s.startsWith(':'))) {
        // a pattern is not a URI: the route lists the resources it serves, if it says which
        if (r.linkTargets !== undefined)
          for (const t of r.linkTargets())
            out.push({ target: t.startsWith('/') ? t : `/${t}`, attributes: r.link });
        continue;
      }
      out.push({ target: `/${r.segments.join('/')}`, attributes: r.link });
    }
    for (const provider of this.linkProviders) for (const l of provider()) out.push(l);
    return out;
  }

  /** Up: a request no layer below kept (no Block1, no later Block2 block served from a snapshot). */
  receiveRequest(ex: InboundExchange): void {
    const message = ex.message;
    const path = message.getStrings(OptionNumber.UriPath);
    const match = this.resolve(ex, path);
    if (match === undefined) return;
    this.invoke(
      ex,
      new CoapRequest(message, ex.peer, path, match.params, undefined, identityOf(ex)),
      match.route.handlers.get(message.code)!,
      undefined,
    );
  }

  /**
   * The route of a request at `path` whose handler may see it (`route.handlers` has its method), or
   * undefined when it was answered here: 4.02, discovery, 4.04, 4.05, 4.01, 4.15.
   */
  resolve(ex: InboundExchange, path: string[]): RouteMatch<RouteEntry> | undefined {
    const message = ex.message;
    const problem = this.checkOptions(message);
    if (problem !== undefined) {
      this.responder.reply(ex, { code: Code.BadOption, payload: problem });
      return undefined;
    }
    if (path.length === 2 && path[0] === '.well-known' && path[1] === 'core') {
      this.blockwise.respond(ex, this.discovery(message), undefined);
      return undefined;
    }
    const match = this.router.match(path);
    if (match === undefined) {
      this.responder.reply(ex, { code: Code.NotFound });
      return undefined;
    }
    const entry = match.route.handlers.get(message.code);
    if (entry === undefined) {
      this.responder.reply(ex, { code: Code.MethodNotAllowed });
      return undefined;
    }
    if (entry.options.requireOscore === true && identityOf(ex)?.kind !== 'oscore') {
      this.responder.reply(ex, { code: Code.Unauthorized, payload: 'OSCORE required' });
      return undefined;
    }
    const accepts = entry.options.accepts;
    if (accepts !== undefined && message.payloadLength > 0) {
      const cf = message.getUint(OptionNumber.ContentFormat) ?? ContentFormat.OctetStream;
      if (!accepts.includes(cf)) {
        this.responder.reply(ex, { code: Code.UnsupportedContentFormat });
        return undefined;
      }
    }
    return match;
  }

  /** Runs the handler; its response goes down through Observe and Block-wise. */
  invoke(ex: InboundExchange, request: CoapRequest, entry: RouteEntry, block1: number | undefined): void {
    let result: ResponseInit | Promise<ResponseInit>;
    if (entry.options.separate === true && !ex.multicast) ex.acknowledge(); // RFC 7252 §5.2.2
    try {
      result = entry.handler(request);
    } catch (e) {
      this.responder.reply(ex, { code: e instanceof CoapStatusError ? e.code : Code.InternalServerError });
      return;
    }
    if (result !== null && typeof (result as Promise<ResponseInit>).then === 'function') {
      (result as Promise<ResponseInit>).then(
        (r) => this.observe.respond(ex, request, entry, r, block1),
        (e: unknown) =>
          this.responder.reply(ex, {
            code: e instanceof CoapStatusError ? e.code : Code.InternalServerError,
          }),
      );
    } else {
      this.observe.respond(ex, request, entry, result as ResponseInit, block1);
    }
  }

  /** RFC 7252 §5.4.1: an unrecognised or repeated non-repeatable critical option in a request → 4.02. */
  private checkOptions(message: CoapMessage): string | undefined {
    let problem: string | undefined;
    let previous = -1;
    message.forEachOption((n) => {
      if (problem !== undefined || !isCritical(n)) {
        previous = n;
        return;
      }
      if (!this.understood.has(n)) problem = `unrecognized critical option ${optionName(n)} (${n})`;
      else if (n === previous && SINGLE_CRITICAL.has(n)) problem = `repeated option ${optionName(n)}`;
      previous = n;
    });
    return problem;
  }

  private discovery(message: CoapMessage): ResponseInit {
    if (message.code !== Code.GET) return { code: Code.MethodNotAllowed };
    let links = this.links();
    // RFC 6690 §4.1: one query parameter filters the links
    const q = message.getString(OptionNumber.UriQuery);
    if (q !== undefined && q !== '') {
      const eq = q.indexOf('=');
      links = eq < 0 ? [] : filterLinks(links, q.slice(0, eq), q.slice(eq + 1));
    }
    return { code: Code.Content, contentFormat: ContentFormat.LinkFormat, payload: formatLinkFormat(links) };
  }
}
