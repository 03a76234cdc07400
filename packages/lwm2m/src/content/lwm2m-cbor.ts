/**
 * OMA-LwM2M CBOR, content format 11544 (LwM2M TS Core 1.2 §7.4, "LwM2M CBOR" data format). A payload is a CBOR map whose keys
 * are ids (unsigned integers) or arrays of ids (a path prefix folded into one key), and whose values are
 * nested maps or resource values; the ids from the root down to a value form its full path (object,
 * instance, resource[, resource instance]). Values are native CBOR: integers (Integer, Unsigned Integer,
 * Time; tag 1 epoch times are accepted), floats, booleans, text strings (String, Corelnk, Objlnk as
 * "3:0"), byte strings (Opaque).
 *
 * The encoder folds the request path into one array key (`{[3, 0]: {0: "Open Mobile Alliance", …}}`)
 * and nests the rest; composite payloads fold each entry's path the same way.
 */
import type { ResourceType } from '../model/definitions.js';
import type { Lwm2mNode } from '../model/nodes.js';
import { isValidId, type Lwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import type { Lwm2mValue, ObjectLink } from '../model/values.js';
import { cborDecode, cborEncode } from './cbor.js';
import { cborItemValue } from './cbor-value.js';
import { buildNode, flattenNode, MAX_RECORDS, type RawLeaf } from './common.js';
import { encodeError, Lwm2mContentError } from './errors.js';
import { compositeFromLeaves, type Lwm2mCompositeEntry } from './senml.js';

const FORMAT = 11544;

interface CborRaw {
  value: unknown;
  time?: number;
}

const bad = (msg: string): never => {
  throw new Lwm2mContentError('malformed', `LwM2M CBOR: ${msg}`, { format: FORMAT });
};

function walk(m: Map<unknown, unknown>, prefix: readonly number[], out: RawLeaf<CborRaw>[]): void {
  for (const [k, v] of m) {
    const p = prefix.slice();
    if (typeof k === 'number') p.push(k);
    else if (typeof k === 'bigint') p.push(Number(k));
    else if (Array.isArray(k) && k.length > 0 && k.length <= 4) {
      for (const x of k) p.push(typeof x === 'bigint' ? Number(x) : (x as number));
    } else bad('keys are ids or arrays of 1 to 4 ids');
    for (let i = prefix.length; i < p.length; i++) {
      const id = p[i];
      if (typeof id !== 'number' || !isValidId(id)) bad(`key ${String(id)} is not an id 0–65534`);
    }
    // Checked before going deeper: nesting is bounded by the path length, whatever the input.
    if (p.length > 4) bad(`path /${p.join('/')} is deeper than a resource instance`);
    if (v instanceof Map) walk(v, p, out);
    else {
      if (out.length >= MAX_RECORDS) bad(`more than ${MAX_RECORDS} values`);
      out.push({ path: p, raw: { value: v } });
    }
  }
}

function readLeaves(bytes: Uint8Array): RawLeaf<CborRaw>[] {
  const doc = cborDecode(bytes, FORMAT);
  if (!(doc instanceof Map)) return bad('the payload is a map');
  const out: RawLeaf<CborRaw>[] = [];
  walk(doc, [], out);
  return out;
}

function cborValue(type: ResourceType, raw: CborRaw, path: Lwm2mPath): Lwm2mValue {
  return cborItemValue(type, raw.value, path);
}

/**
 * LwM2M CBOR is self-describing (TS Core 1.2 §7.4.7): the CBOR item's type gives the type of a value the
 * model has no definition for (a vendor object). A whole number is an Integer, else a Float.
 */
function cborTypeOf(raw: CborRaw): ResourceType | undefined {
  const v = raw.value;
  if (typeof v === 'bigint') return 'Integer';
  if (typeof v === 'number') return Number.isInteger(v) ? 'Integer' : 'Float';
  if (typeof v === 'string') return 'String';
  if (typeof v === 'boolean') return 'Boolean';
  if (v instanceof Uint8Array) return 'Opaque';
  if (v instanceof Date) return 'Time';
  return undefined;
}

export function decodeLwm2mCbor(path: Lwm2mPath, bytes: Uint8Array, model: Lwm2mModel): Lwm2mNode {
  return buildNode(path, readLeaves(bytes), model, FORMAT, cborValue, cborTypeOf);
}

export function decodeLwm2mCborComposite(
  bytes: Uint8Array,
  model: Lwm2mModel,
  paths?: readonly Lwm2mPath[],
): Lwm2mCompositeEntry[] {
  return compositeFromLeaves(readLeaves(bytes), model, FORMAT, cborValue, paths, cborTypeOf);
}

function leafValue(type: ResourceType, v: Lwm2mValue): unknown {
  if (type === 'Objlnk') {
    const o = v as ObjectLink;
    return `${o.objectId}:${o.instanceId}`;
  }
  return v;
}

type Tree = Map<number | number[], unknown>;

function fold(entries: readonly Lwm2mCompositeEntry[], model: Lwm2mModel | undefined): Tree {
  const root: Tree = new Map();
  for (const e of entries) {
    if (e.path.length === 0)
      throw encodeError('invalid-path', 'LwM2M CBOR entries need an object path', FORMAT);
    const leaves = flattenNode(e.path, e.node, FORMAT, model);
    const key: number | number[] = e.path.length === 1 ? e.path[0]! : [...e.path];
    if (e.path.length === leaves[0]?.path.length && leaves.length === 1) {
      root.set(key, leafValue(leaves[0].type, leaves[0].value));
      continue;
    }
    const sub: Map<number, unknown> = new Map();
    for (const leaf of leaves) {
      let m = sub;
      const rest = leaf.path.slice(e.path.length);
      for (let i = 0; i < rest.length - 1; i++) {
        let next = m.get(rest[i]!) as Map<number, unknown> | undefined;
        if (next === undefined) {
          next = new Map();
          m.set(rest[i]!, next);
        }
        m = next;
      }
      m.set(rest[rest.length - 1]!, leafValue(leaf.type, leaf.value));
    }
    root.set(key, sub);
  }
  return root;
}

export function encodeLwm2mCbor(path: Lwm2mPath, node: Lwm2mNode, model?: Lwm2mModel): Uint8Array {
  return cborEncode(fold([{ path, node }], model));
}

export function encodeLwm2mCborComposite(
  entries: readonly Lwm2mCompositeEntry[],
  model?: Lwm2mModel,
): Uint8Array {
  return cborEncode(fold(entries, model));
}
