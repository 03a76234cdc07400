/**
 * The Firmware Update object (5) on an `Lwm2mClient`: the state machine of LwM2M TS Core 1.1 Appendix E.6
 * (object 5 v1.1 definition), push delivery (Write of /5/0/0, streamed block by block), pull delivery
 * (Package URI /5/0/1 over coap://, coaps://, and any scheme an injected fetcher speaks, e.g. http:// /
 * https:// from the Node adapter), an integrity check against a SHA-256 digest the server gives, and the
 * application's install step.
 *
 * States (/5/0/3): 0 Idle, 1 Downloading, 2 Downloaded, 3 Updating. Update Result (/5/0/5): 0 initial,
 * 1 success, 2 not enough flash, 3 out of RAM, 4 connection lost during download, 5 integrity check
 * failure, 6 unsupported package type, 7 invalid URI, 8 firmware update failed, 9 unsupported protocol.
 *
 * Transitions (Appendix E.6, object 5 resource descriptions):
 * - Idle → Downloading on a Write of Package or Package URI; Update Result goes back to 0.
 * - Downloading → Downloaded when the package is complete (and matches the digest, when there is one).
 * - Downloading → Idle on a failure, with Update Result 2–7 or 9.
 * - Downloaded → Updating on Execute Update (/5/0/2), Update Result back to 0.
 * - Updating → Idle with Update Result 1 on success; Updating → Downloaded with Update Result 8 on failure.
 * - Writing an empty Package URI, or an empty (or single NUL byte) Package, resets to Idle with Update
 *   Result 0 from any state but Updating.
 *
 * Integrity (not in object 5, a Thimble convention): the vendor object 30500 "Firmware Package Digest"
 * (private object id range 26241–32768 of the OMNA registry) has one resource, 0 "SHA-256" (Opaque,
 * RW, 32 bytes or empty). A server writes it before it writes the Package or the Package URI; the client
 * hashes the package as it arrives and, on a mismatch, ends in Idle with Update Result 5 before anything
 * is installed. A pull may carry the digest in the Package URI's fragment instead,
 * `coap://host/fw/1#sha256=<64 hex digits>` (fragments never go on the wire); the fragment wins. The
 * digest is cleared whenever the state machine returns to Idle.
 */
import {
  type Clock,
  type CoapEndpoint,
  CoapRequestError,
  type CoapResponse,
  Code,
  decodeBlock,
  encodeBlock,
  formatCode,
  OptionNumber,
  systemClock,
} from '@thimble/coap-core';
import type { ObjectDefinition } from '../../model/definitions.js';
import { FIRMWARE_DIGEST_OBJECT, FIRMWARE_DIGEST_OBJECT_ID } from '../../model/firmware-digest.js';
import type { Lwm2mModel } from '../../model/registry.js';
import { Lwm2mError } from '../../util/errors.js';
import { fromHexString, Sha256, toHexString } from '../../util/sha256.js';
import type { Lwm2mClient, StreamedWriteInfo } from '../client.js';
import { Lwm2mClientError } from '../errors.js';
import type { ResourceValue } from '../objects/store.js';

/** /5/0/3 values. */
export const FirmwareState = { Idle: 0, Downloading: 1, Downloaded: 2, Updating: 3 } as const;

/** /5/0/5 values. */
export const UpdateResult = {
  Initial: 0,
  Success: 1,
  NotEnoughFlash: 2,
  OutOfRam: 3,
  ConnectionLost: 4,
  IntegrityFailure: 5,
  UnsupportedPackage: 6,
  InvalidUri: 7,
  UpdateFailed: 8,
  UnsupportedProtocol: 9,
} as const;

/** Firmware Update Protocol Support (/5/0/8) value of each URI scheme. */
export const PROTOCOL_OF_SCHEME: { readonly [scheme: string]: number } = {
  coap: 0,
  coaps: 1,
  http: 2,
  https: 3,
  'coap+tcp': 4,
  'coaps+tcp': 5,
};

/**
 * Thrown by a sink or an install step to end the update with a given Update Result (e.g. 6 for a
 * package the device cannot use).
 */
export class FirmwareError extends Lwm2mError<'update-failed'> {
  override readonly name: string = 'FirmwareError';
  constructor(
    readonly result: number,
    message: string,
  ) {
    super('update-failed', message);
  }
}

/** A sink out of storage: Update Result 2 ("not enough flash memory"); a streamed push answers 4.13. */
export class FirmwareOutOfSpaceError extends FirmwareError {
  override readonly name = 'FirmwareOutOfSpaceError';
  constructor(message = 'not enough space for the firmware package') {
    super(UpdateResult.NotEnoughFlash, message);
  }
}

/** A sink out of memory: Update Result 3. */
export class FirmwareOutOfMemoryError extends FirmwareError {
  override readonly name = 'FirmwareOutOfMemoryError';
  constructor(message = 'out of RAM during the download') {
    super(UpdateResult.OutOfRam, message);
  }
}

export interface FirmwareDownloadInfo {
  readonly method: 'push' | 'pull';
  /** Pull: the Package URI (without its fragment). */
  readonly uri?: string;
  /** Size in bytes when known in advance (Size1 of a push, Size2 / Content-Length of a pull). */
  readonly size?: number;
}

/**
 * Where the package goes, chunk by chunk (flash, a file…). Any method may be async. A sink that throws a
 * `FirmwareError` ends the download with its Update Result; any other error counts as Update Result 8.
 */
export interface FirmwareSink {
  /** A new download starts (a previous unfinished one was aborted first). */
  begin(info: FirmwareDownloadInfo): void | Promise<void>;
  /** The next chunk, at `offset` (chunks come in order, without gaps). */
  write(chunk: Uint8Array, offset: number): void | Promise<void>;
  /** The package is complete and passed the integrity check. */
  finish(): void | Promise<void>;
  /** The download failed, was replaced or reset: forget what was written. */
  abort(reason: string): void | Promise<void>;
}

export interface DownloadedPackage {
  readonly method: 'push' | 'pull';
  readonly uri?: string;
  readonly size: number;
  /** SHA-256 of the package, lowercase hex. */
  readonly sha256: string;
}

/** What a successful install reports; `version` also goes to /3/0/3 (Firmware Version) when present. */
export interface InstalledFirmware {
  readonly version?: string;
  readonly name?: string;
}

/** Resumption state a fetcher keeps between the attempts of one download (e.g. an ETag). */
export interface FetchResume {
  validator?: string;
}

export interface FetchRequest {
  /** The URI without its fragment. */
  readonly uri: string;
  readonly scheme: string;
  /** First byte wanted: 0, or where an interrupted attempt stopped. */
  readonly offset: number;
  readonly resume: FetchResume;
  readonly signal: AbortSignal;
  /** Hands over the next bytes (in order, starting at `offset`); `total` is the package size when known. */
  onData(chunk: Uint8Array, total: number | undefined): void | Promise<void>;
}

export type FetchErrorReason =
  /** The URI is malformed or names nothing (e.g. 4.04, HTTP 404): Update Result 7. */
  | 'invalid-uri'
  /** Update Result 9. */
  | 'unsupported-protocol'
  /** Timeouts, resets, 5.xx: retried (resuming) and at last Update Result 4. */
  | 'connection'
  /** The package changed since the first attempt (ETag): the download starts again from zero. */
  | 'changed';

export class FetchError extends Lwm2mError<FetchErrorReason> {
  override readonly name = 'FetchError';
}

/** Downloads a package for a pull (one per URI scheme set). Resolves once the package is complete. */
export interface PackageFetcher {
  readonly schemes: readonly string[];
  fetch(request: FetchRequest): Promise<void>;
}

export interface CoapFetcherOptions {
  /** Endpoint for coap:// URIs (the client's own endpoint, usually). */
  readonly endpoint?: CoapEndpoint;
  /** Endpoint for coaps:// URIs: one on a DTLS transport (e.g. `DtlsClientTransport`). */
  readonly secureEndpoint?: CoapEndpoint;
  /** Block size asked for (16–1024, default 1024). */
  readonly blockSize?: number;
  /** Milliseconds to wait for each block (default: the endpoint's CoAP default). */
  readonly timeout?: number;
}

const szxOf = (size: number): number => {
  const szx = Math.log2(size) - 4;
  if (!Number.isInteger(szx) || szx < 0 || szx > 6) throw new RangeError(`block size ${size} is not 16–1024`);
  return szx;
};

/**
 * Pull over CoAP with Block2 (RFC 7959 §2.4), one block per request, so an attempt that broke off resumes
 * at the block it stopped at. The ETag of the first block guards against a package that changed meanwhile.
 */
export function coapPackageFetcher(options: CoapFetcherOptions): PackageFetcher {
  const schemes: string[] = [];
  if (options.endpoint !== undefined) schemes.push('coap');
  if (options.secureEndpoint !== undefined) schemes.push('coaps');
  const size = options.blockSize ?? 1024;
  const szx = szxOf(size);
  return {
    schemes,
    async fetch(req) {
      const ep = req.scheme === 'coaps' ? options.secureEndpoint : options.endpoint;
      if (ep === undefined) throw new FetchError('unsupported-protocol', `${req.scheme}:// is not supported`);
      let blockSize = size;
      let blockSzx = szx;
      let pos = req.offset;
      for (;;) {
        const num = Math.floor(pos / blockSize);
        let res: CoapResponse;
        try {
          res = await ep.request({
            method: 'GET',
            uri: req.uri,
            options: [
              { number: OptionNumber.Block2, value: encodeBlock({ num, more: false, szx: blockSzx }) },
            ],
            signal: req.signal,
            ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
          });
        } catch (e) {
          if (e instanceof CoapRequestError && e.reason === 'invalid-request')
            throw new FetchError('invalid-uri', e.message);
          throw new FetchError('connection', (e as Error)?.message ?? String(e));
        }
        if (res.code !== Code.Content) {
          const cls = res.code >>> 5;
          const text = `GET ${req.uri} answered ${formatCode(res.code)}`;
          if (cls === 4) throw new FetchError('invalid-uri', text);
          throw new FetchError('connection', text);
        }
        const etag = res.message.getOption(OptionNumber.ETag);
        const validator = etag === undefined ? undefined : toHexString(etag);
        if (req.resume.validator === undefined) req.resume.validator = validator;
        else if (validator !== undefined && validator !== req.resume.validator)
          throw new FetchError('changed', 'the package changed (ETag) during the download');
        const value = res.message.getUint(OptionNumber.Block2);
        const total = res.message.getUint(OptionNumber.Size2);
        if (value === undefined) {
          // the whole representation in one response
          if (pos < res.payload.length) await req.onData(res.payload.subarray(pos), res.payload.length);
          return;
        }
        const b = decodeBlock(value);
        if (b.offset > pos || b.offset + res.payload.length < pos)
          throw new FetchError('connection', `unexpected Block2 block ${b.num}`);
        const chunk = res.payload.subarray(pos - b.offset);
        if (chunk.length > 0) await req.onData(chunk, total);
        pos += chunk.length;
        if (!b.more) return;
        if (chunk.length === 0) throw new FetchError('connection', 'empty Block2 block before the end');
        // §2.3: the server may answer with smaller blocks; go on with its size
        if (b.szx < blockSzx) {
          blockSzx = b.szx;
          blockSize = b.size;
        }
      }
    },
  };
}

export interface FirmwareUpdateOptions {
  readonly sink: FirmwareSink;
  /**
   * Installs the downloaded package (after Execute Update). Resolve on success, with the new version if
   * the device reports it now; throw (a `FirmwareError` for a specific result) on failure (Update Result 8).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: an async install step may return nothing
  readonly install: (pkg: DownloadedPackage) => Promise<InstalledFirmware | undefined | void>;
  /**
   * Fetchers for pull, beyond coap:// (and coaps:// with `secureEndpoint`) which come built in, e.g.
   * `httpPackageFetcher()` from `@thimble/lwm2m/node`.
   */
  readonly fetchers?: readonly PackageFetcher[];
  /** Endpoint for coaps:// pulls (a DTLS transport). */
  readonly secureEndpoint?: CoapEndpoint;
  /** Pull over coap:// with the client's endpoint (default true). */
  readonly coapPull?: boolean;
  /** Block size for CoAP pulls (default 1024). */
  readonly blockSize?: number;
  /** Milliseconds to wait for one CoAP block (default: the endpoint's). */
  readonly blockTimeout?: number;
  /** Delivery methods offered (/5/0/9): 'pull', 'push' or 'both' (default). */
  readonly delivery?: 'pull' | 'push' | 'both';
  /**
   * A push that receives no block for this long is abandoned: Idle with Update Result 4 (default 60 000
   * ms; RFC 7959 leaves the wait to the server).
   */
  readonly pushTimeout?: number;
  /** Further attempts of a pull after a broken connection, each resuming where it stopped (default 5). */
  readonly pullRetries?: number;
  /** Milliseconds before a pull is attempted again (default 2000, doubling each time). */
  readonly pullRetryDelay?: number;
  /** Largest package accepted, bytes (default unlimited; beyond it: Update Result 2). */
  readonly maxPackageSize?: number;
  /** Initial /5/0/6 and /5/0/7. */
  readonly packageName?: string;
  readonly packageVersion?: string;
  /** Install the digest object 30500 (default true; needs a model that can `add` definitions). */
  readonly digestObject?: boolean;
  readonly clock?: Clock;
  /** Called on each state / result change (logging, progress). */
  readonly onChange?: (state: number, result: number) => void;
}

interface Download {
  readonly id: number;
  readonly method: 'push' | 'pull';
  readonly uri: string | undefined;
  hash: Sha256;
  received: number;
  readonly digest: Uint8Array | undefined;
  timer: ReturnType<Clock['setTimeout']> | undefined;
  readonly controller: AbortController | undefined;
  done: boolean;
}

const URI_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\s]+)([^?#\s]*)(\?[^#\s]*)?(#\S*)?$/;

/** The firmware object installed on a client; see `installFirmwareUpdate`. */
export class FirmwareUpdate {
  private stateValue: number = FirmwareState.Idle;
  private resultValue: number = UpdateResult.Initial;
  private current: Download | undefined;
  private downloaded: DownloadedPackage | undefined;
  private nextId = 1;
  private readonly clock: Clock;
  private readonly fetchers: PackageFetcher[] = [];
  private readonly digestInstalled: boolean;

  constructor(
    readonly client: Lwm2mClient,
    private readonly options: FirmwareUpdateOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    const coap = coapPackageFetcher({
      // coap:// pulls go out on the client's shared NoSec endpoint (none when every server is DTLS / OSCORE)
      ...(options.coapPull === false || client.sharedEndpoint === undefined
        ? {}
        : { endpoint: client.sharedEndpoint }),
      ...(options.secureEndpoint === undefined ? {} : { secureEndpoint: options.secureEndpoint }),
      ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
      ...(options.blockTimeout === undefined ? {} : { timeout: options.blockTimeout }),
    });
    if (coap.schemes.length > 0) this.fetchers.push(coap);
    for (const f of options.fetchers ?? []) this.fetchers.push(f);
    const protocols: number[] = [];
    for (const f of this.fetchers)
      for (const s of f.schemes) {
        const p = PROTOCOL_OF_SCHEME[s];
        if (p !== undefined && protocols.indexOf(p) < 0) protocols.push(p);
      }
    protocols.sort((a, b) => a - b);
    const delivery = options.delivery ?? 'both';
    client.addInstance(5, 0, {
      0: { write: (v) => this.writePackage(v) },
      1: { read: () => this.uriValue, write: (v) => this.writeUri(v) },
      2: { execute: () => this.executeUpdate() },
      3: FirmwareState.Idle,
      5: UpdateResult.Initial,
      6: options.packageName ?? '',
      7: options.packageVersion ?? '',
      8: protocols,
      9: delivery === 'pull' ? 0 : delivery === 'push' ? 1 : 2,
    });
    if (delivery !== 'pull')
      client.streamWrites('/5/0/0', { block: (c, o, m, i) => this.pushBlock(c, o, m, i) });
    this.digestInstalled = options.digestObject !== false && ensureDigestObject(client.model);
    if (this.digestInstalled) {
      client.addInstance(FIRMWARE_DIGEST_OBJECT_ID, 0, {
        0: {
          read: () => this.digestValue,
          write: (v) => {
            const bytes = v as Uint8Array;
            if (bytes.length !== 0 && bytes.length !== 32)
              throw new Lwm2mClientError('bad-request', '4.00', 'a SHA-256 digest is 32 bytes');
            this.digestValue = bytes.slice();
          },
        },
      });
    }
  }

  private uriValue = '';
  private digestValue: Uint8Array = new Uint8Array(0);

  /** State (/5/0/3). */
  get state(): number {
    return this.stateValue;
  }

  /** Update Result (/5/0/5). */
  get result(): number {
    return this.resultValue;
  }

  /** The package waiting for Execute Update (State Downloaded), if any. */
  get package(): DownloadedPackage | undefined {
    return this.downloaded;
  }

  /** Bytes of the download in progress. */
  get bytesReceived(): number {
    return this.current?.received ?? 0;
  }

  /** Sets PkgName (/5/0/6) and PkgVersion (/5/0/7), e.g. read from the package header. */
  setPackageInfo(name: string, version: string): void {
    this.client.set('/5/0/6', name);
    this.client.set('/5/0/7', version);
  }

  // ------------------------------------------------------------------ state

  private set(state: number, result: number): void {
    const changedState = state !== this.stateValue;
    const changedResult = result !== this.resultValue;
    this.stateValue = state;
    this.resultValue = result;
    // result first: an observer of the state that reads the result on a change sees the new one
    if (changedResult) this.client.set('/5/0/5', result);
    if (changedState) this.client.set('/5/0/3', state);
    if (state === FirmwareState.Idle) this.digestValue = new Uint8Array(0);
    if (changedState || changedResult) this.options.onChange?.(state, result);
  }

  /** Ends the download in progress (if any) without a state change. */
  private drop(reason: string): void {
    const d = this.current;
    if (d === undefined) return;
    this.current = undefined;
    d.done = true;
    if (d.timer !== undefined) this.clock.clearTimeout(d.timer);
    d.controller?.abort();
    this.quietly(() => this.options.sink.abort(reason));
  }

  private quietly(f: () => void | Promise<void>): void {
    try {
      const r = f();
      if (r !== undefined && typeof (r as Promise<void>).then === 'function')
        (r as Promise<void>).then(undefined, () => undefined);
    } catch {
      // a failing abort changes nothing
    }
  }

  private fail(d: Download | undefined, result: number, reason: string): void {
    if (d !== undefined && d !== this.current) return;
    this.drop(reason);
    this.downloaded = undefined;
    this.set(FirmwareState.Idle, result);
  }

  /** Resets to Idle / 0 (empty Package or Package URI). Refused while Updating. */
  private reset(): void {
    if (this.stateValue === FirmwareState.Updating)
      throw new Lwm2mClientError('bad-request', '4.00', 'the firmware is being updated');
    this.drop('reset by the server');
    this.downloaded = undefined;
    this.uriValue = '';
    this.set(FirmwareState.Idle, UpdateResult.Initial);
  }

  private async start(
    method: 'push' | 'pull',
    uri: string | undefined,
    size: number | undefined,
    digest: Uint8Array | undefined,
  ): Promise<Download> {
    if (this.stateValue === FirmwareState.Updating)
      throw new Lwm2mClientError('bad-request', '4.00', 'the firmware is being updated');
    this.drop('replaced by a new download');
    this.downloaded = undefined;
    const d: Download = {
      id: this.nextId++,
      method,
      uri,
      hash: new Sha256(),
      received: 0,
      digest: digest ?? (this.digestValue.length === 32 ? this.digestValue : undefined),
      timer: undefined,
      controller: method === 'pull' ? new AbortController() : undefined,
      done: false,
    };
    this.current = d;
    this.set(FirmwareState.Downloading, UpdateResult.Initial);
    const max = this.options.maxPackageSize;
    if (max !== undefined && size !== undefined && size > max)
      throw new FirmwareOutOfSpaceError(`a package of ${size} bytes exceeds ${max}`);
    await this.options.sink.begin({
      method,
      ...(uri === undefined ? {} : { uri }),
      ...(size === undefined ? {} : { size }),
    });
    return d;
  }

  private async accept(d: Download, chunk: Uint8Array): Promise<void> {
    const max = this.options.maxPackageSize;
    if (max !== undefined && d.received + chunk.length > max)
      throw new FirmwareOutOfSpaceError(`the package exceeds ${max} bytes`);
    const offset = d.received;
    d.received += chunk.length;
    d.hash.update(chunk);
    await this.options.sink.write(chunk, offset);
  }

  /** The package is complete: integrity check, then Downloaded. */
  private async complete(d: Download): Promise<void> {
    if (d.timer !== undefined) this.clock.clearTimeout(d.timer);
    d.timer = undefined;
    const sha = d.hash.digest();
    if (d.digest !== undefined && toHexString(sha) !== toHexString(d.digest)) {
      this.fail(d, UpdateResult.IntegrityFailure, 'integrity check failed (SHA-256 mismatch)');
      return;
    }
    await this.options.sink.finish();
    if (d !== this.current) return;
    d.done = true;
    this.current = undefined;
    this.downloaded = {
      method: d.method,
      ...(d.uri === undefined ? {} : { uri: d.uri }),
      size: d.received,
      sha256: toHexString(sha),
    };
    this.set(FirmwareState.Downloaded, UpdateResult.Initial);
  }

  private resultOf(e: unknown): number {
    return e instanceof FirmwareError ? e.result : UpdateResult.UpdateFailed;
  }

  // ------------------------------------------------------------------ push (/5/0/0)

  /** A Write of the whole Package in one message. */
  private async writePackage(v: ResourceValue): Promise<void> {
    const bytes = v as Uint8Array;
    if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0)) {
      this.reset();
      return;
    }
    if (this.options.delivery === 'pull')
      throw new Lwm2mClientError('not-allowed', '4.05', 'this device takes firmware by pull only');
    let d: Download | undefined;
    try {
      d = await this.start('push', undefined, bytes.length, undefined);
      await this.accept(d, bytes);
      await this.complete(d);
    } catch (e) {
      if (e instanceof Lwm2mClientError) throw e;
      this.fail(d ?? this.current, this.resultOf(e), (e as Error)?.message ?? String(e));
      throw toWriteError(e);
    }
  }

  /** One block of a streamed (Block1) Write of the Package. */
  private async pushBlock(
    chunk: Uint8Array,
    offset: number,
    more: boolean,
    info: StreamedWriteInfo,
  ): Promise<void> {
    let d = this.current;
    if (offset === 0) {
      if (!more && (chunk.length === 0 || (chunk.length === 1 && chunk[0] === 0))) {
        this.reset();
        return;
      }
      try {
        d = await this.start('push', undefined, info.size, undefined);
      } catch (e) {
        if (e instanceof Lwm2mClientError) throw e;
        this.fail(this.current, this.resultOf(e), (e as Error)?.message ?? String(e));
        throw toWriteError(e);
      }
    } else if (d === undefined || d.method !== 'push' || d.received !== offset || d.done) {
      throw new Lwm2mClientError('bad-request', '4.08', 'no push in progress at this offset');
    }
    const dl = d!;
    if (dl.timer !== undefined) this.clock.clearTimeout(dl.timer);
    dl.timer = undefined;
    try {
      await this.accept(dl, chunk);
      if (dl !== this.current) throw new Lwm2mClientError('bad-request', '4.08', 'the push was replaced');
      if (!more) {
        await this.complete(dl);
        return;
      }
    } catch (e) {
      if (e instanceof Lwm2mClientError) throw e;
      this.fail(dl, this.resultOf(e), (e as Error)?.message ?? String(e));
      throw toWriteError(e);
    }
    // a push cut off half-way must not leave the device Downloading for ever
    dl.timer = this.clock.setTimeout(() => {
      dl.timer = undefined;
      this.fail(dl, UpdateResult.ConnectionLost, 'the push stopped before its last block');
    }, this.options.pushTimeout ?? 60_000);
  }

  // ------------------------------------------------------------------ pull (/5/0/1)

  private writeUri(v: ResourceValue): void {
    const text = v as string;
    if (text === '') {
      this.reset();
      return;
    }
    if (this.stateValue === FirmwareState.Updating)
      throw new Lwm2mClientError('bad-request', '4.00', 'the firmware is being updated');
    if ((this.options.delivery ?? 'both') === 'push')
      throw new Lwm2mClientError('not-allowed', '4.05', 'this device takes firmware by push only');
    this.uriValue = text;
    const m = URI_RE.exec(text);
    if (m === null) {
      this.drop('invalid URI');
      this.downloaded = undefined;
      this.set(FirmwareState.Idle, UpdateResult.InvalidUri);
      return;
    }
    const scheme = m[1]!.toLowerCase();
    let digest: Uint8Array | undefined;
    const fragment = m[5];
    if (fragment !== undefined) {
      const f = /^#sha256=([0-9a-fA-F]{64})$/.exec(fragment);
      digest = f === null ? undefined : fromHexString(f[1]!);
      if (f === null) {
        this.drop('invalid URI fragment');
        this.downloaded = undefined;
        this.set(FirmwareState.Idle, UpdateResult.InvalidUri);
        return;
      }
    }
    const fetcher = this.fetchers.find((f) => f.schemes.indexOf(scheme) >= 0);
    if (fetcher === undefined) {
      this.drop('unsupported protocol');
      this.downloaded = undefined;
      this.set(FirmwareState.Idle, UpdateResult.UnsupportedProtocol);
      return;
    }
    const uri = fragment === undefined ? text : text.slice(0, text.length - fragment.length);
    // the Write is answered now; the download goes on in the background
    void this.pull(scheme, uri, digest, fetcher);
  }

  private async pull(
    scheme: string,
    uri: string,
    digest: Uint8Array | undefined,
    fetcher: PackageFetcher,
  ): Promise<void> {
    let d: Download;
    try {
      d = await this.start('pull', uri, undefined, digest);
    } catch (e) {
      this.fail(this.current, this.resultOf(e), (e as Error)?.message ?? String(e));
      return;
    }
    const resume: FetchResume = {};
    let failures = 0;
    let restarts = 0;
    const retries = this.options.pullRetries ?? 5;
    let delay = this.options.pullRetryDelay ?? 2000;
    for (;;) {
      if (d !== this.current) return;
      try {
        await fetcher.fetch({
          uri,
          scheme,
          offset: d.received,
          resume,
          signal: d.controller!.signal,
          onData: async (chunk) => {
            if (d !== this.current) throw new FetchError('connection', 'the download was replaced');
            await this.accept(d, chunk);
            failures = 0;
          },
        });
        break;
      } catch (e) {
        if (d !== this.current) return;
        if (e instanceof FetchError) {
          if (e.reason === 'invalid-uri') return this.fail(d, UpdateResult.InvalidUri, e.message);
          if (e.reason === 'unsupported-protocol')
            return this.fail(d, UpdateResult.UnsupportedProtocol, e.message);
          if (e.reason === 'changed' && restarts < 2) {
            restarts++;
            // start over from zero with the new representation
            d.received = 0;
            d.hash = new Sha256();
            resume.validator = undefined;
            try {
              await this.options.sink.abort('the package changed during the download');
              await this.options.sink.begin({ method: 'pull', uri });
            } catch (err) {
              return this.fail(d, this.resultOf(err), (err as Error)?.message ?? String(err));
            }
            continue;
          }
          if (++failures > retries) return this.fail(d, UpdateResult.ConnectionLost, e.message);
          await new Promise<void>((resolve) => {
            this.clock.setTimeout(resolve, delay);
          });
          delay *= 2;
          continue;
        }
        return this.fail(d, this.resultOf(e), (e as Error)?.message ?? String(e));
      }
    }
    try {
      await this.complete(d);
    } catch (e) {
      this.fail(d, this.resultOf(e), (e as Error)?.message ?? String(e));
    }
  }

  // ------------------------------------------------------------------ update (/5/0/2)

  private executeUpdate(): void {
    const pkg = this.downloaded;
    if (this.stateValue !== FirmwareState.Downloaded || pkg === undefined)
      throw new Lwm2mClientError('bad-request', '4.00', 'Update needs a downloaded package (State 2)');
    this.set(FirmwareState.Updating, UpdateResult.Initial);
    // answered 2.04 first; the install runs after
    this.clock.setTimeout(() => void this.install(pkg), 0);
  }

  private async install(pkg: DownloadedPackage): Promise<void> {
    let installed: InstalledFirmware | undefined;
    try {
      installed = ((await this.options.install(pkg)) as InstalledFirmware | undefined) ?? undefined;
    } catch (e) {
      // Appendix E.6: a failed update returns to Downloaded with Update Result 8 (or the sink's reason)
      this.set(FirmwareState.Downloaded, this.resultOf(e));
      return;
    }
    this.downloaded = undefined;
    if (installed) {
      if (installed.name !== undefined) this.client.set('/5/0/6', installed.name);
      if (installed.version !== undefined) {
        this.client.set('/5/0/7', installed.version);
        if (this.client.get('/3/0/3') !== undefined) this.client.set('/3/0/3', installed.version);
      }
    }
    this.set(FirmwareState.Idle, UpdateResult.Success);
  }
}

function toWriteError(e: unknown): Lwm2mClientError {
  const message = (e as Error)?.message ?? String(e);
  if (
    e instanceof FirmwareError &&
    (e.result === UpdateResult.NotEnoughFlash || e.result === UpdateResult.OutOfRam)
  )
    return new Lwm2mClientError('application', '4.13', message);
  return new Lwm2mClientError('application', '5.00', message);
}

/** Adds the digest object's definition to a model that can take it; true when the model has it. */
function ensureDigestObject(model: Lwm2mModel): boolean {
  if (model.getObject(FIRMWARE_DIGEST_OBJECT_ID) !== undefined) return true;
  const add = (model as { add?: (def: ObjectDefinition) => void }).add;
  if (typeof add !== 'function') return false;
  add.call(model, FIRMWARE_DIGEST_OBJECT);
  return true;
}

/** Installs the Firmware Update object (5/0) — and the digest object 30500/0 — on a client. */
export function installFirmwareUpdate(client: Lwm2mClient, options: FirmwareUpdateOptions): FirmwareUpdate {
  return new FirmwareUpdate(client, options);
}
