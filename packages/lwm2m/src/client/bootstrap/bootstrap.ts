/**
 * The client side of the Bootstrap interface (LwM2M TS Core 1.1 §6.1, TS Transport 1.1 §6.1):
 *
 * - client-initiated bootstrap: after the Client Hold Off Time (/0/x/11) the client sends
 *   `POST /bs?ep=NAME[&pct=112]` to the bootstrap server its bootstrap-server account (the Security
 *   instance with Bootstrap-Server = true) names, then serves the bootstrap server until Bootstrap-Finish;
 * - server-initiated bootstrap: while the client waits (hold-off, back-off) the bootstrap server may start
 *   writing on its own;
 * - the operations only a bootstrap server may use, and only during a bootstrap: Bootstrap-Write (PUT),
 *   Bootstrap-Read (GET, 1.1+, Server and Access Control objects), Bootstrap-Discover (GET with Accept
 *   link-format), Bootstrap-Delete (DELETE) and Bootstrap-Finish (`POST /bs`), which checks that the
 *   Security / Server / OSCORE instances make a usable configuration (2.04) or answers 4.06 with what is
 *   wrong;
 * - a failed bootstrap (error answer or no answer to the Bootstrap-Request, no Bootstrap-Finish within
 *   `timeout`, inconsistent configuration) puts objects 0, 1 and 21 back as they were and is tried again
 *   after a back-off (doubling from `retry.initialDelay`, at least the Client Hold Off Time, at most
 *   `retry.maxDelay`), on the injected clock;
 * - factory bootstrap: Security / Server / OSCORE instances from the client's configuration.
 *
 * The client (client.ts) owns routing and registration; this module is its bootstrap logic behind a small
 * host interface, so registration can change (several servers, DTLS, OSCORE) without touching it.
 */
import {
  type Clock,
  type CoapEndpoint,
  type CoapRequest,
  type CoapResponse,
  Code,
  ContentFormat,
  formatCode,
  formatLinkFormat,
  type Link,
  type LinkAttribute,
  type Peer,
  type Random,
  type ResponseInit,
  randomInt,
  utf8Encode,
} from '@thimble/coap-core';
import {
  type InstanceValues,
  isSecureScheme,
  oscoreInstanceValues,
  securityInstanceValues,
  serverInstanceValues,
  serverUriProblem,
  validateBootstrapConfig,
} from '../../bootstrap/config.js';
import type { BootstrapConfig } from '../../bootstrap/types.js';
import { decodeNode, encodeNode, NODE_FORMATS } from '../../content/codecs.js';
import { Lwm2mContentError } from '../../content/errors.js';
import { isExecutable } from '../../model/definitions.js';
import type { Lwm2mNode, ObjectInstanceNode, ResourceNode } from '../../model/nodes.js';
import { isValidId, type Lwm2mPath, Lwm2mPathError } from '../../model/path.js';
import type { Lwm2mModel } from '../../model/registry.js';
import { type Lwm2mValue, Lwm2mValueError, type ObjectLink } from '../../model/values.js';
import { codeFromText, Lwm2mClientError } from '../errors.js';
import {
  type InstanceStore,
  pathText,
  type ResourceInit,
  type Slot,
  toResourceValue,
  toStoredValue,
  valueOfNode,
} from '../objects/store.js';

const LINK_FORMAT = 40;
const SENML_CBOR = 112;
/** CoAP EXCHANGE_LIFETIME (RFC 7252 §4.8.2), the default time a bootstrap may take after the 2.04. */
const EXCHANGE_LIFETIME = 247_000;
const BINDING = /^[UTSNQ]{1,5}$/;

export interface BootstrapRetryOptions {
  /** Seconds to wait after the first failed bootstrap (default 10); doubles with each failure. */
  readonly initialDelay?: number;
  /** Longest wait between attempts, seconds (default 3600). */
  readonly maxDelay?: number;
  /** Failed bootstraps before the client gives up (default: never gives up). */
  readonly maxAttempts?: number;
}

export interface BootstrapOptions {
  /**
   * Bootstrap-server URI (`coap://host:port`) for a client whose objects hold no bootstrap-server account:
   * one (NoSec) is added as a Security instance when bootstrap starts.
   */
  readonly serverUri?: string;
  /** Milliseconds from the Bootstrap-Request's 2.04 to Bootstrap-Finish (default 247000, EXCHANGE_LIFETIME). */
  readonly timeout?: number;
  readonly retry?: BootstrapRetryOptions;
  /** `pct` sent in the Bootstrap-Request by 1.1+ clients (default 112, SenML CBOR); `null` sends none. */
  readonly preferredFormat?: number | null;
  /** Bootstrap at every start, even with an LwM2M server account in the objects (default false). */
  readonly always?: boolean;
}

/** Instances installed at construction ("factory bootstrap", Core 1.1 §6.1.2). */
export type FactoryBootstrap = Pick<BootstrapConfig, 'security' | 'servers' | 'oscore'>;

export type BootstrapState = 'idle' | 'holdoff' | 'requesting' | 'serving' | 'waiting' | 'failed';

/** What the bootstrap logic needs from the client. */
/** What the bootstrap needs from the client: its view of `ClientContext` (client/context.ts). */
export interface BootstrapHost {
  readonly endpointName: string;
  readonly endpoint: CoapEndpoint;
  readonly version: string;
  readonly model: Lwm2mModel;
  readonly objects: InstanceStore;
  readonly clock: Clock;
  readonly random: Random;
  readonly requestTimeout: number | undefined;
  objectVersion(objectId: number): string;
  readNode(path: Lwm2mPath): Promise<Lwm2mNode>;
  /** A bootstrap operation was served (for the client's `operation` event). */
  operation(operation: string, path: string, code: number, detail?: string): void;
  /** An instance or resource was written. */
  changed(path: Lwm2mPath): void;
  /** An instance was removed by Bootstrap-Delete. */
  removed(path: Lwm2mPath): void;
  /** A Bootstrap-Request goes to the bootstrap server at `serverUri`. */
  bootstrapStarted(serverUri: string): void;
  /** Bootstrap-Finish accepted: register with the servers objects 0 and 1 now name. */
  bootstrapSucceeded(): void;
  /** One bootstrap failed; `retryIn` ms until the next one, undefined when the client gives up. */
  bootstrapFailed(error: Error, retryIn: number | undefined): void;
}

interface Snapshot {
  readonly objectId: number;
  readonly instances: { id: number; slots: { [rid: number]: Slot | undefined } }[];
}

/** Parsed `coap://host:port`, for matching requests to the bootstrap server. */
function peerOfUri(uri: string): Peer | undefined {
  const m = /^(coaps?)(\+tcp)?:\/\/(\[[^\]]+\]|[^/:?#]+)(?::([0-9]{1,5}))?/.exec(uri);
  if (m === null) return undefined;
  const host = m[3]!.startsWith('[') ? m[3]!.slice(1, -1) : m[3]!;
  return { address: host, port: m[4] !== undefined ? Number(m[4]) : m[1] === 'coaps' ? 5684 : 5683 };
}

const samePeer = (a: Peer | undefined, b: Peer): boolean =>
  a !== undefined && a.port === b.port && a.address === b.address;

function fail(
  reason: ConstructorParameters<typeof Lwm2mClientError>[0],
  code: ConstructorParameters<typeof Lwm2mClientError>[1],
  message: string,
): never {
  throw new Lwm2mClientError(reason, code, message);
}

function errorResponse(e: unknown): ResponseInit {
  let code: number = Code.InternalServerError;
  if (e instanceof Lwm2mClientError) code = codeFromText(e.code);
  else if (e instanceof Lwm2mContentError) code = codeFromText(e.responseCode);
  else if (e instanceof Lwm2mPathError || e instanceof Lwm2mValueError) code = Code.BadRequest;
  const message = e instanceof Error ? e.message : '';
  return { code, payload: utf8Encode(message.slice(0, 200)), contentFormat: ContentFormat.TextPlain };
}

function parsePath(segments: readonly string[]): Lwm2mPath {
  const out: number[] = [];
  for (const s of segments) {
    if (!/^[0-9]{1,5}$/.test(s) || !isValidId(Number(s)))
      fail('bad-request', '4.00', `"/${segments.join('/')}" is not an LwM2M path`);
    out.push(Number(s));
  }
  return out;
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isObjectLink = (v: unknown): v is ObjectLink =>
  v !== null &&
  typeof v === 'object' &&
  !(v instanceof Uint8Array) &&
  typeof (v as ObjectLink).objectId === 'number';

/**
 * Checks that objects 0, 1 and 21 make a usable configuration (the Bootstrap-Finish check, Core 1.1
 * §6.1.7): returns what is wrong, empty when nothing is.
 */
export function checkBootstrapConsistency(objects: InstanceStore): string[] {
  const problems: string[] = [];
  const value = (oid: number, iid: number, rid: number): Lwm2mValue | undefined => {
    const v = objects.get(oid, iid)?.slots[rid]?.value;
    return Array.isArray(v) ? undefined : (v as Lwm2mValue | undefined);
  };
  const securityBySsid: { [k: number]: number | undefined } = {};
  let bootstrapAccounts = 0;
  for (const iid of objects.instanceIds(0)) {
    const w = `/0/${iid}`;
    const uri = value(0, iid, 0);
    const uriProblem = serverUriProblem(uri);
    if (uriProblem !== undefined) problems.push(`${w}: ${uriProblem}`);
    const bs = value(0, iid, 1);
    if (typeof bs !== 'boolean') problems.push(`${w}: no Bootstrap-Server (/0/x/1)`);
    const mode = value(0, iid, 2);
    if (typeof mode !== 'number' || mode < 0 || mode > 4)
      problems.push(`${w}: no valid Security Mode (/0/x/2)`);
    const nonEmpty = (rid: number) => {
      const v = value(0, iid, rid);
      return (isBytes(v) && v.length > 0) || (typeof v === 'string' && v !== '');
    };
    if (mode === 0 && !(nonEmpty(3) && nonEmpty(5)))
      problems.push(`${w}: PSK mode needs an identity (3) and a key (5)`);
    if ((mode === 1 || mode === 2) && !(nonEmpty(3) && nonEmpty(4) && nonEmpty(5)))
      problems.push(`${w}: ${mode === 1 ? 'RPK' : 'certificate'} mode needs resources 3, 4 and 5`);
    if (typeof uri === 'string' && uriProblem === undefined && typeof mode === 'number') {
      if (mode === 3 && isSecureScheme(uri)) problems.push(`${w}: NoSec with a coaps URI`);
      if (mode !== 3 && !isSecureScheme(uri)) problems.push(`${w}: a DTLS security mode with a coap URI`);
    }
    const oscore = value(0, iid, 17);
    if (oscore !== undefined) {
      if (!isObjectLink(oscore) || oscore.objectId !== 21)
        problems.push(`${w}: OSCORE Security Mode (17) is not a link to /21`);
      else if (oscore.objectId === 21 && oscore.instanceId !== 65535) {
        if (objects.get(21, oscore.instanceId) === undefined)
          problems.push(`${w}: OSCORE Security Mode links /21/${oscore.instanceId}, which does not exist`);
        else {
          const secret = value(21, oscore.instanceId, 0);
          if (!isBytes(secret) || secret.length === 0)
            problems.push(`/21/${oscore.instanceId}: no OSCORE Master Secret`);
          if (!isBytes(value(21, oscore.instanceId, 1)) || !isBytes(value(21, oscore.instanceId, 2)))
            problems.push(`/21/${oscore.instanceId}: OSCORE Sender / Recipient ID missing`);
        }
      }
    }
    if (bs === true) {
      bootstrapAccounts++;
      continue;
    }
    const ssid = value(0, iid, 10);
    if (typeof ssid !== 'number' || ssid < 1 || ssid > 65534)
      problems.push(`${w}: no Short Server ID (/0/x/10)`);
    else if (securityBySsid[ssid] !== undefined)
      problems.push(`${w}: Short Server ID ${ssid} is also /0/${securityBySsid[ssid]}`);
    else securityBySsid[ssid] = iid;
  }
  if (bootstrapAccounts > 1) problems.push('more than one bootstrap-server account');
  const servers: { [k: number]: number | undefined } = {};
  for (const iid of objects.instanceIds(1)) {
    const w = `/1/${iid}`;
    const ssid = value(1, iid, 0);
    if (typeof ssid !== 'number' || ssid < 1 || ssid > 65534) {
      problems.push(`${w}: no Short Server ID (/1/x/0)`);
      continue;
    }
    if (servers[ssid] !== undefined)
      problems.push(`${w}: Short Server ID ${ssid} twice in the Server object`);
    servers[ssid] = 1;
    if (securityBySsid[ssid] === undefined)
      problems.push(`${w}: no Security instance with Short Server ID ${ssid}`);
    const lifetime = value(1, iid, 1);
    if (typeof lifetime !== 'number' || lifetime < 0) problems.push(`${w}: no Lifetime (/1/x/1)`);
    const binding = value(1, iid, 7);
    if (typeof binding !== 'string' || !BINDING.test(binding))
      problems.push(`${w}: no valid Binding (/1/x/7)`);
  }
  for (const [ssid, iid] of numberEntries(securityBySsid))
    if (servers[ssid] === undefined)
      problems.push(`/0/${iid}: no Server instance with Short Server ID ${ssid}`);
  if (Object.keys(securityBySsid).length === 0) problems.push('no LwM2M server account');
  return problems;
}

/** Installs the instances of a factory bootstrap; throws when they are inconsistent. */
export function installFactoryBootstrap(objects: InstanceStore, config: FactoryBootstrap): void {
  const clean = validateBootstrapConfig({
    security: config.security,
    servers: config.servers,
    ...(config.oscore === undefined ? {} : { oscore: config.oscore }),
  });
  const add = (oid: number, iid: string, values: InstanceValues) => {
    const resources: { [rid: number]: ResourceInit } = {};
    for (const k of Object.keys(values)) resources[Number(k)] = values[Number(k)]!;
    objects.add(oid, Number(iid), resources);
  };
  for (const k of Object.keys(clean.oscore ?? {})) add(21, k, oscoreInstanceValues(clean.oscore![k]!));
  for (const k of Object.keys(clean.security)) add(0, k, securityInstanceValues(clean.security[k]!));
  for (const k of Object.keys(clean.servers)) add(1, k, serverInstanceValues(clean.servers[k]!));
}

export class ClientBootstrap {
  private state: BootstrapState = 'idle';
  private timer: ReturnType<Clock['setTimeout']> | undefined;
  private purgeTimer: ReturnType<Clock['setTimeout']> | undefined;
  private failures = 0;
  private generation = 0;
  /** The bootstrap server: from its URI, then from where its answer came. */
  private peer: Peer | undefined;
  private snapshot: Snapshot[] | undefined;

  constructor(
    private readonly host: BootstrapHost,
    private readonly options: BootstrapOptions = {},
  ) {}

  get current(): BootstrapState {
    return this.state;
  }

  /** Number of failed bootstraps since the last success. */
  get failedAttempts(): number {
    return this.failures;
  }

  /** The Security instance of the bootstrap-server account, if there is one. */
  accountInstance(): number | undefined {
    const objects = this.host.objects;
    for (const iid of objects.instanceIds(0)) if (objects.get(0, iid)!.slots[1]?.value === true) return iid;
    return undefined;
  }

  /** True when the client has an LwM2M server account (a Security instance that is not the bootstrap one). */
  private hasServerAccount(): boolean {
    const objects = this.host.objects;
    for (const iid of objects.instanceIds(0)) {
      const slots = objects.get(0, iid)!.slots;
      if (slots[1]?.value !== true && typeof slots[0]?.value === 'string') return true;
    }
    return false;
  }

  /** Whether `start()` should bootstrap first (Core 1.1 §6.1: no server account, or `always`). */
  needed(hasServerUriOption: boolean): boolean {
    const canBootstrap = this.accountInstance() !== undefined || this.options.serverUri !== undefined;
    if (!canBootstrap) return false;
    if (this.options.always) return true;
    return !hasServerUriOption && !this.hasServerAccount();
  }

  /** True when a bootstrap-server account exists (or the options name a bootstrap server). */
  possible(): boolean {
    return this.accountInstance() !== undefined || this.options.serverUri !== undefined;
  }

  /** Starts a client-initiated bootstrap, after the Client Hold Off Time. */
  begin(): void {
    this.cancelTimers();
    this.generation++;
    this.failures = 0;
    let iid = this.accountInstance();
    if (iid === undefined && this.options.serverUri !== undefined) {
      iid = this.host.objects.freeInstanceId(0);
      this.host.objects.add(0, iid, {
        0: this.options.serverUri.replace(/\/+$/, ''),
        1: true,
        2: 3,
        3: new Uint8Array(0),
        4: new Uint8Array(0),
        5: new Uint8Array(0),
      });
    }
    if (iid === undefined) {
      this.state = 'failed';
      this.host.bootstrapFailed(
        new Lwm2mClientError('not-registered', '5.00', 'no bootstrap-server account'),
        undefined,
      );
      return;
    }
    this.peer = peerOfUri(this.uri());
    this.state = 'holdoff';
    this.arm(() => void this.request(), this.holdOff() * 1000);
  }

  /** Stops everything (the client stops). */
  stop(): void {
    this.generation++;
    this.cancelTimers();
    if (this.purgeTimer !== undefined) this.host.clock.clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
    this.state = 'idle';
    this.snapshot = undefined;
  }

  private uri(): string {
    const iid = this.accountInstance();
    const v = iid === undefined ? undefined : this.host.objects.get(0, iid)!.slots[0]?.value;
    return typeof v === 'string' ? v.replace(/\/+$/, '') : (this.options.serverUri ?? '').replace(/\/+$/, '');
  }

  private accountResource(rid: number): number | undefined {
    const iid = this.accountInstance();
    const v = iid === undefined ? undefined : this.host.objects.get(0, iid)!.slots[rid]?.value;
    return typeof v === 'number' && v >= 0 ? v : undefined;
  }

  /** Client Hold Off Time (/0/x/11 of the bootstrap account), seconds. */
  private holdOff(): number {
    return this.accountResource(11) ?? 0;
  }

  private arm(f: () => void, ms: number): void {
    this.cancelTimers();
    this.timer = this.host.clock.setTimeout(() => {
      this.timer = undefined;
      f();
    }, ms);
  }

  private cancelTimers(): void {
    if (this.timer !== undefined) this.host.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Bootstrap-Request (Core 1.1 §6.1.3, Transport §6.1): `POST /bs?ep=NAME[&pct=F]`. */
  private async request(): Promise<void> {
    const gen = this.generation;
    this.takeSnapshot();
    this.state = 'requesting';
    const uri = this.uri();
    this.peer = peerOfUri(uri) ?? this.peer;
    const query = [`ep=${encodeURIComponent(this.host.endpointName)}`];
    const pct = this.options.preferredFormat === undefined ? SENML_CBOR : this.options.preferredFormat;
    if (this.host.version !== '1.0' && pct !== null) query.push(`pct=${pct}`);
    this.host.bootstrapStarted(uri);
    let res: CoapResponse;
    try {
      res = await this.host.endpoint.request({
        method: 'POST',
        uri: `${uri}/bs?${query.join('&')}`,
        timeout: this.host.requestTimeout,
      });
    } catch (e) {
      if (gen !== this.generation) return;
      this.failed(
        new Lwm2mClientError(
          'registration-failed',
          '5.00',
          `Bootstrap-Request: ${(e as Error)?.message ?? e}`,
        ),
      );
      return;
    }
    if (gen !== this.generation) return;
    if (res.code !== Code.Changed) {
      let diagnostic = '';
      try {
        diagnostic = new TextDecoder('utf-8', { fatal: true }).decode(res.payload.subarray(0, 120));
      } catch {
        // binary
      }
      this.failed(
        new Lwm2mClientError(
          'registration-failed',
          '5.00',
          `Bootstrap-Request answered ${formatCode(res.code)}${diagnostic === '' ? '' : `: ${diagnostic}`}`,
        ),
      );
      return;
    }
    this.peer = res.peer;
    // a server that was quick may have started already (state 'serving')
    if (this.state === 'requesting') this.serve();
  }

  /** The bootstrap server is talking to us: Bootstrap-Finish is due within `timeout`. */
  private serve(): void {
    if (this.snapshot === undefined) this.takeSnapshot();
    this.state = 'serving';
    const timeout = this.options.timeout ?? EXCHANGE_LIFETIME;
    this.arm(
      () =>
        this.failed(
          new Lwm2mClientError('registration-failed', '5.00', `no Bootstrap-Finish within ${timeout} ms`),
        ),
      timeout,
    );
  }

  /** A bootstrap failed: objects back as they were, then a back-off and another try (or give up). */
  private failed(error: Error): void {
    if (this.state === 'idle' || this.state === 'failed') return;
    this.generation++;
    this.cancelTimers();
    this.restoreSnapshot();
    this.failures++;
    const r = this.options.retry ?? {};
    const maxAttempts = r.maxAttempts ?? Number.POSITIVE_INFINITY;
    if (this.failures >= maxAttempts) {
      this.state = 'failed';
      this.host.bootstrapFailed(error, undefined);
      return;
    }
    const backoff = Math.min(r.maxDelay ?? 3600, (r.initialDelay ?? 10) * 2 ** (this.failures - 1));
    const seconds = Math.max(this.holdOff(), backoff);
    // jitter (up to 10 %) so devices that failed together do not come back together
    const ms = seconds * 1000 + randomInt(this.host.random, 0, Math.floor(seconds * 100));
    this.state = 'waiting';
    this.host.bootstrapFailed(error, ms);
    this.arm(() => void this.request(), ms);
  }

  private takeSnapshot(): void {
    const objects = this.host.objects;
    this.snapshot = [0, 1, 21].map((objectId) => ({
      objectId,
      instances: objects.instanceIds(objectId).map((id) => {
        const slots: { [rid: number]: Slot | undefined } = {};
        const e = objects.get(objectId, id)!;
        for (const rid of objects.resourceIds(e)) slots[rid] = { ...e.slots[rid]! };
        return { id, slots };
      }),
    }));
  }

  private restoreSnapshot(): void {
    const snapshot = this.snapshot;
    this.snapshot = undefined;
    if (snapshot === undefined) return;
    const objects = this.host.objects;
    for (const o of snapshot) {
      for (const iid of objects.instanceIds(o.objectId)) objects.remove(o.objectId, iid);
      for (const inst of o.instances) {
        const e = objects.add(o.objectId, inst.id, {});
        for (const k of Object.keys(inst.slots)) e.slots[Number(k)] = inst.slots[Number(k)];
      }
    }
  }

  /** True while a request from `peer` belongs to the Bootstrap interface. */
  private fromBootstrapServer(peer: Peer): boolean {
    if (
      this.state !== 'holdoff' &&
      this.state !== 'requesting' &&
      this.state !== 'serving' &&
      this.state !== 'waiting'
    )
      return false;
    return samePeer(this.peer, peer);
  }

  /**
   * A request the client received: the Bootstrap interface's answer when it comes from the bootstrap server
   * during a bootstrap, else undefined (device management handles it).
   */
  intercept(req: CoapRequest): Promise<ResponseInit> | undefined {
    if (!this.fromBootstrapServer(req.peer)) return undefined;
    // server-initiated bootstrap (Core 1.1 §6.1.4): the bootstrap server starts while the client waits
    if (this.state === 'holdoff' || this.state === 'waiting') {
      this.generation++;
      this.serve();
    }
    let op = 'Bootstrap';
    let path: Lwm2mPath = [];
    const run = async (): Promise<ResponseInit> => {
      path = parsePath(req.path);
      switch (req.method) {
        case Code.PUT:
          op = 'Bootstrap-Write';
          return this.write(req, path);
        case Code.GET:
          if (req.accept === LINK_FORMAT) {
            op = 'Bootstrap-Discover';
            return this.discover(path);
          }
          op = 'Bootstrap-Read';
          return this.read(req, path);
        case Code.DELETE:
          op = 'Bootstrap-Delete';
          return this.delete(path);
      }
      return fail('not-allowed', '4.05', 'not a Bootstrap interface operation');
    };
    return run().then(
      (r) => {
        this.host.operation(op, pathText(path), r.code);
        return r;
      },
      (e: unknown) => {
        const r = errorResponse(e);
        this.host.operation(op, `/${req.path.join('/')}`, r.code, e instanceof Error ? e.message : String(e));
        return r;
      },
    );
  }

  /** Bootstrap-Finish (Core 1.1 §5.2.7.6, Transport §6.1): `POST /bs` from the bootstrap server. */
  finish(req: CoapRequest): ResponseInit {
    if (this.state !== 'serving' && this.state !== 'requesting') {
      this.host.operation('Bootstrap-Finish', '/bs', Code.BadRequest, 'no bootstrap session');
      return {
        code: Code.BadRequest,
        payload: 'no bootstrap session',
        contentFormat: ContentFormat.TextPlain,
      };
    }
    if (!samePeer(this.peer, req.peer)) {
      this.host.operation('Bootstrap-Finish', '/bs', Code.BadRequest, 'not from the bootstrap server');
      return {
        code: Code.BadRequest,
        payload: 'not from the bootstrap server',
        contentFormat: ContentFormat.TextPlain,
      };
    }
    const problems = checkBootstrapConsistency(this.host.objects);
    if (problems.length > 0) {
      const detail = problems.join('; ');
      this.host.operation('Bootstrap-Finish', '/bs', Code.NotAcceptable, detail);
      // the answer goes out first, then the failure (restore, back-off)
      const gen = this.generation;
      this.host.clock.setTimeout(() => {
        if (gen === this.generation)
          this.failed(
            new Lwm2mClientError('not-acceptable', '4.06', `inconsistent bootstrap configuration: ${detail}`),
          );
      }, 0);
      return {
        code: Code.NotAcceptable,
        payload: utf8Encode(detail.slice(0, 512)),
        contentFormat: ContentFormat.TextPlain,
      };
    }
    this.host.operation('Bootstrap-Finish', '/bs', Code.Changed);
    this.generation++;
    this.cancelTimers();
    this.state = 'idle';
    this.snapshot = undefined;
    this.failures = 0;
    this.armAccountPurge();
    // registration starts once the 2.04 is on its way
    const gen = this.generation;
    this.host.clock.setTimeout(() => {
      if (gen === this.generation) this.host.bootstrapSucceeded();
    }, 0);
    return { code: Code.Changed };
  }

  /** Bootstrap-Server Account Timeout (/0/x/12): the account is purged that long after a bootstrap. */
  private armAccountPurge(): void {
    const seconds = this.accountResource(12);
    if (this.purgeTimer !== undefined) this.host.clock.clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
    if (seconds === undefined || seconds === 0) return;
    this.purgeTimer = this.host.clock.setTimeout(() => {
      this.purgeTimer = undefined;
      if (this.state !== 'idle') return;
      const iid = this.accountInstance();
      if (iid !== undefined && this.host.objects.remove(0, iid)) this.host.removed([0, iid]);
    }, seconds * 1000);
  }

  /** Bootstrap-Write (Core 1.1 §5.2.7.4): creates or replaces instances, or writes a resource. */
  private async write(req: CoapRequest, path: Lwm2mPath): Promise<ResponseInit> {
    if (path.length < 1 || path.length > 3)
      fail('bad-request', '4.00', 'Bootstrap-Write targets an object, an object instance or a resource');
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Bootstrap-Write without Content-Format');
    if (!NODE_FORMATS.includes(format))
      fail('unsupported-format', '4.15', `content format ${format} is not supported`);
    if (req.payload.length === 0) fail('bad-request', '4.00', 'Bootstrap-Write without payload');
    const oid = path[0]!;
    const objects = this.host.objects;
    const model = this.host.model;
    const objectDef = model.getObject(oid);
    if (objectDef === undefined || (!objects.hasObject(oid) && oid !== 0 && oid !== 1 && oid !== 21))
      fail('not-found', '4.04', `object ${oid} is not supported`);
    const node = decodeNode(format, path, req.payload, model);
    let instances: ObjectInstanceNode[];
    if (path.length === 3) {
      if (node.kind !== 'resource' && node.kind !== 'multipleResource')
        fail('bad-request', '4.00', 'payload is not a resource');
      instances = [{ kind: 'objectInstance', id: path[1]!, resources: [node] }];
    } else if (node.kind === 'object') {
      instances = node.instances.slice();
    } else if (node.kind === 'objectInstance') {
      if (path.length === 2 && node.id !== path[1])
        fail('bad-request', '4.00', 'payload is for another instance');
      instances = [node];
    } else {
      return fail(
        'bad-request',
        '4.00',
        `payload is not an ${path.length === 1 ? 'object' : 'object instance'}`,
      );
    }
    // check everything before changing anything
    const plan: { iid: number; values: { rid: number; value: ReturnType<typeof valueOfNode> }[] }[] = [];
    let creating = 0;
    for (const inst of instances) {
      const values: { rid: number; value: ReturnType<typeof valueOfNode> }[] = [];
      for (const r of inst.resources as ResourceNode[]) {
        const def = model.getResource(oid, r.id);
        if (def === undefined) fail('not-found', '4.04', `/${oid}/${inst.id}/${r.id} is not defined`);
        if (isExecutable(def)) fail('bad-request', '4.00', `/${oid}/${inst.id}/${r.id} is executable`);
        // values are checked against the definition (type, multiplicity)
        toStoredValue(def, toResourceValue(valueOfNode(r)));
        values.push({ rid: r.id, value: valueOfNode(r) });
      }
      if (objects.get(oid, inst.id) === undefined) {
        creating++;
        if (!objectDef.multiple && objects.instanceIds(oid).length + creating > 1)
          fail('bad-request', '4.00', `object ${oid} is single-instance`);
      }
      plan.push({ iid: inst.id, values });
    }
    for (const p of plan) {
      let entry = objects.get(oid, p.iid);
      if (entry === undefined) entry = objects.add(oid, p.iid, {});
      else if (path.length < 3) {
        // an instance is replaced (as Leshan and the DM Write do): resources not written are removed,
        // except those the application backs with callbacks
        for (const rid of objects.resourceIds(entry)) {
          if (entry.slots[rid]!.handler === undefined && !p.values.some((v) => v.rid === rid))
            delete entry.slots[rid];
        }
      }
      for (const v of p.values) {
        const slot = entry.slots[v.rid];
        const write = slot?.handler?.write;
        if (write !== undefined) {
          try {
            await write(toResourceValue(v.value));
          } catch (e) {
            fail('application', '5.00', `write /${oid}/${p.iid}/${v.rid}: ${(e as Error)?.message ?? e}`);
          }
        }
        if (slot === undefined) entry.slots[v.rid] = { value: v.value, handler: undefined };
        else slot.value = v.value;
      }
      this.host.changed(path.length === 3 ? path : [oid, p.iid]);
    }
    return { code: Code.Changed };
  }

  /** Bootstrap-Read (Core 1.1 §5.2.7.2): only the Server (1) and Access Control (2) objects. */
  private async read(req: CoapRequest, path: Lwm2mPath): Promise<ResponseInit> {
    if (this.host.version === '1.0') fail('not-allowed', '4.05', 'Bootstrap-Read needs LwM2M 1.1');
    if (path.length < 1 || path.length > 2)
      fail('bad-request', '4.00', 'Bootstrap-Read targets an object or an instance');
    if (path[0] !== 1 && path[0] !== 2)
      fail('bad-request', '4.00', 'Bootstrap-Read targets the Server (1) or Access Control (2) object only');
    // the Server object is mandatory: a client without instances yet answers with an empty object
    const node: Lwm2mNode =
      path.length === 1 && !this.host.objects.hasObject(path[0]!) && this.host.model.getObject(path[0]!)
        ? { kind: 'object', id: path[0]!, instances: [] }
        : await this.host.readNode(path);
    const format = req.accept ?? SENML_CBOR;
    if (!NODE_FORMATS.includes(format) || format === 0 || format === 42 || format === 60)
      fail('not-acceptable', '4.06', `cannot answer in content format ${format}`);
    return {
      code: Code.Content,
      contentFormat: format,
      payload: encodeNode(format, path, node, this.host.model),
    };
  }

  /**
   * Bootstrap-Discover (Core 1.1 §5.2.7.3): `</>;lwm2m=1.1`, objects and instances; Security instances
   * with their Short Server ID (none for the bootstrap account) and URI, Server instances with theirs.
   */
  private discover(path: Lwm2mPath): ResponseInit {
    if (path.length > 1) fail('bad-request', '4.00', 'Bootstrap-Discover targets / or an object');
    const objects = this.host.objects;
    if (path.length === 1 && !objects.hasObject(path[0]!))
      fail('not-found', '4.04', `object ${path[0]} not found`);
    const links: Link[] = [];
    if (path.length === 0)
      links.push({ target: '/', attributes: [{ name: 'lwm2m', value: this.host.version }] });
    for (const oid of objects.objectIds()) {
      if (path.length === 1 && oid !== path[0]) continue;
      const ver = this.host.objectVersion(oid);
      const iids = objects.instanceIds(oid);
      if (iids.length === 0 || ver !== '1.0')
        links.push({ target: `/${oid}`, attributes: ver !== '1.0' ? [{ name: 'ver', value: ver }] : [] });
      for (const iid of iids) {
        const slots = objects.get(oid, iid)!.slots;
        const attributes: LinkAttribute[] = [];
        if (oid === 0) {
          const ssid = slots[10]?.value;
          if (slots[1]?.value !== true && typeof ssid === 'number')
            attributes.push({ name: 'ssid', value: String(ssid) });
          const uri = slots[0]?.value;
          if (this.host.version !== '1.0' && typeof uri === 'string')
            attributes.push({ name: 'uri', value: uri });
        } else if (oid === 1) {
          const ssid = slots[0]?.value;
          if (typeof ssid === 'number') attributes.push({ name: 'ssid', value: String(ssid) });
        }
        links.push({ target: `/${oid}/${iid}`, attributes });
      }
    }
    // `uri` is a quoted-string as in the specification's examples (Core 1.1 §5.2.7.3)
    const text = links
      .map((l) =>
        formatLinkFormat([
          { target: l.target, attributes: l.attributes.filter((a) => a.name !== 'uri') },
        ]).concat(
          l.attributes
            .filter((a) => a.name === 'uri')
            .map((a) => `;uri="${String(a.value).replace(/[\\"]/g, (c) => `\\${c}`)}"`)
            .join(''),
        ),
      )
      .join(',');
    return { code: Code.Content, contentFormat: LINK_FORMAT, payload: text };
  }

  /**
   * Bootstrap-Delete (Core 1.1 §5.2.7.5): on `/` or an object, every instance goes except the bootstrap-
   * server account (its Security instance and the OSCORE instance it links) and the Device object.
   */
  private delete(path: Lwm2mPath): ResponseInit {
    if (path.length > 2)
      fail('bad-request', '4.00', 'Bootstrap-Delete targets /, an object or an object instance');
    const objects = this.host.objects;
    const account = this.accountInstance();
    const link = account === undefined ? undefined : objects.get(0, account)!.slots[17]?.value;
    const accountOscore = isObjectLink(link) && link.objectId === 21 ? link.instanceId : undefined;
    const kept = (oid: number, iid: number) =>
      oid === 3 || (oid === 0 && iid === account) || (oid === 21 && iid === accountOscore);
    if (path.length === 2) {
      const [oid, iid] = path as [number, number];
      if (oid === 0 && iid === account)
        fail('bad-request', '4.00', 'the bootstrap-server account cannot be deleted');
      if (oid === 3) fail('bad-request', '4.00', 'the Device object instance cannot be deleted');
      if (oid === 21 && iid === accountOscore)
        fail('bad-request', '4.00', "the bootstrap-server account's OSCORE instance cannot be deleted");
      if (objects.remove(oid, iid)) this.host.removed(path);
      return { code: Code.Deleted };
    }
    for (const oid of objects.objectIds()) {
      if (path.length === 1 && oid !== path[0]) continue;
      for (const iid of objects.instanceIds(oid)) {
        if (kept(oid, iid)) continue;
        if (objects.remove(oid, iid)) this.host.removed([oid, iid]);
      }
    }
    return { code: Code.Deleted };
  }
}

/** `[key, value]` pairs of a plain object keyed by number (no Map: the client stays portable). */
function numberEntries(o: { [k: number]: number | undefined }): [number, number][] {
  const out: [number, number][] = [];
  for (const k of Object.keys(o)) out.push([Number(k), o[Number(k)]!]);
  return out;
}
