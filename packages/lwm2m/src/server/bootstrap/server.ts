/**
 * The LwM2M bootstrap server (LwM2M TS Core 1.1 §6.1, TS Transport 1.1 §6.1) on a `CoapEndpoint`: it
 * answers the Bootstrap-Request (`POST /bs?ep=NAME[&pct=FORMAT]`) of an endpoint it has a configuration
 * for with 2.04, then runs the bootstrap session towards the device:
 *
 * 1. Bootstrap-Discover on `/` when the configuration asks for it (it tells the LwM2M version and the
 *    instance of the device's bootstrap-server account, which the writes then avoid);
 * 2. Bootstrap-Read of the configured paths (Server and Access Control objects only, LwM2M 1.1);
 * 3. Bootstrap-Delete of `toDelete` (default `/0` and `/1`: the device keeps its bootstrap account);
 * 4. Bootstrap-Write of the Security, OSCORE and Server instances, one instance per request;
 * 5. Bootstrap-Finish (`POST /bs`), which the device answers 2.04 once its configuration is consistent.
 *
 * One request at a time per session, each with its own timeout; a bounded number of sessions at once.
 */
import {
  type Clock,
  type CoapEndpoint,
  type CoapRequest,
  CoapRequestError,
  type CoapResponse,
  Code,
  formatCode,
  type Link,
  linkAttribute,
  type Peer,
  parseLinkFormat,
  type ResponseInit,
  systemClock,
} from '@thimble/coap-core';
import {
  type InstanceValues,
  instanceNodeOf,
  oscoreInstanceValues,
  securityInstanceValues,
  serverInstanceValues,
} from '../../bootstrap/config.js';
import type { BootstrapConfig, BootstrapConfigStore } from '../../bootstrap/types.js';
import { decodeNode, encodeNode, NODE_FORMATS } from '../../content/codecs.js';
import { BUILTIN_OBJECTS } from '../../model/builtin.js';
import type { Lwm2mNode } from '../../model/nodes.js';
import { formatLwm2mPath, type Lwm2mPath, parseLwm2mPath } from '../../model/path.js';
import { type Lwm2mModel, ObjectRegistry } from '../../model/registry.js';
import { Emitter } from '../../util/emitter.js';

const LINK_FORMAT = 40;
const SENML_CBOR = 112;
const TLV = 11542;
/** Formats a Bootstrap-Write may use (node formats with object-instance payloads). */
const WRITE_FORMATS = [110, 112, 11542, 11543, 11544];

export interface Lwm2mBootstrapServerLimits {
  /** Milliseconds to wait for the device's answer to each request (default 30000). */
  readonly requestTimeout?: number;
  /** Bootstrap sessions running at once (default 256); more Bootstrap-Requests get 5.03. */
  readonly maxSessions?: number;
  /** Longest endpoint name (default 128). */
  readonly maxEndpointLength?: number;
}

export interface Lwm2mBootstrapServerOptions {
  readonly endpoint: CoapEndpoint;
  readonly store: BootstrapConfigStore;
  /** Object definitions used to type what is written and read (default: the built-in objects). */
  readonly model?: Lwm2mModel;
  readonly clock?: Clock;
  readonly limits?: Lwm2mBootstrapServerLimits;
}

export interface BootstrapSessionInfo {
  readonly id: number;
  readonly endpoint: string;
  readonly peer: Peer;
  readonly startedAt: number;
  /** `pct` of the Bootstrap-Request, if any. */
  readonly preferredFormat: number | undefined;
}

export interface BootstrapOperationEvent {
  /** `Bootstrap-Discover`, `Bootstrap-Read`, `Bootstrap-Delete`, `Bootstrap-Write`, `Bootstrap-Finish`. */
  readonly operation: string;
  readonly path: string;
  /** The device's response code (`2.04`), or `timeout` / `error`. */
  readonly code: string;
  readonly detail?: string;
}

export interface BootstrapResult {
  /** LwM2M version the device gave in its Bootstrap-Discover answer. */
  readonly version?: string;
  /** Links of the Bootstrap-Discover answer (when the configuration asked for one). */
  readonly discovered?: readonly Link[];
  /** Bootstrap-Read results. */
  readonly read: readonly { readonly path: string; readonly node: Lwm2mNode }[];
  /** Content format of the writes. */
  readonly format: number;
}

export type Lwm2mBootstrapServerEvents = {
  /** A Bootstrap-Request was refused: unknown endpoint (4.00), bad request, too many sessions (5.03). */
  rejected: (endpoint: string | undefined, peer: Peer, reason: string) => void;
  sessionStarted: (session: BootstrapSessionInfo) => void;
  operation: (session: BootstrapSessionInfo, event: BootstrapOperationEvent) => void;
  sessionSucceeded: (session: BootstrapSessionInfo, result: BootstrapResult) => void;
  sessionFailed: (session: BootstrapSessionInfo, reason: string) => void;
};

interface Session extends BootstrapSessionInfo {
  cancelled: boolean;
}

class SessionFailure extends Error {}

export class Lwm2mBootstrapServer extends Emitter<Lwm2mBootstrapServerEvents> {
  readonly endpoint: CoapEndpoint;
  readonly store: BootstrapConfigStore;
  readonly model: Lwm2mModel;
  private readonly clock: Clock;
  private readonly limits: Required<Lwm2mBootstrapServerLimits>;
  private readonly sessions = new Map<string, Session>();
  private nextId = 1;
  private closed = false;

  constructor(options: Lwm2mBootstrapServerOptions) {
    super();
    this.endpoint = options.endpoint;
    this.store = options.store;
    this.model = options.model ?? new ObjectRegistry(BUILTIN_OBJECTS);
    this.clock = options.clock ?? systemClock;
    const l = options.limits ?? {};
    this.limits = {
      requestTimeout: l.requestTimeout ?? 30_000,
      maxSessions: l.maxSessions ?? 256,
      maxEndpointLength: l.maxEndpointLength ?? 128,
    };
    this.endpoint.route('POST', '/bs', (req) => this.onBootstrapRequest(req), { maxBodySize: 1024 });
  }

  /** Sessions running now. */
  activeSessions(): BootstrapSessionInfo[] {
    return [...this.sessions.values()];
  }

  /** Stops: running sessions end (failed, "closed") and new Bootstrap-Requests get 5.03. */
  close(): void {
    this.closed = true;
    for (const s of [...this.sessions.values()]) this.end(s, 'the bootstrap server is closed');
  }

  /** Bootstrap-Request (Core §6.1.3, Transport §6.1): 2.04, then the session runs. */
  private onBootstrapRequest(req: CoapRequest): ResponseInit {
    const ep = req.queryParam('ep');
    const reject = (code: number, reason: string): ResponseInit => {
      this.emit('rejected', ep, req.peer, reason);
      return { code, payload: reason };
    };
    if (this.closed) return reject(Code.ServiceUnavailable, 'the bootstrap server is closed');
    if (ep === undefined || ep === '') return reject(Code.BadRequest, 'ep is required');
    if (ep.length > this.limits.maxEndpointLength)
      return reject(Code.BadRequest, `ep is longer than ${this.limits.maxEndpointLength}`);
    let preferredFormat: number | undefined;
    const pct = req.queryParam('pct');
    if (pct !== undefined) {
      if (!/^[0-9]{1,5}$/.test(pct)) return reject(Code.BadRequest, 'pct is not a content format');
      preferredFormat = Number(pct);
      if (!WRITE_FORMATS.includes(preferredFormat))
        return reject(Code.UnsupportedContentFormat, `pct=${pct} is not a format this server writes`);
    }
    const config = this.store.get(ep);
    // Core 1.1 §6.1.3 / Transport 1.1 §6.1: "4.00 Bad Request: Unknown Endpoint Client Name"
    if (config === undefined) return reject(Code.BadRequest, 'unknown endpoint client name');
    // over DTLS the session's PSK identity must be this endpoint's bootstrap-server identity (Core §6.1.3):
    // the ep a request claims is not enough
    const identity = req.peer.identity;
    if (
      identity !== undefined &&
      !Object.values(config.security).some(
        (s) => s.bootstrapServer && s.securityMode === 'psk' && s.pskIdentity === identity,
      )
    )
      return reject(Code.Forbidden, 'credentials not bound to this endpoint');
    const old = this.sessions.get(ep);
    if (old !== undefined) this.end(old, 'replaced by a new Bootstrap-Request');
    if (this.sessions.size >= this.limits.maxSessions)
      return reject(Code.ServiceUnavailable, `at most ${this.limits.maxSessions} bootstrap sessions`);
    const session: Session = {
      id: this.nextId++,
      endpoint: ep,
      peer: { address: req.peer.address, port: req.peer.port },
      startedAt: this.clock.now(),
      preferredFormat,
      cancelled: false,
    };
    this.sessions.set(ep, session);
    this.emit('sessionStarted', session);
    // the session starts once the 2.04 is on its way
    this.clock.setTimeout(() => {
      void this.run(session, config);
    }, 0);
    return { code: Code.Changed };
  }

  private end(s: Session, failure: string | undefined, result?: BootstrapResult): void {
    if (s.cancelled) return;
    s.cancelled = true;
    if (this.sessions.get(s.endpoint) === s) this.sessions.delete(s.endpoint);
    const info: BootstrapSessionInfo = {
      id: s.id,
      endpoint: s.endpoint,
      peer: s.peer,
      startedAt: s.startedAt,
      preferredFormat: s.preferredFormat,
    };
    if (failure === undefined) this.emit('sessionSucceeded', info, result!);
    else this.emit('sessionFailed', info, failure);
  }

  private async run(s: Session, config: BootstrapConfig): Promise<void> {
    try {
      const result = await this.session(s, config);
      this.end(s, undefined, result);
    } catch (e) {
      this.end(s, e instanceof Error ? e.message : String(e));
    }
  }

  /** One request of the session; fails the session on anything but `expected`. */
  private async send(
    s: Session,
    operation: string,
    path: Lwm2mPath,
    init: {
      method: 'GET' | 'PUT' | 'POST' | 'DELETE';
      accept?: number;
      contentFormat?: number;
      payload?: Uint8Array;
    },
    expected: number,
    segments?: string[],
  ): Promise<CoapResponse> {
    if (s.cancelled) throw new SessionFailure('cancelled');
    const where = segments === undefined ? formatLwm2mPath(path) : `/${segments.join('/')}`;
    let res: CoapResponse;
    try {
      res = await this.endpoint.request({
        method: init.method,
        peer: s.peer,
        path: segments ?? path.map(String),
        ...(init.accept === undefined ? {} : { accept: init.accept }),
        ...(init.contentFormat === undefined ? {} : { contentFormat: init.contentFormat }),
        ...(init.payload === undefined ? {} : { payload: init.payload }),
        timeout: this.limits.requestTimeout,
      });
    } catch (e) {
      const timeout = e instanceof CoapRequestError && e.reason === 'timeout';
      const detail = timeout ? 'no answer' : ((e as Error)?.message ?? String(e));
      if (!s.cancelled)
        this.emit('operation', s, { operation, path: where, code: timeout ? 'timeout' : 'error', detail });
      throw new SessionFailure(`${operation} ${where}: ${detail}`);
    }
    if (s.cancelled) throw new SessionFailure('cancelled');
    let diagnostic = '';
    if (!res.ok) {
      try {
        diagnostic = new TextDecoder('utf-8', { fatal: true }).decode(res.payload.subarray(0, 200));
      } catch {
        // binary diagnostic: not shown
      }
    }
    this.emit('operation', s, {
      operation,
      path: where,
      code: formatCode(res.code),
      ...(diagnostic === '' ? {} : { detail: diagnostic }),
    });
    if (res.code !== expected)
      throw new SessionFailure(
        `${operation} ${where} answered ${formatCode(res.code)}${diagnostic === '' ? '' : `: ${diagnostic}`}`,
      );
    return res;
  }

  private async session(s: Session, config: BootstrapConfig): Promise<BootstrapResult> {
    let version: string | undefined;
    let discovered: Link[] | undefined;
    let bootstrapAccount: number | undefined;
    // 1. Bootstrap-Discover (Core 1.1 §5.2.7.3)
    if (config.discover) {
      const res = await this.send(
        s,
        'Bootstrap-Discover',
        [],
        { method: 'GET', accept: LINK_FORMAT },
        Code.Content,
      );
      try {
        discovered = parseLinkFormat(new TextDecoder('utf-8', { fatal: true }).decode(res.payload), {
          maxLinks: 4096,
        });
      } catch (e) {
        throw new SessionFailure(`Bootstrap-Discover: bad link-format (${(e as Error).message})`);
      }
      for (const l of discovered) {
        const v = linkAttribute(l, 'lwm2m');
        if (l.target === '/' && typeof v === 'string') version = v;
        // the bootstrap-server account: the Security instance without ssid (Core 1.1 §5.2.7.3)
        const m = /^\/0\/([0-9]{1,5})$/.exec(l.target);
        if (m !== null && linkAttribute(l, 'ssid') === undefined) bootstrapAccount = Number(m[1]);
      }
    }
    const format =
      config.contentFormat ??
      s.preferredFormat ??
      (version !== undefined && version !== '1.0' && NODE_FORMATS.includes(SENML_CBOR) ? SENML_CBOR : TLV);
    // 2. Bootstrap-Read (Core 1.1 §5.2.7.2)
    const read: { path: string; node: Lwm2mNode }[] = [];
    for (const text of config.read ?? []) {
      const path = parseLwm2mPath(text);
      const res = await this.send(s, 'Bootstrap-Read', path, { method: 'GET', accept: format }, Code.Content);
      try {
        read.push({
          path: text,
          node: decodeNode(res.contentFormat ?? format, path, res.payload, this.model),
        });
      } catch (e) {
        throw new SessionFailure(`Bootstrap-Read ${text}: ${(e as Error).message}`);
      }
    }
    // 3. Bootstrap-Delete (Core 1.1 §5.2.7.5)
    for (const text of config.toDelete ?? ['/0', '/1']) {
      await this.send(s, 'Bootstrap-Delete', parseLwm2mPath(text), { method: 'DELETE' }, Code.Deleted);
    }
    // 4. Bootstrap-Write (Core 1.1 §5.2.7.4): Security, OSCORE, Server
    const write = async (objectId: number, instanceId: number, values: InstanceValues) => {
      const path = [objectId, instanceId];
      let payload: Uint8Array;
      try {
        payload = encodeNode(
          format,
          path,
          instanceNodeOf(this.model, objectId, instanceId, values),
          this.model,
        );
      } catch (e) {
        throw new SessionFailure(`Bootstrap-Write ${formatLwm2mPath(path)}: ${(e as Error).message}`);
      }
      await this.send(
        s,
        'Bootstrap-Write',
        path,
        { method: 'PUT', contentFormat: format, payload },
        Code.Changed,
      );
    };
    for (const [iid, sec] of securityIds(config, bootstrapAccount))
      await write(0, iid, securityInstanceValues(sec));
    for (const k of Object.keys(config.oscore ?? {}))
      await write(21, Number(k), oscoreInstanceValues(config.oscore![k]!));
    for (const k of Object.keys(config.servers))
      await write(1, Number(k), serverInstanceValues(config.servers[k]!));
    // 5. Bootstrap-Finish (Core 1.1 §5.2.7.6)
    await this.send(s, 'Bootstrap-Finish', [], { method: 'POST' }, Code.Changed, ['bs']);
    return {
      ...(version === undefined ? {} : { version }),
      ...(discovered === undefined ? {} : { discovered }),
      read,
      format,
    };
  }
}

/**
 * Security instance ids to write: as configured, except that an LwM2M-server instance that would land on
 * the device's own bootstrap-server account (known from Bootstrap-Discover) moves to a free id, and the
 * configured bootstrap-server account goes to the device's one.
 */
function securityIds(
  config: BootstrapConfig,
  bootstrapAccount: number | undefined,
): [number, BootstrapConfig['security'][string]][] {
  const out: [number, BootstrapConfig['security'][string]][] = [];
  const ids = Object.keys(config.security).map(Number);
  const used = new Set(ids);
  if (bootstrapAccount !== undefined) used.add(bootstrapAccount);
  let free = 0;
  for (const iid of ids) {
    const sec = config.security[String(iid)]!;
    if (bootstrapAccount === undefined) out.push([iid, sec]);
    else if (sec.bootstrapServer) out.push([bootstrapAccount, sec]);
    else if (iid !== bootstrapAccount) out.push([iid, sec]);
    else {
      while (used.has(free)) free++;
      used.add(free);
      out.push([free, sec]);
    }
  }
  return out;
}
