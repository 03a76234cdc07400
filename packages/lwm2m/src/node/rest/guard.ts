/**
 * Who may drive the REST API from where (Node only): the checks that keep a web page the operator happens to
 * open from using the API (see SECURITY.md, "The REST API").
 *
 * - **Host allow-list** (against DNS rebinding: a page on `evil.example` whose name is re-pointed at
 *   127.0.0.1 sends `Host: evil.example`): the Host header's name must be `localhost`, `127.0.0.1`, `[::1]`,
 *   the address the API was started on, the IP address the connection arrived at, or a name in
 *   `allowedHosts`; any port. Otherwise 403 `forbidden-host`.
 * - **Origin** (against cross-site request forgery, RFC 6454 §7): a state-changing request (POST, PUT, PATCH,
 *   DELETE) from a browser context of another origin is refused with 403 `forbidden-origin`, i.e. when its
 *   `Origin` is present and neither same-origin (its host equals the Host header) nor in `corsOrigins`, or
 *   when `Sec-Fetch-Site` says `cross-site` / `same-site`. Requests without `Origin` (curl, scripts, the
 *   firmware push command) are not browser cross-site requests and pass.
 * - **Content types**: a cross-origin request from a configured CORS origin must send JSON (or the firmware
 *   image as application/octet-stream): the "simple" types a page can send without a preflight
 *   (text/plain, form types) are accepted only from same-origin pages and non-browser callers (Execute
 *   arguments as text/plain, `curl -d`).
 * - **CORS** (Fetch standard, CORS protocol): only origins listed in `corsOrigins` get
 *   `Access-Control-Allow-Origin` and an answer to their preflight.
 * - **Token beyond loopback**: without a token the API answers only on loopback: `startRestApi` refuses a
 *   non-loopback host (`RestApiConfigError`, `token-required`), and a request that arrives on a non-loopback
 *   local address of an app started otherwise (`app.listen`) gets 403 `token-required`.
 */
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from './errors.js';

export type RestApiConfigErrorReason = 'token-required' | 'invalid-allowed-host' | 'invalid-cors-origin';

/** A REST API configuration that would be unsafe or cannot work; `reason` says which. */
export class RestApiConfigError extends Error {
  override readonly name = 'RestApiConfigError';
  constructor(
    readonly reason: RestApiConfigErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestGuardOptions {
  /** With a token the API may listen beyond loopback. */
  readonly token?: string;
  /** Extra names (or addresses) accepted in the Host header, with or without a port. */
  readonly allowedHosts?: readonly string[];
  /** Origins (`https://console.example:8443`) allowed to call the API cross-origin (CORS). */
  readonly corsOrigins?: readonly string[];
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Content types a page may send cross-site without a CORS preflight (Fetch standard, "CORS-safelisted"). */
const SIMPLE_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

/** True for `localhost`, 127.0.0.0/8 and ::1 (also as an IPv4-mapped address). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** The host name of a Host header value or allow-list entry, lowercased, IPv6 in brackets; undefined if invalid. */
export function hostNameOf(value: string): string | undefined {
  let v = value.trim().toLowerCase();
  if (v === '') return undefined;
  if (isIP(v) === 6) v = `[${v}]`; // a bare IPv6 address (allow-list entry or --host)
  try {
    const url = new URL(`http://${v}`);
    if (url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search !== '')
      return undefined;
    return url.hostname.replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

function refuse(reply: FastifyReply, status: number, error: string, message: string): FastifyReply {
  const body: ErrorBody = { error, message };
  return reply.code(status).send(body);
}

/** The media type of a Content-Type header, lowercased, without parameters. */
function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return header.split(';')[0]!.trim().toLowerCase();
}

/** `scheme://host[:port]` of an Origin header, or undefined for `null` and anything unparseable. */
function parseOrigin(origin: string): URL | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The request policy of one API instance; `startRestApi` adds the bound host. */
export class RequestGuard {
  private readonly hosts = new Set<string>(LOOPBACK_NAMES);
  private readonly origins = new Set<string>();
  readonly hasToken: boolean;

  constructor(options: RequestGuardOptions) {
    this.hasToken = options.token !== undefined;
    for (const entry of options.allowedHosts ?? []) {
      const name = hostNameOf(entry);
      if (name === undefined)
        throw new RestApiConfigError('invalid-allowed-host', `"${entry}" is not a host name or address`);
      this.hosts.add(name);
    }
    for (const entry of options.corsOrigins ?? []) {
      const url = parseOrigin(entry);
      if (url === undefined || url.origin !== entry.replace(/\/$/, '').toLowerCase())
        throw new RestApiConfigError(
          'invalid-cors-origin',
          `"${entry}" is not an origin (scheme://host[:port])`,
        );
      this.origins.add(url.origin);
    }
  }

  /** Called by `startRestApi` with the host it listens on (a wildcard address adds nothing). */
  listeningOn(host: string): void {
    if (host === '0.0.0.0' || host === '::' || host === '[::]') return;
    const name = hostNameOf(host);
    if (name !== undefined) this.hosts.add(name);
  }

  /** Whether a Host header names this API (see the file comment). */
  hostAllowed(host: string | undefined, localAddress: string | undefined): boolean {
    // HTTP/1.0 without Host: not a browser (browsers always send Host), nothing to rebind
    if (host === undefined) return true;
    const name = hostNameOf(host);
    if (name === undefined) return false;
    if (this.hosts.has(name)) return true;
    // an IP literal equal to the address the connection arrived at: the page's origin is this API itself
    if (localAddress === undefined) return false;
    const local = localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress;
    return hostNameOf(local) === name;
  }

  /** Installs the checks as the first `onRequest` hook (before authentication: a preflight has no token). */
  install(app: FastifyInstance): void {
    app.addHook('onRequest', async (req, reply) => this.check(req, reply));
  }

  /**
   * The host and arrival checks of a request: `forbidden-host` for a Host that does not name this API,
   * `token-required` for a connection that arrived off loopback at an API without a token, else undefined.
   */
  admission(
    host: string | undefined,
    localAddress: string | undefined,
  ): 'forbidden-host' | 'token-required' | undefined {
    if (!this.hostAllowed(host, localAddress)) return 'forbidden-host';
    // app.inject has no local address: in-process, like loopback
    if (!this.hasToken && localAddress !== undefined && !isLoopbackHost(localAddress))
      return 'token-required';
    return undefined;
  }

  private check(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const admission = this.admission(req.headers.host, req.socket.localAddress);
    if (admission === 'forbidden-host') {
      return refuse(
        reply,
        403,
        'forbidden-host',
        `Host "${req.headers.host}" is not this API's (add it to allowedHosts / --allowed-host)`,
      );
    }
    if (admission === 'token-required') {
      return refuse(reply, 403, 'token-required', 'without a token the API answers on loopback only');
    }
    const originHeader = req.headers.origin;
    const origin = originHeader === undefined ? undefined : parseOrigin(originHeader);
    const sameOrigin =
      origin !== undefined &&
      req.headers.host !== undefined &&
      hostNameOf(req.headers.host) !== undefined &&
      new URL(`${origin.protocol}//${req.headers.host}`).host === origin.host;
    const corsAllowed = origin !== undefined && !sameOrigin && this.origins.has(origin.origin);
    if (corsAllowed) {
      reply.raw.setHeader('access-control-allow-origin', origin.origin);
      reply.raw.setHeader('access-control-expose-headers', 'location');
    }
    if (this.origins.size > 0) reply.raw.setHeader('vary', 'Origin');

    const method = req.method.toUpperCase();
    if (method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      if (!corsAllowed)
        return refuse(reply, 403, 'forbidden-origin', `origin ${originHeader ?? '(none)'} is not allowed`);
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE')
        .header('access-control-allow-headers', 'authorization, content-type')
        .header('access-control-max-age', '600')
        .send();
    }
    if (!STATE_CHANGING.has(method)) return undefined;
    const site = req.headers['sec-fetch-site'];
    const crossSite =
      (originHeader !== undefined && !sameOrigin) || site === 'cross-site' || site === 'same-site';
    if (crossSite && !corsAllowed) {
      return refuse(
        reply,
        403,
        'forbidden-origin',
        `a state-changing request from ${originHeader ?? `a ${site} page`} is refused (same origin or corsOrigins only)`,
      );
    }
    const type = mediaType(req.headers['content-type']);
    if (corsAllowed && type !== undefined && SIMPLE_TYPES.has(type)) {
      return refuse(
        reply,
        415,
        'unsupported-media-type',
        `a cross-origin request must send application/json, not ${type}`,
      );
    }
    return undefined;
  }
}

const guards = new WeakMap<FastifyInstance, RequestGuard>();

/** Creates the guard of `app` and installs its checks. */
export function guardRestApi(app: FastifyInstance, options: RequestGuardOptions): RequestGuard {
  const guard = new RequestGuard(options);
  guard.install(app);
  guards.set(app, guard);
  return guard;
}

/** The guard `createRestApi` installed on `app`, if any. */
export function guardOf(app: FastifyInstance): RequestGuard | undefined {
  return guards.get(app);
}
