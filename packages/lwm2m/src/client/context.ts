/**
 * `ClientContext`: what the parts of the client (server connections, bootstrap, device management,
 * notifications, Send) may ask of the client they belong to. The façade `Lwm2mClient` implements it once
 * and hands the same object to every part; a part in a lower folder declares the view it needs
 * (`ConnectionHost` in registration/, `BootstrapHost` in bootstrap/) and this interface extends those
 * (docs/ARCHITECTURE.md, "lwm2m").
 */
import type { Clock } from '@thimble/coap-core';
import type { Lwm2mModel } from '../model/registry.js';
import type { BootstrapHost } from './bootstrap/bootstrap.js';
import type { AttributeStore } from './objects/attributes.js';
import type { ObjectReader } from './objects/reader.js';
import type { InstanceStore } from './objects/store.js';
import type { ConnectionHost, Lwm2mVersion, ServerConnection } from './registration/servers.js';
import type { Lwm2mClientEvents } from './types.js';

export interface ClientContext extends ConnectionHost, BootstrapHost {
  /** The highest LwM2M version the client speaks (a server may have registered a lower one). */
  readonly version: Lwm2mVersion;
  readonly model: Lwm2mModel;
  readonly objects: InstanceStore;
  readonly reader: ObjectReader;
  /** Notification attributes written by servers (Core §5.1.2). */
  readonly attributes: AttributeStore;
  readonly clock: Clock;
  /** Milliseconds to wait for a server's response (undefined: the endpoint's default). */
  readonly requestTimeout: number | undefined;
  /** One connection per server account while started. */
  readonly connections: readonly ServerConnection[];
  /** Queue mode (Core §6.5): the client is quiet; a notification waits for a Registration Update. */
  readonly sleeping: boolean;
  /** Access Control (object 2, Core §7.3.2) is enforced. */
  accessControlActive(): boolean;
  /** The version of an object the device implements (Core §6.2.1 `ver`). */
  objectVersion(objectId: number): string;
  /** Objects or instances were added or removed: the servers learn it with an Update. */
  objectsDidChange(): void;
  /** An exchange with a server happened (queue mode keeps the client awake). */
  activity(): void;
  /** A Registration Update to every registered server (Core §6.2.2). */
  triggerUpdate(): Promise<void>;
  /** Client-initiated bootstrap (Core §6.1). */
  bootstrap(): Promise<void>;
  /** Tells the application (the client's events). */
  emit<K extends keyof Lwm2mClientEvents & string>(event: K, ...args: Parameters<Lwm2mClientEvents[K]>): void;
}
