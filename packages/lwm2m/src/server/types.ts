/**
 * The public types of the LwM2M server's API: limits, request options, events. A leaf module: every
 * service of the server may import it (see docs/ARCHITECTURE.md, "lwm2m").
 */
import type { Lwm2mCompositeEntry } from '../content/senml.js';
import type { Lwm2mNode } from '../model/nodes.js';
import type { Lwm2mPath } from '../model/path.js';
import type { RegistrationLimits } from './registration/parse.js';
import type { Registration } from './registration/store.js';

export interface Lwm2mServerLimits extends RegistrationLimits {
  /** Seconds a registration outlives its lifetime before it expires (default 15). */
  readonly expiryGrace?: number;
  /** Milliseconds between expiry sweeps (default 1000). */
  readonly sweepInterval?: number;
  /** Default timeout of a device-management request, ms (default 30000). */
  readonly requestTimeout?: number;
  /** Most observations held by the server in total (default 10000). */
  readonly maxObservations?: number;
  /** Largest Send payload in bytes (default 16384). */
  readonly maxSendSize?: number;
  /**
   * Queue mode (Core §6.5): milliseconds a queue-mode device stays reachable after it last spoke (Register,
   * Update, Send, a response); default 93000 (CoAP MAX_TRANSMIT_WAIT, Transport §6.5).
   */
  readonly awakeTime?: number;
  /** Most requests waiting for queue-mode devices to wake up, in total (default 10000). */
  readonly maxQueuedRequests?: number;
}

/** The limits with their defaults filled in, as the services read them. */
export type ServerLimits = Required<Lwm2mServerLimits>;

export function resolveLimits(l: Lwm2mServerLimits = {}): ServerLimits {
  return {
    maxEndpointLength: l.maxEndpointLength ?? 128,
    maxPayloadSize: l.maxPayloadSize ?? 8192,
    maxObjectLinks: l.maxObjectLinks ?? 1024,
    expiryGrace: l.expiryGrace ?? 15,
    sweepInterval: l.sweepInterval ?? 1000,
    requestTimeout: l.requestTimeout ?? 30_000,
    maxObservations: l.maxObservations ?? 10_000,
    maxSendSize: l.maxSendSize ?? 16_384,
    awakeTime: l.awakeTime ?? 93_000,
    maxQueuedRequests: l.maxQueuedRequests ?? 10_000,
  };
}

export interface RequestOptionsBase {
  /** Milliseconds to wait for the device (default: `limits.requestTimeout`). */
  readonly timeout?: number;
  /** Abandons the request (each block of a Block-wise one) when aborted. */
  readonly signal?: AbortSignal;
}

export interface ReadOptions extends RequestOptionsBase {
  /** Content format to ask for (default: the best the device announced). */
  readonly format?: number;
}

export interface WriteOptions extends RequestOptionsBase {
  /** Replace (PUT, default) or partial update (POST) (Core §6.3.3). */
  readonly replace?: boolean;
  readonly format?: number;
  /**
   * Called as the device acknowledges each block of a Block1 write (RFC 7959 §2.5), with the bytes
   * acknowledged so far and the payload size (e.g. a firmware push's progress).
   */
  readonly onProgress?: (sent: number, total: number) => void;
  /** Block size of a Block1 write, 16–1024 (default: the endpoint's). */
  readonly blockSize?: number;
}

/** Notification attributes for Write-Attributes (Core §5.1.2); `null` removes an attribute. */
export interface WriteAttributesInput {
  readonly pmin?: number | null;
  readonly pmax?: number | null;
  readonly gt?: number | null;
  readonly lt?: number | null;
  readonly st?: number | null;
  readonly epmin?: number | null;
  readonly epmax?: number | null;
  /** LwM2M 1.2: notify on the rising (1) or falling (0) edge of a boolean resource. */
  readonly edge?: 0 | 1 | null;
  /** LwM2M 1.2: notifications Confirmable (1) or Non-confirmable (0). */
  readonly con?: 0 | 1 | null;
}

export interface SendEvent {
  readonly registration: Registration;
  readonly endpoint: string;
  /** Values sent (with their time when the device gave one). */
  readonly entries: readonly Lwm2mCompositeEntry[];
}

export interface NotificationEvent {
  readonly registration: Registration;
  readonly endpoint: string;
  readonly path: Lwm2mPath;
  readonly node: Lwm2mNode;
}

/** A notification of an Observe-Composite (Core §6.4.3): the values of every observed path. */
export interface CompositeNotificationEvent {
  readonly registration: Registration;
  readonly endpoint: string;
  readonly paths: readonly Lwm2mPath[];
  readonly entries: readonly Lwm2mCompositeEntry[];
}

export type Lwm2mServerEvents = {
  /** A new registration; `replaced` is the endpoint's previous registration, if there was one. */
  registered: (registration: Registration, replaced: Registration | undefined) => void;
  updated: (registration: Registration, previous: Registration) => void;
  deregistered: (registration: Registration) => void;
  expired: (registration: Registration) => void;
  notification: (event: NotificationEvent) => void;
  compositeNotification: (event: CompositeNotificationEvent) => void;
  send: (event: SendEvent) => void;
  /**
   * A listener of another event threw or its promise rejected (an `async` listener, e.g. one that reads
   * from a device that left meanwhile): reported here instead of crashing the process.
   */
  error: (error: Error) => void;
};
