/**
 * What an LwM2M client keeps across a reboot, behind a store interface (portable; the Node file store is
 * in src/node/client-state.ts):
 *
 * - the bootstrap result: the instances of Security (0), Server (1) and OSCORE (21), so a device that was
 *   bootstrapped once registers with the same accounts after a restart and never bootstraps again while
 *   those accounts are valid (LwM2M TS Core 1.1 §6.1: bootstrap is needed only without server accounts);
 * - per server (by Short Server ID) the registration: its location, lifetime and when it was made or last
 *   updated, so the restarted client sends a Registration Update (Core §6.2.2) rather than a new Register
 *   while the registration is still alive on the server;
 * - the OSCORE sender sequence numbers, reserved ahead of use (RFC 8613 Appendix B.1.1), so a restart
 *   never reuses a nonce.
 *
 * Values are JSON-safe: opaque as `{ "hex": ... }`, object links as `{ "objlnk": "o:i" }`, big integers as
 * `{ "bigint": "..." }`.
 */
import { fromHex, toHex } from '@thimble/coap-core';
import type { SequenceNumberStore } from '@thimble/oscore';
import { MemorySequenceStore } from '@thimble/oscore';
import type { ResourceInstanceNode } from '../../model/nodes.js';
import type { Lwm2mValue } from '../../model/values.js';
import type { InstanceStore, ResourceInit } from '../objects/store.js';

/** A value as the state file holds it. */
export type StoredValue =
  | number
  | boolean
  | string
  | { readonly hex: string }
  | { readonly objlnk: string }
  | { readonly bigint: string };

/** A resource: one value, or the `[instanceId, value]` pairs of a multiple resource. */
export type StoredResource =
  | StoredValue
  | { readonly instances: readonly (readonly [number, StoredValue])[] };

export interface StoredInstance {
  readonly objectId: number;
  readonly instanceId: number;
  readonly resources: { readonly [resourceId: string]: StoredResource };
}

export interface StoredRegistration {
  /** The server's URI when the registration was made (a different URI means a different server). */
  readonly uri: string;
  /** Location path segments the server gave (`["rd", "abc"]`). */
  readonly location: readonly string[];
  /** Registered lifetime, seconds. */
  readonly lifetime: number;
  /** Registered binding (`b`). */
  readonly binding: string;
  /** The LwM2M version the server accepted. */
  readonly version: string;
  /** Clock time (ms) of the Register or the last successful Update. */
  readonly at: number;
}

export interface ClientState {
  /** Format version of this record. */
  readonly format: 1;
  /** Instances of objects 0, 1 and 21 (the bootstrap result); absent when never saved. */
  readonly objects?: readonly StoredInstance[];
  /** Registrations by Short Server ID. */
  readonly registrations: { readonly [shortServerId: string]: StoredRegistration };
}

/**
 * Where the client keeps its state. Calls are synchronous on purpose: state is small, and a board without
 * an event loop for file I/O (Espruino) can implement it on its flash storage.
 */
export interface ClientStateStore {
  /** The saved state, or undefined when nothing was saved yet. */
  load(): ClientState | undefined;
  /** Replaces the saved state (durably, before returning). */
  save(state: ClientState): void;
  /** The sender sequence number store of one OSCORE context (`name` is a safe file-name fragment). */
  sequenceStore(name: string): SequenceNumberStore;
}

/** Keeps the state in memory (tests; a client that shares a store object across "reboots"). */
export class MemoryClientStateStore implements ClientStateStore {
  state: ClientState | undefined;
  /** Number of saves (for tests). */
  saves = 0;
  private readonly sequences: { [name: string]: MemorySequenceStore } = {};

  load(): ClientState | undefined {
    // a copy, so the caller never shares objects with what is "on disk"
    return this.state === undefined ? undefined : (JSON.parse(JSON.stringify(this.state)) as ClientState);
  }

  save(state: ClientState): void {
    this.state = JSON.parse(JSON.stringify(state)) as ClientState;
    this.saves++;
  }

  sequenceStore(name: string): SequenceNumberStore {
    let s = this.sequences[name];
    if (s === undefined) {
      s = new MemorySequenceStore();
      this.sequences[name] = s;
    }
    return s;
  }
}

export function toStoredValue(v: Lwm2mValue): StoredValue {
  if (v instanceof Uint8Array) return { hex: toHex(v) };
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (typeof v === 'object') return { objlnk: `${v.objectId}:${v.instanceId}` };
  return v;
}

export function fromStoredValue(v: StoredValue): Lwm2mValue {
  if (typeof v !== 'object' || v === null) return v;
  if ('hex' in v) return fromHex(v.hex);
  if ('bigint' in v) return BigInt(v.bigint);
  if ('objlnk' in v) {
    const [o, i] = v.objlnk.split(':');
    return { objectId: Number(o), instanceId: Number(i) };
  }
  throw new Error('unknown stored value');
}

export function toStoredResource(v: Lwm2mValue | ResourceInstanceNode[]): StoredResource {
  if (!Array.isArray(v)) return toStoredValue(v as Lwm2mValue);
  return { instances: (v as ResourceInstanceNode[]).map((ri) => [ri.id, toStoredValue(ri.value)] as const) };
}

/** The application form (`ResourceValue`) of a stored resource. */
export function fromStoredResource(v: StoredResource): Lwm2mValue | (readonly [number, Lwm2mValue])[] {
  if (typeof v === 'object' && v !== null && 'instances' in v)
    return v.instances.map(([id, x]) => [id, fromStoredValue(x)] as const);
  return fromStoredValue(v as StoredValue);
}

/** Whether a stored registration is still alive at `now` (a little margin: an Update needs time). */
export function registrationAlive(r: StoredRegistration, now: number): boolean {
  return r.at + r.lifetime * 1000 - 5_000 > now;
}

/** Objects the state store keeps: the bootstrap result (Security, Server, OSCORE). */
export const STATE_OBJECTS: readonly number[] = [0, 1, 21];

/** The stored form of the instances of objects 0, 1 and 21 (values only: callbacks are not state). */
export function snapshotObjects(objects: InstanceStore): StoredInstance[] {
  const out: StoredInstance[] = [];
  for (const oid of STATE_OBJECTS) {
    for (const iid of objects.instanceIds(oid)) {
      const e = objects.get(oid, iid)!;
      const resources: { [rid: string]: StoredResource } = {};
      for (const rid of objects.resourceIds(e)) {
        const v = e.slots[rid]!.value;
        if (v !== undefined) resources[String(rid)] = toStoredResource(v);
      }
      out.push({ objectId: oid, instanceId: iid, resources });
    }
  }
  return out;
}

/** Puts stored instances back: an object that has stored instances loses its current ones first. */
export function restoreObjects(objects: InstanceStore, list: readonly StoredInstance[]): void {
  for (const oid of STATE_OBJECTS) {
    if (!list.some((i) => i.objectId === oid)) continue;
    for (const iid of objects.instanceIds(oid)) objects.remove(oid, iid);
  }
  for (const inst of list) {
    if (STATE_OBJECTS.indexOf(inst.objectId) < 0) continue;
    const resources: { [rid: number]: ResourceInit } = {};
    for (const k of Object.keys(inst.resources))
      resources[Number(k)] = fromStoredResource(inst.resources[k]!) as ResourceInit;
    objects.add(inst.objectId, inst.instanceId, resources);
  }
}
