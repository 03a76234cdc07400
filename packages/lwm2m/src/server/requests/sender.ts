/**
 * Sending device-management and observe requests to a registered device (LwM2M TS Core 1.1 §6.3, §6.4):
 * the `DeviceRequestSender` interface, and its CoAP implementation on the server's endpoint. Queue mode is
 * a decorator of this interface (`queue-mode.ts`), see docs/ARCHITECTURE.md, "lwm2m".
 */
import {
  type BlockProgress,
  type ClientSecurity,
  type CoapEndpoint,
  CoapRequestError,
  type CoapResponse,
  formatCode,
  type Observation,
} from '@thimble/coap-core';
import { formatLwm2mPath, type Lwm2mPath } from '../../model/path.js';
import { Lwm2mServerError } from '../errors.js';
import type { Registration } from '../registration/store.js';
import type { OscoreContexts } from '../security/oscore.js';
import type { ServerLimits } from '../types.js';

export interface DeviceRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'FETCH' | 'iPATCH';
  readonly accept?: number;
  readonly contentFormat?: number;
  readonly payload?: Uint8Array | string;
  readonly query?: readonly string[];
  /** Milliseconds (default: the server's `requestTimeout`). */
  readonly timeout?: number | undefined;
  readonly onProgress?: (sent: number, total: number) => void;
  readonly blockSize?: number;
  readonly signal?: AbortSignal;
}

/** The CoAP request of an observation: GET on the path, or FETCH on / with the path list (composite). */
export interface DeviceObserveRequest {
  readonly method: 'GET' | 'FETCH';
  readonly accept: number;
  readonly contentFormat?: number;
  readonly payload?: Uint8Array;
}

/** An observation as sent: the registration it went out on (a queue-mode device may have re-registered). */
export interface SentObservation {
  readonly registration: Registration;
  readonly coap: Observation;
}

export interface DeviceRequestSender {
  /**
   * Sends `request` for `operation` on `path` (root-relative) to the device; resolves with its response
   * (any code: the caller decides what an error answer means), rejects with an `Lwm2mServerError` when
   * there is no answer.
   */
  request(r: Registration, operation: string, path: Lwm2mPath, request: DeviceRequest): Promise<CoapResponse>;
  /** Starts an observation (RFC 7641 §3.1); resolves once the first response arrived (or none did). */
  observe(
    r: Registration,
    operation: string,
    path: Lwm2mPath,
    request: DeviceObserveRequest,
    timeout: number | undefined,
    signal: AbortSignal,
  ): Promise<SentObservation>;
  /** Takes up an observation whose token the device was given before a restart (no message sent). */
  resume(
    r: Registration,
    path: Lwm2mPath,
    request: DeviceObserveRequest,
    token: Uint8Array,
    signal: AbortSignal,
  ): Observation;
}

/** The CoAP path of an LwM2M path on a device (below its registered root path, Core §6.2.1). */
export function segments(r: Registration, path: Lwm2mPath): string[] {
  const root = r.rootPath === '/' || r.rootPath === '' ? [] : r.rootPath.split('/').filter((s) => s !== '');
  return [...root, ...path.map(String)];
}

/** A device's error answer (4.xx / 5.xx) as a `device-error` with its code and diagnostic. */
export function deviceError(
  r: Registration,
  operation: string,
  path: Lwm2mPath,
  res: CoapResponse,
): Lwm2mServerError {
  let diagnostic = '';
  try {
    diagnostic = new TextDecoder('utf-8', { fatal: true }).decode(res.payload.subarray(0, 200));
  } catch {
    // a binary diagnostic is not shown
  }
  return new Lwm2mServerError(
    'device-error',
    `${operation} ${formatLwm2mPath(path)} on "${r.endpoint}" answered ${formatCode(res.code)}${diagnostic === '' ? '' : `: ${diagnostic}`}`,
    { code: res.code },
  );
}

function requestError(r: Registration, operation: string, path: Lwm2mPath, e: unknown): Error {
  const where = `${operation} ${formatLwm2mPath(path)} on "${r.endpoint}"`;
  if (e instanceof CoapRequestError) {
    if (e.reason === 'timeout') return new Lwm2mServerError('timeout', `${where}: no answer`, { cause: e });
    return new Lwm2mServerError('request-failed', `${where}: ${e.message}`, { cause: e });
  }
  return new Lwm2mServerError('request-failed', `${where}: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
  });
}

/** Requests on the server's CoAP endpoint, protected with OSCORE for devices that registered with it. */
export class CoapDeviceRequestSender implements DeviceRequestSender {
  constructor(
    private readonly endpoint: CoapEndpoint,
    private readonly oscore: OscoreContexts | undefined,
    private readonly limits: ServerLimits,
  ) {}

  async request(
    r: Registration,
    operation: string,
    path: Lwm2mPath,
    init: DeviceRequest,
  ): Promise<CoapResponse> {
    const security = this.securityFor(r, operation, path);
    try {
      return await this.endpoint.request({
        method: init.method,
        peer: r.peer,
        ...(security === undefined ? {} : { security }),
        path: segments(r, path),
        ...(init.query === undefined ? {} : { query: init.query }),
        ...(init.accept === undefined ? {} : { accept: init.accept }),
        ...(init.contentFormat === undefined ? {} : { contentFormat: init.contentFormat }),
        ...(init.payload === undefined ? {} : { payload: init.payload }),
        ...(init.blockSize === undefined ? {} : { blockSize: init.blockSize }),
        ...(init.signal === undefined ? {} : { signal: init.signal }),
        ...(init.onProgress === undefined
          ? {}
          : {
              onBlock: (b: BlockProgress) => {
                if (b.direction === 'upload') init.onProgress!(b.offset + b.data.length, b.total ?? 0);
              },
            }),
        timeout: init.timeout ?? this.limits.requestTimeout,
      });
    } catch (e) {
      throw requestError(r, operation, path, e);
    }
  }

  async observe(
    r: Registration,
    operation: string,
    path: Lwm2mPath,
    request: DeviceObserveRequest,
    timeout: number | undefined,
    signal: AbortSignal,
  ): Promise<SentObservation> {
    const security = this.securityFor(r, operation, path);
    try {
      const coap = await this.endpoint.observe({
        ...request,
        path: segments(r, path),
        signal,
        peer: r.peer,
        timeout: timeout ?? this.limits.requestTimeout,
        ...(security === undefined ? {} : { security }),
      });
      return { registration: r, coap };
    } catch (e) {
      throw requestError(r, operation, path, e);
    }
  }

  resume(
    r: Registration,
    path: Lwm2mPath,
    request: DeviceObserveRequest,
    token: Uint8Array,
    signal: AbortSignal,
  ): Observation {
    return this.endpoint.resumeObservation({
      ...request,
      path: segments(r, path),
      peer: r.peer,
      token,
      signal,
    });
  }

  /**
   * Device-management requests go out through the security the device registered with: its OSCORE context
   * when it registered with OSCORE (a secure transport protects its own session; nothing to add here).
   */
  private securityFor(r: Registration, operation: string, path: Lwm2mPath): ClientSecurity | undefined {
    if (r.authentication !== 'oscore') return undefined;
    if (this.oscore === undefined)
      throw new Lwm2mServerError(
        'request-failed',
        `${operation} ${formatLwm2mPath(path)} on "${r.endpoint}": the device uses OSCORE and the server has no OSCORE options`,
      );
    return this.oscore.clientSecurity(r.endpoint);
  }
}
