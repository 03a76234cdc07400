/**
 * Observe-Composite on the client (LwM2M TS Core 1.1 §6.4.3; TS Transport 1.1 §6.4: FETCH on / with
 * Observe=0 and a SenML path list, cancelled with Observe=1 and the same list, or a Reset). One
 * observation covers several paths; each path is evaluated with its own attributes, and a notification,
 * carrying the values of every path, goes when any one of them meets its conditions (pmin of that path;
 * pmax is the smallest of the paths'). Plain objects and arrays only (Espruino-class boards).
 */
import { type CoapRequest, peerKey, toHex } from '@thimble/coap-core';
import type { Lwm2mCompositeEntry } from '../../content/senml.js';
import type { Lwm2mNode } from '../../model/nodes.js';
import type { Lwm2mPath } from '../../model/path.js';
import type { Lwm2mValue } from '../../model/values.js';

/** The evaluation state of one observed path (a single observation is its own and only one). */
export interface ObservedPath {
  readonly path: Lwm2mPath;
  /** Numeric value at the last notification (for gt / lt / st). */
  lastValue: number | undefined;
  /** Value at the last evaluation (for epmax and edge). */
  lastEvaluated: Lwm2mValue | undefined;
  /** Clock time of the last evaluation (for epmin). */
  evaluatedAt: number;
  /** A change came within epmin of the last evaluation: evaluate when epmin has passed. */
  deferred: boolean;
}

/** The value of a resource (instance) node, undefined for other nodes. */
export function nodeValue(node: Lwm2mNode | undefined): Lwm2mValue | undefined {
  return node !== undefined && (node.kind === 'resource' || node.kind === 'resourceInstance')
    ? node.value
    : undefined;
}

export function observedPath(path: Lwm2mPath, node: Lwm2mNode | undefined, now: number): ObservedPath {
  const value = nodeValue(node);
  return {
    path,
    lastValue: typeof value === 'number' ? value : undefined,
    lastEvaluated: value,
    evaluatedAt: now,
    deferred: false,
  };
}

/**
 * The key of a composite observation: the server and the path list as it sent it (RFC 8132 §2.4, as the
 * endpoint keys its FETCH observers), so a repeated registration replaces its own observation.
 */
export function compositeKey(req: CoapRequest): string {
  return `${peerKey(req.peer)}|composite|${req.contentFormat ?? ''}|${toHex(req.payload)}`;
}

/** The entry for exactly `path` among the entries of a composite read, if any. */
export function entryAt(
  entries: readonly Lwm2mCompositeEntry[],
  path: Lwm2mPath,
): Lwm2mCompositeEntry | undefined {
  for (const e of entries) {
    if (e.path.length !== path.length) continue;
    let same = true;
    for (let i = 0; i < path.length; i++) if (e.path[i] !== path[i]) same = false;
    if (same) return e;
  }
  return undefined;
}

/** After a notification was built: the numeric value each path carried is the new reference for st / gt / lt. */
export function notified(members: readonly ObservedPath[], entries: readonly Lwm2mCompositeEntry[]): void {
  for (const m of members) {
    const v = nodeValue(entryAt(entries, m.path)?.node);
    if (typeof v === 'number') m.lastValue = v;
  }
}
