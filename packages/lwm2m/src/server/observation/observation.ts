/**
 * The server's observations of devices (LwM2M TS Core 1.1 §6.4.1–§6.4.4, RFC 7641): one path
 * (`ServerObservation`) or several (`ServerCompositeObservation`), delivering decoded values.
 */
import { type Observation, toHex } from '@thimble/coap-core';
import type { Lwm2mCompositeEntry } from '../../content/senml.js';
import type { Lwm2mNode } from '../../model/nodes.js';
import type { Lwm2mPath } from '../../model/path.js';
import { Emitter } from '../../util/emitter.js';

type ObservationEvents<T> = {
  notification: (value: T) => void;
  error: (error: Error) => void;
  end: () => void;
};

/** What the observations of one path and of several paths share. */
abstract class ObservationBase<T> extends Emitter<ObservationEvents<T>> {
  /**
   * The newest value (the first one is the Observe response). Undefined for an observation taken up from
   * the store after a restart until its first notification arrives.
   */
  latest: T | undefined;
  private ended = false;

  constructor(
    readonly endpoint: string,
    readonly registrationId: string,
    first: T | undefined,
    private readonly coap: Observation,
    /** Drops the CoAP observation without a message (its token is forgotten; RFC 7641 §3.6 lets late notifications get RST). */
    private readonly abort: () => void,
    private readonly onEnd: () => void,
  ) {
    super();
    this.latest = first;
  }

  /** The CoAP token (hex): the key of the observation in the `ObservationStore`. */
  get token(): string {
    return toHex(this.coap.token ?? new Uint8Array(0));
  }

  get done(): boolean {
    return this.ended;
  }

  /** @internal */
  deliver(value: T): void {
    if (this.ended) return;
    this.latest = value;
    this.emit('notification', value);
  }

  /** @internal a notification that could not be decoded: reported, the observation goes on */
  report(error: Error): void {
    if (!this.ended) this.emit('error', error);
  }

  /** @internal */
  fail(error: Error): void {
    if (this.ended) return;
    this.emit('error', error);
    this.finish();
  }

  /** Cancels actively (Core §6.4.2 Cancel Observation, RFC 7641 §3.6). */
  async cancel(): Promise<void> {
    if (this.ended) return;
    this.end();
    await this.coap.cancel();
  }

  /** @internal ends without a message to the device (it deregistered or is gone). */
  finish(): void {
    if (this.ended) return;
    this.end();
    this.abort();
  }

  private end(): void {
    this.ended = true;
    this.onEnd();
    this.emit('end');
  }
}

/** An observation of one path on one device, delivering decoded nodes (Core §6.4.1, §6.4.2). */
export class ServerObservation extends ObservationBase<Lwm2mNode> {
  constructor(
    endpoint: string,
    registrationId: string,
    readonly path: Lwm2mPath,
    first: Lwm2mNode | undefined,
    coap: Observation,
    abort: () => void,
    onEnd: () => void,
  ) {
    super(endpoint, registrationId, first, coap, abort, onEnd);
  }
}

/**
 * An Observe-Composite of several paths on one device (Core §6.4.3, Transport §6.4: FETCH with Observe
 * and a SenML path list); each notification carries the values of every path that has one.
 */
export class ServerCompositeObservation extends ObservationBase<Lwm2mCompositeEntry[]> {
  constructor(
    endpoint: string,
    registrationId: string,
    readonly paths: readonly Lwm2mPath[],
    first: Lwm2mCompositeEntry[] | undefined,
    coap: Observation,
    abort: () => void,
    onEnd: () => void,
  ) {
    super(endpoint, registrationId, first, coap, abort, onEnd);
  }
}

export type AnyObservation = ServerObservation | ServerCompositeObservation;
