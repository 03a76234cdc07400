/**
 * SenML JSON (content format 110) and SenML CBOR (112) as LwM2M uses them (LwM2M TS Core 1.1 §7.4,
 * "SenML JSON" and "SenML CBOR" data formats, §7.4.7 in TS Core 1.2; RFC 8428). Each record's name is
 * the base name (`bn`, carried over to the following records) plus its name (`n`); together they form
 * the full path of a resource or resource instance. Values: `v` numbers (Integer, Unsigned Integer,
 * Float, Time), `vb` Boolean, `vs` String and Corelnk, `vd` Opaque (base64url in JSON, a byte string in
 * CBOR), `vlo` Objlnk as "3:0" (LwM2M's extension). Times: `bt` + `t`, resolved to absolute seconds
 * (`time` of a composite entry). A base value `bv` is added to `v`; units (`bu`, `u`) and other fields
 * are ignored; fields ending in "_" are refused. CBOR labels (RFC 8428 §6): bn −2, bt −3, bv −5, n 0,
 * v 2, vs 3, vb 4, t 6, vd 8, and the text label "vlo".
 *
 * Single-path payloads (Read / Write / Observe on one path) decode to one node; composite payloads
 * (Read-Composite, Write-Composite, Send, composite notifications) to a list of entries.
 */
import { utf8Encode } from '@thimble/coap-core';
import type { ResourceType } from '../model/definitions.js';
import type { Lwm2mNode } from '../model/nodes.js';
import {
  formatLwm2mPath,
  isPathPrefix,
  type Lwm2mPath,
  Lwm2mPathError,
  parseLwm2mPath,
} from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import {
  base64Decode,
  base64Encode,
  type Lwm2mValue,
  normalizeValue,
  type ObjectLink,
  valueFromText,
} from '../model/values.js';
import { cborDecode, cborEncode } from './cbor.js';
import {
  buildNode,
  decodingDefinition,
  flattenNode,
  type Leaf,
  leafJsonNumber,
  MAX_RECORDS,
  pathText,
  type RawLeaf,
  type TypeOf,
  typedValue,
} from './common.js';
import { encodeError, Lwm2mContentError } from './errors.js';
import { type JsonValue, jsonNumber, jsonString, parseJson } from './json-text.js';
import { utf8Text } from './text-bytes.js';

/** A node at a path, as carried by composite operations; `time` (seconds) when the record had one. */
export interface Lwm2mCompositeEntry {
  readonly path: Lwm2mPath;
  readonly node: Lwm2mNode;
  readonly time?: number;
}

export type SenmlValueField = 'v' | 'vs' | 'vb' | 'vd' | 'vlo';

/** A SenML record after base-name and base-time resolution. */
export interface SenmlRecord {
  readonly name: string;
  /** The value field, undefined for a record without value (a Read-Composite request path). */
  readonly field: SenmlValueField | undefined;
  readonly value: unknown;
  /** Absolute time (bt + t), undefined when the record has neither. */
  readonly time: number | undefined;
}

const JSON_FORMAT = 110;
const CBOR_FORMAT = 112;

// ---- Reading records --------------------------------------------------------------------------------

interface RecordFields {
  bn?: unknown;
  bt?: unknown;
  /** Base value (RFC 8428 §4.1): added to the "v" of this and the following records. */
  bv?: unknown;
  n?: unknown;
  t?: unknown;
  v?: unknown;
  vs?: unknown;
  vb?: unknown;
  vd?: unknown;
  vlo?: unknown;
}

const CBOR_LABELS: { [label: number]: keyof RecordFields | undefined } = {
  [-2]: 'bn',
  [-3]: 'bt',
  [-5]: 'bv',
  0: 'n',
  2: 'v',
  3: 'vs',
  4: 'vb',
  6: 't',
  8: 'vd',
};

const isNum = (v: unknown): v is number | bigint => typeof v === 'number' || typeof v === 'bigint';

/** v + bv, exact for integers (bigint when either side is one or the sum leaves the safe range). */
function addBase(bv: number | bigint, v: number | bigint): number | bigint {
  if (typeof bv === 'number' && typeof v === 'number') {
    const sum = bv + v;
    if (Number.isSafeInteger(sum) || !Number.isInteger(bv) || !Number.isInteger(v)) return sum;
  }
  if ((typeof bv === 'bigint' || Number.isInteger(bv)) && (typeof v === 'bigint' || Number.isInteger(v))) {
    return BigInt(bv) + BigInt(v);
  }
  return Number(bv) + Number(v);
}

function badSenml(format: number, msg: string): never {
  throw new Lwm2mContentError('malformed', `SenML: ${msg}`, { format });
}

/** Resolves base name and base time (RFC 8428 §4.6 "Resolved Records") over a list of raw records. */
function resolveRecords(raw: readonly RecordFields[], format: number, withValues: boolean): SenmlRecord[] {
  if (raw.length > MAX_RECORDS) badSenml(format, `more than ${MAX_RECORDS} records`);
  let bn = '';
  let bt = 0;
  let haveBt = false;
  let bv: number | bigint = 0;
  const out: SenmlRecord[] = [];
  for (let k = 0; k < raw.length; k++) {
    const r = raw[k]!;
    if (r.bn !== undefined) {
      if (typeof r.bn !== 'string') badSenml(format, 'bn must be a string');
      bn = r.bn as string;
    }
    if (r.bt !== undefined) {
      if (!isNum(r.bt)) badSenml(format, 'bt must be a number');
      bt = Number(r.bt);
      haveBt = true;
    }
    if (r.bv !== undefined) {
      if (!isNum(r.bv)) badSenml(format, 'bv must be a number');
      bv = r.bv as number | bigint;
    }
    if (r.n !== undefined && typeof r.n !== 'string') badSenml(format, 'n must be a string');
    const name = r.n === undefined ? bn : bn + (r.n as string);
    let time: number | undefined;
    if (r.t !== undefined) {
      if (!isNum(r.t)) badSenml(format, 't must be a number');
      time = bt + Number(r.t);
    } else if (haveBt) time = bt;
    let field: SenmlValueField | undefined;
    let count = 0;
    if (r.v !== undefined) {
      field = 'v';
      count++;
    }
    if (r.vs !== undefined) {
      field = 'vs';
      count++;
    }
    if (r.vb !== undefined) {
      field = 'vb';
      count++;
    }
    if (r.vd !== undefined) {
      field = 'vd';
      count++;
    }
    if (r.vlo !== undefined) {
      field = 'vlo';
      count++;
    }
    if (count > 1) badSenml(format, `record "${name}" has more than one value`);
    if (withValues && field === undefined) badSenml(format, `record "${name}" has no value`);
    let value = field === undefined ? undefined : r[field];
    if (field === 'v' && bv !== 0 && isNum(value)) value = addBase(bv, value);
    out.push({ name, field, value, time });
  }
  return out;
}

function jsonRecords(bytes: Uint8Array, withValues: boolean): SenmlRecord[] {
  const doc = parseJson(utf8Text(bytes), JSON_FORMAT);
  if (!Array.isArray(doc)) badSenml(JSON_FORMAT, 'SenML JSON is an array');
  const items = doc as JsonValue[];
  const raw: RecordFields[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      return badSenml(JSON_FORMAT, 'SenML JSON records are objects');
    }
    const fields = item as { [key: string]: JsonValue };
    const r: RecordFields = {};
    for (const k in fields) {
      const v = fields[k];
      switch (k) {
        case 'bn':
        case 'bt':
        case 'bv':
        case 'n':
        case 't':
        case 'v':
        case 'vs':
        case 'vb':
        case 'vd':
        case 'vlo':
          r[k] = v;
          break;
        default:
          if (k.endsWith('_')) badSenml(JSON_FORMAT, `must-understand field "${k}"`);
      }
    }
    raw.push(r);
  }
  return resolveRecords(raw, JSON_FORMAT, withValues);
}

function cborRecords(bytes: Uint8Array, withValues: boolean): SenmlRecord[] {
  const doc = cborDecode(bytes, CBOR_FORMAT);
  if (!Array.isArray(doc))
    throw new Lwm2mContentError('malformed', 'SenML CBOR is an array', { format: CBOR_FORMAT });
  const raw: RecordFields[] = [];
  for (const item of doc as unknown[]) {
    if (!(item instanceof Map)) {
      throw new Lwm2mContentError('malformed', 'SenML CBOR records are maps', { format: CBOR_FORMAT });
    }
    const r: RecordFields = {};
    for (const [k, v] of item as Map<unknown, unknown>) {
      if (typeof k === 'number') {
        const f = CBOR_LABELS[k];
        if (f !== undefined) r[f] = v;
      } else if (k === 'vlo') r.vlo = v;
      else if (typeof k === 'string' && k.endsWith('_')) {
        throw new Lwm2mContentError('malformed', `SenML: must-understand field "${k}"`, {
          format: CBOR_FORMAT,
        });
      }
    }
    raw.push(r);
  }
  return resolveRecords(raw, CBOR_FORMAT, withValues);
}

/** Parses a SenML JSON or CBOR payload into resolved records (values still raw). */
export function readSenmlRecords(format: 110 | 112, bytes: Uint8Array, withValues = true): SenmlRecord[] {
  return format === JSON_FORMAT ? jsonRecords(bytes, withValues) : cborRecords(bytes, withValues);
}

function recordPath(rec: SenmlRecord, format: number): Lwm2mPath {
  try {
    if (!rec.name.startsWith('/'))
      throw new Lwm2mPathError('syntax', `name "${rec.name}" is not an absolute path`);
    return parseLwm2mPath(rec.name);
  } catch (e) {
    if (e instanceof Lwm2mPathError)
      throw new Lwm2mContentError('invalid-path', `SenML: ${e.message}`, { format });
    throw e;
  }
}

function wrongField(format: number, type: ResourceType, field: string | undefined, path: Lwm2mPath): never {
  throw new Lwm2mContentError('wrong-type', `${pathText(path)}: ${type} cannot come in "${field}"`, {
    format,
  });
}

/** Types a raw SenML value (TS Core 1.1 §7.4, SenML data formats: value fields). */
function senmlValue(format: number, type: ResourceType, raw: SenmlRecord, path: Lwm2mPath): Lwm2mValue {
  const v = raw.value;
  switch (type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Time':
    case 'Float':
      if (raw.field !== 'v' || !isNum(v)) return wrongField(format, type, raw.field, path);
      if (type === 'Float') return Number(v);
      return normalizeValue(type, v);
    case 'Boolean':
      if (raw.field !== 'vb' || typeof v !== 'boolean') return wrongField(format, type, raw.field, path);
      return v;
    case 'Opaque':
      if (raw.field !== 'vd') return wrongField(format, type, raw.field, path);
      if (v instanceof Uint8Array) return v;
      if (typeof v === 'string' && format === JSON_FORMAT) return base64Decode(v);
      return wrongField(format, type, raw.field, path);
    case 'Objlnk':
      if (raw.field !== 'vlo' || typeof v !== 'string') return wrongField(format, type, raw.field, path);
      return valueFromText('Objlnk', v);
    default:
      if (raw.field !== 'vs' || typeof v !== 'string') return wrongField(format, type, raw.field, path);
      return v;
  }
}

const senmlJsonValue = (type: ResourceType, raw: SenmlRecord, path: Lwm2mPath): Lwm2mValue =>
  senmlValue(JSON_FORMAT, type, raw, path);
const senmlCborValue = (type: ResourceType, raw: SenmlRecord, path: Lwm2mPath): Lwm2mValue =>
  senmlValue(CBOR_FORMAT, type, raw, path);
const valueReader = (format: number) => (format === JSON_FORMAT ? senmlJsonValue : senmlCborValue);

function toLeaves(records: readonly SenmlRecord[], format: number): RawLeaf<SenmlRecord>[] {
  return records.map((r) => ({ path: recordPath(r, format), raw: r }));
}

/** Decodes a SenML payload for a request on one path into the node at that path. */
export function decodeSenml(
  format: 110 | 112,
  path: Lwm2mPath,
  bytes: Uint8Array,
  model: Lwm2mModel,
): Lwm2mNode {
  return buildNode(
    path,
    toLeaves(readSenmlRecords(format, bytes), format),
    model,
    format,
    valueReader(format),
    senmlTypeOf,
  );
}

/**
 * SenML is self-describing (RFC 8428 §4.3): the value field gives the type of a value the model has no
 * definition for (a vendor object). A number is an Integer when it is whole, else a Float.
 */
export function senmlTypeOf(r: SenmlRecord): ResourceType | undefined {
  switch (r.field) {
    case 'v':
      return typeof r.value === 'bigint' || (typeof r.value === 'number' && Number.isInteger(r.value))
        ? 'Integer'
        : 'Float';
    case 'vs':
      return 'String';
    case 'vb':
      return 'Boolean';
    case 'vd':
      return 'Opaque';
    case 'vlo':
      return 'Objlnk';
    default:
      return undefined;
  }
}

/**
 * Decodes a composite SenML payload. With `paths` (the Read-Composite request's paths), returns one entry
 * per path holding every record under it (paths without any record are left out: the client omits what
 * it does not have, TS Core 1.1, Read-Composite operation); a record under none of the paths is an error. Without, one entry per record (a resource or resource instance
 * node, with its time if the record had one), as for Send and timestamped notifications.
 */
export function decodeSenmlComposite(
  format: 110 | 112,
  bytes: Uint8Array,
  model: Lwm2mModel,
  paths?: readonly Lwm2mPath[],
): Lwm2mCompositeEntry[] {
  const leaves = toLeaves(readSenmlRecords(format, bytes), format);
  return compositeFromLeaves(leaves, model, format, valueReader(format), paths, senmlTypeOf);
}

export function compositeFromLeaves<R extends { time?: number }>(
  leaves: readonly RawLeaf<R>[],
  model: Lwm2mModel,
  format: number,
  toValue: (type: ResourceType, raw: R, path: Lwm2mPath) => Lwm2mValue,
  paths?: readonly Lwm2mPath[],
  typeOf?: TypeOf<R>,
): Lwm2mCompositeEntry[] {
  if (paths !== undefined) {
    for (const leaf of leaves) {
      if (!paths.some((p) => isPathPrefix(p, leaf.path))) {
        throw new Lwm2mContentError(
          'path-mismatch',
          `/${leaf.path.join('/')} is not under a requested path`,
          {
            format,
          },
        );
      }
    }
    // A requested path without values is left out (Read-Composite omits what the client does not have).
    const out: Lwm2mCompositeEntry[] = [];
    for (const p of paths) {
      const under = leaves.filter((l) => isPathPrefix(p, l.path));
      if (under.length > 0) out.push({ path: p, node: buildNode(p, under, model, format, toValue, typeOf) });
    }
    return out;
  }
  return leaves.map((leaf) => {
    const p = leaf.path;
    if (p.length < 3) {
      throw new Lwm2mContentError('invalid-path', `${pathText(p)} does not address a resource`, { format });
    }
    const def = decodingDefinition(model, p, leaf.raw, format, typeOf);
    if (def.multiple !== (p.length === 4)) {
      throw new Lwm2mContentError('invalid-path', `${pathText(p)} does not match the model's multiplicity`, {
        format,
      });
    }
    const value = typedValue(format, def.type, leaf.raw, p, toValue);
    const node: Lwm2mNode =
      p.length === 4
        ? { kind: 'resourceInstance', id: p[3]!, type: def.type, value }
        : { kind: 'resource', id: p[2]!, type: def.type, value };
    return leaf.raw.time === undefined ? { path: p, node } : { path: p, node, time: leaf.raw.time };
  });
}

/** The paths of a Read-Composite / Observe-Composite request payload (records with names, no values). */
export function decodeSenmlPaths(format: 110 | 112, bytes: Uint8Array): Lwm2mPath[] {
  return readSenmlRecords(format, bytes, false).map((r) => recordPath(r, format));
}

// ---- Writing ----------------------------------------------------------------------------------------

/** Splits a full leaf path under an entry path into base name and name (`/3/0/` + `6/1`). */
function nameParts(entryPath: Lwm2mPath, leafPath: Lwm2mPath): [string, string] {
  const p = leafPath;
  // Leaves are resources (3 ids) or resource instances (4 ids); the base name keeps 1 or 2 of them.
  if (entryPath.length >= 2) {
    return [`/${p[0]}/${p[1]}/`, p.length === 3 ? `${p[2]}` : `${p[2]}/${p[3]}`];
  }
  return [`/${p[0]}/`, p.length === 3 ? `${p[1]}/${p[2]}` : `${p[1]}/${p[2]}/${p[3]}`];
}

interface OutRecord {
  bn?: string;
  n: string;
  t?: number;
  leaf: Leaf;
}

function outRecords(
  entries: readonly Lwm2mCompositeEntry[],
  format: number,
  model?: Lwm2mModel,
): OutRecord[] {
  const out: OutRecord[] = [];
  let lastBn: string | undefined;
  for (const e of entries) {
    if (e.path.length === 0)
      throw encodeError('invalid-path', 'SenML entries need an object path at least', format);
    for (const leaf of flattenNode(e.path, e.node, format, model)) {
      const [bn, n] = nameParts(e.path, leaf.path);
      const r: OutRecord = { n, leaf };
      if (bn !== lastBn) {
        r.bn = bn;
        lastBn = bn;
      }
      if (e.time !== undefined) r.t = e.time;
      out.push(r);
    }
  }
  return out;
}

function jsonValueField(leaf: Leaf, format: number): string {
  const v = leaf.value;
  switch (leaf.type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Time':
    case 'Float':
      return `"v":${leafJsonNumber(leaf, format)}`;
    case 'Boolean':
      return `"vb":${v ? 'true' : 'false'}`;
    case 'Opaque':
      return `"vd":"${base64Encode(v as Uint8Array, true)}"`;
    case 'Objlnk': {
      const o = v as ObjectLink;
      return `"vlo":"${o.objectId}:${o.instanceId}"`;
    }
    default:
      return `"vs":${jsonString(v as string)}`;
  }
}

function encodeJsonRecords(records: readonly OutRecord[]): Uint8Array {
  let s = '[';
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (i > 0) s += ',';
    s += '{';
    if (r.bn !== undefined) s += `"bn":${jsonString(r.bn)},`;
    if (r.n !== '') s += `"n":${jsonString(r.n)},`;
    if (r.t !== undefined) s += `"t":${jsonNumber(r.t)},`;
    s += `${jsonValueField(r.leaf, JSON_FORMAT)}}`;
  }
  return utf8Encode(`${s}]`);
}

function cborValue(leaf: Leaf): [number | string, unknown] {
  const v = leaf.value;
  switch (leaf.type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Time':
    case 'Float':
      return [2, v];
    case 'Boolean':
      return [4, v];
    case 'Opaque':
      return [8, v];
    case 'Objlnk': {
      const o = v as ObjectLink;
      return ['vlo', `${o.objectId}:${o.instanceId}`];
    }
    default:
      return [3, v];
  }
}

function encodeCborRecords(records: readonly OutRecord[]): Uint8Array {
  const arr: Map<number | string, unknown>[] = [];
  for (const r of records) {
    const m = new Map<number | string, unknown>();
    if (r.bn !== undefined) m.set(-2, r.bn);
    if (r.n !== '') m.set(0, r.n);
    if (r.t !== undefined) m.set(6, r.t);
    const [k, v] = cborValue(r.leaf);
    m.set(k, v);
    arr.push(m);
  }
  return cborEncode(arr);
}

/** Encodes one node at `path` as SenML JSON (110) or SenML CBOR (112). */
export function encodeSenml(
  format: 110 | 112,
  path: Lwm2mPath,
  node: Lwm2mNode,
  model?: Lwm2mModel,
): Uint8Array {
  return encodeSenmlComposite(format, [{ path, node }], model);
}

/** Encodes composite entries (Read-Composite response, Write-Composite, Send) as SenML JSON or CBOR. */
export function encodeSenmlComposite(
  format: 110 | 112,
  entries: readonly Lwm2mCompositeEntry[],
  model?: Lwm2mModel,
): Uint8Array {
  const records = outRecords(entries, format, model);
  return format === JSON_FORMAT ? encodeJsonRecords(records) : encodeCborRecords(records);
}

/** Encodes a Read-Composite / Observe-Composite request payload: one record per path, names only. */
export function encodeSenmlPaths(format: 110 | 112, paths: readonly Lwm2mPath[]): Uint8Array {
  const names = paths.map((p) => formatLwm2mPath(p));
  if (format === JSON_FORMAT) return utf8Encode(`[${names.map((n) => `{"n":${jsonString(n)}}`).join(',')}]`);
  return cborEncode(names.map((n) => new Map([[0, n]])));
}
