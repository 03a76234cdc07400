/**
 * OMA-LwM2M JSON, content format 11543 (LwM2M TS 1.0.2 §6.4.4; TS Core 1.1 §7.4 keeps it as
 * the legacy "JSON" data format): `{"bn":"/3/0/","bt":…,"e":[{"n":"0","sv":"…"},{"n":"6/0","v":1},…]}`. Names are relative to
 * the base name, or to the request path when there is no `bn`. Value fields: `v` (Integer, Unsigned
 * Integer, Float, Time), `bv` (Boolean), `sv` (String, Corelnk, and Opaque as base64), `ov` (Objlnk
 * "3:0", TS 1.1). Times: `bt` + `t` (seconds).
 */
import { utf8Encode } from '@thimble/coap-core';
import type { ResourceType } from '../model/definitions.js';
import type { Lwm2mNode } from '../model/nodes.js';
import { type Lwm2mPath, Lwm2mPathError, parseLwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import {
  base64Decode,
  base64Encode,
  type Lwm2mValue,
  normalizeValue,
  type ObjectLink,
  valueFromText,
} from '../model/values.js';
import { buildNode, flattenNode, leafJsonNumber, MAX_RECORDS, pathText, type RawLeaf } from './common.js';
import { Lwm2mContentError } from './errors.js';
import { type JsonValue, jsonString, parseJson } from './json-text.js';
import { compositeFromLeaves, type Lwm2mCompositeEntry } from './senml.js';
import { utf8Text } from './text-bytes.js';

const FORMAT = 11543;

interface JsonRaw {
  field: 'v' | 'bv' | 'sv' | 'ov';
  value: JsonValue;
  time?: number;
}

const bad = (msg: string): never => {
  throw new Lwm2mContentError('malformed', `LwM2M JSON: ${msg}`, { format: FORMAT });
};
const isNum = (v: unknown): v is number | bigint => typeof v === 'number' || typeof v === 'bigint';

function readLeaves(path: Lwm2mPath, bytes: Uint8Array): RawLeaf<JsonRaw>[] {
  const doc = parseJson(utf8Text(bytes), FORMAT);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return bad('the payload is an object');
  const top = doc as { [key: string]: JsonValue };
  let base = path.length === 0 ? '/' : `/${path.join('/')}/`;
  if (top.bn !== undefined) {
    if (typeof top.bn !== 'string') bad('bn must be a string');
    base = top.bn as string;
  }
  let bt = 0;
  if (top.bt !== undefined) {
    if (!isNum(top.bt)) bad('bt must be a number');
    bt = Number(top.bt);
  }
  const e = top.e;
  if (!Array.isArray(e)) return bad('"e" must be an array');
  if (e.length > MAX_RECORDS) bad(`more than ${MAX_RECORDS} entries`);
  const out: RawLeaf<JsonRaw>[] = [];
  for (const item of e) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return bad('entries are objects');
    const r = item as { [key: string]: JsonValue };
    if (r.n !== undefined && typeof r.n !== 'string') bad('n must be a string');
    const name = base + ((r.n as string | undefined) ?? '');
    let raw: JsonRaw | undefined;
    for (const f of ['v', 'bv', 'sv', 'ov'] as const) {
      if (r[f] !== undefined) {
        if (raw !== undefined) bad(`entry "${name}" has more than one value`);
        raw = { field: f, value: r[f] };
      }
    }
    if (raw === undefined) return bad(`entry "${name}" has no value`);
    if (r.t !== undefined) {
      if (!isNum(r.t)) bad('t must be a number');
      raw.time = bt + Number(r.t);
    } else if (top.bt !== undefined) raw.time = bt;
    let p: Lwm2mPath;
    try {
      if (!name.startsWith('/')) throw new Lwm2mPathError('syntax', `name "${name}" is not an absolute path`);
      p = parseLwm2mPath(name);
    } catch (err) {
      if (err instanceof Lwm2mPathError) {
        throw new Lwm2mContentError('invalid-path', `LwM2M JSON: ${err.message}`, { format: FORMAT });
      }
      throw err;
    }
    out.push({ path: p, raw });
  }
  return out;
}

function wrongJson(type: ResourceType, field: string, path: Lwm2mPath): never {
  throw new Lwm2mContentError('wrong-type', `${pathText(path)}: ${type} cannot come in "${field}"`, {
    format: FORMAT,
  });
}

function jsonValue(type: ResourceType, raw: JsonRaw, path: Lwm2mPath): Lwm2mValue {
  const v = raw.value;
  switch (type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Time':
    case 'Float':
      if (raw.field !== 'v' || !isNum(v)) return wrongJson(type, raw.field, path);
      if (type === 'Float') return Number(v);
      return normalizeValue(type, v);
    case 'Boolean':
      if (raw.field !== 'bv' || typeof v !== 'boolean') return wrongJson(type, raw.field, path);
      return v;
    case 'Opaque':
      if (raw.field !== 'sv' || typeof v !== 'string') return wrongJson(type, raw.field, path);
      return base64Decode(v);
    case 'Objlnk':
      if (raw.field !== 'ov' || typeof v !== 'string') return wrongJson(type, raw.field, path);
      return valueFromText('Objlnk', v);
    default:
      if (raw.field !== 'sv' || typeof v !== 'string') return wrongJson(type, raw.field, path);
      return v;
  }
}

export function decodeLwm2mJson(path: Lwm2mPath, bytes: Uint8Array, model: Lwm2mModel): Lwm2mNode {
  return buildNode(path, readLeaves(path, bytes), model, FORMAT, jsonValue);
}

/** Timestamped or multi-path LwM2M JSON (see `decodeSenmlComposite` for the meaning of `paths`). */
export function decodeLwm2mJsonComposite(
  bytes: Uint8Array,
  model: Lwm2mModel,
  paths?: readonly Lwm2mPath[],
): Lwm2mCompositeEntry[] {
  return compositeFromLeaves(readLeaves([], bytes), model, FORMAT, jsonValue, paths);
}

export function encodeLwm2mJson(path: Lwm2mPath, node: Lwm2mNode, model?: Lwm2mModel): Uint8Array {
  const leaves = flattenNode(path, node, FORMAT, model);
  const bn = `/${path.join('/')}/`;
  let s = `{"bn":${jsonString(bn)},"e":[`;
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i]!;
    if (i > 0) s += ',';
    const n = leaf.path.slice(path.length).join('/');
    s += n === '' ? '{' : `{"n":${jsonString(n)},`;
    const v = leaf.value;
    switch (leaf.type) {
      case 'Integer':
      case 'Unsigned Integer':
      case 'Time':
      case 'Float':
        s += `"v":${leafJsonNumber(leaf, FORMAT)}}`;
        break;
      case 'Boolean':
        s += `"bv":${v ? 'true' : 'false'}}`;
        break;
      case 'Opaque':
        s += `"sv":"${base64Encode(v as Uint8Array)}"}`;
        break;
      case 'Objlnk': {
        const o = v as ObjectLink;
        s += `"ov":"${o.objectId}:${o.instanceId}"}`;
        break;
      }
      default:
        s += `"sv":${jsonString(v as string)}}`;
    }
  }
  return utf8Encode(`${s}]}`);
}
