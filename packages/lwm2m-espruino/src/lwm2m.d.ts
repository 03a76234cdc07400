/**
 * Typings for editors: `@thimble/lwm2m-espruino` (dist/lwm2m-core.js and dist/lwm2m-full.js), the compact
 * LwM2M client written for the Espruino interpreter. Both profiles share this API; the full profile adds
 * the options and events marked "full".
 */

/** A resource value: integer or float, boolean, string (also opaque bytes as a binary string), or an array for a multiple resource. */
export type ResourceValue = number | boolean | string | number[] | string[] | boolean[];

/** A resource given by callbacks (as `Lwm2mClient` of @thimble/lwm2m): read, write, execute. */
export interface ResourceHandler {
  /** The current value (synchronous on Espruino). */
  read?: () => ResourceValue;
  /** A Write from the server (LwM2M TS Core 1.1 §6.3.3). */
  write?: (value: ResourceValue) => void;
  /** An Execute from the server, with its arguments as text (Core §6.3.5). */
  execute?: (args: string) => void;
  /** A plain value that Write replaces (when there is no `read`). */
  value?: ResourceValue;
  /** The type to encode and decode: i integer, f float, b boolean, s string, o opaque (full); else from the value. */
  type?: 'i' | 'f' | 'b' | 's' | 'o';
}

export type Resource = ResourceValue | ResourceHandler;

export interface Lwm2mClientOptions {
  /** The endpoint name (`ep`). */
  endpoint: string;
  /** The LwM2M server's (full: with `bootstrap`, the bootstrap server's) IP address. */
  host: string;
  /** Its UDP port; 5683 when absent. */
  port?: number;
  /** Registration lifetime in seconds; 300 when absent. */
  lifetime?: number;
  /** The Short Server ID in /0/0/10 and /1/0/0; 1 when absent. */
  shortId?: number;
  /** The local UDP port; any when absent. */
  localPort?: number;
  /** full: host/port are the bootstrap server's: client-initiated bootstrap first (Core §6.1.3), then Register. */
  bootstrap?: boolean;
  /**
   * Queue mode (Core §6.5): core registers with binding UQ (LwM2M 1.0) and does not sleep; full registers
   * with the Q parameter (1.1) and sleeps `awake` seconds after it last heard from the server, answering
   * nothing until its next Update.
   */
  queue?: boolean;
  /** full: seconds the client stays awake in queue mode (Transport §6.5); 93 when absent. */
  awake?: number;
  /** full: the largest image taken when the server does not say its size (Size1/Size2); 131072 when absent. */
  firmwareMax?: number;
  /** full: runs on Execute /5/0/2 with the image in Storage; `done(ok)` gives Update Result 1 or 8. */
  install?: (file: string, length: number, done: (ok: boolean) => void) => void;
  /** full: the StorageFile name firmware images are written to; "fw" when absent. */
  firmwareFile?: string;
}

export interface OperationEvent {
  /** The CoAP method code: 1 GET, 2 POST, 3 PUT, 4 DELETE. */
  op: number;
  path: string;
  /** The CoAP response code as class * 32 + detail (69 = 2.05 Content). */
  code: number;
}

export declare class Lwm2mClient {
  constructor(options: Lwm2mClientOptions);
  /** Adds or replaces an object instance; when registered the server learns about it with an Update. */
  addInstance(objectId: number, instanceId: number, resources: { [resourceId: number]: Resource }): void;
  /** Tells observers of `path` ("/3303/0/5700") that its value changed. */
  changed(path: string): void;
  /** Binds the socket and registers (or, full profile, bootstraps first). */
  start(): void;
  /** Sends an Update now; with `objects` true it carries the object links. */
  update(objects?: boolean): void;
  /** De-registers, then closes the socket; `done` runs when that is over. */
  stop(done?: () => void): void;
  /** full: Send (LwM2M TS Core 1.1 §6.4.3): the values of `paths` as SenML JSON to the server. */
  send(paths: string[], done?: (ok: boolean) => void): void;
  on(event: 'registered', listener: (location: string) => void): void;
  on(event: 'updated' | 'deregistered' | 'bootstrapped' | 'sleep', listener: () => void): void;
  on(event: 'error', listener: (reason: string) => void): void;
  on(event: 'operation', listener: (operation: OperationEvent) => void): void;
  /** full: the Firmware Update state (5/0/3) changed: 0 idle, 1 downloading, 2 downloaded, 3 updating. */
  on(event: 'firmware', listener: (state: number, result: number) => void): void;
}

/** full profile only: encodes a CoAP message (RFC 7252 §3) as a binary string; options as [number, binary string] pairs in order. */
export declare function encode(
  type: number,
  code: number,
  messageId: number,
  token: string,
  options: [number, string][],
  payload: string,
): string;

/** A decoded CoAP message: type, code, message ID, token, options, payload. */
export interface DecodedMessage {
  t: number;
  c: number;
  m: number;
  k: string;
  o: [number, string][];
  p: string;
}

/** full profile only: decodes a CoAP message from a binary string; throws a string naming what is malformed. */
export declare function decode(datagram: string): DecodedMessage;
