/**
 * OMA-LwM2M TLV, content format 11542 (LwM2M TS 1.0.2 §6.4.3; TS Core 1.1 §7.4, "TLV" data format).
 *
 * Type byte: bits 7–6 identifier type (00 Object Instance, 01 Resource Instance, 10 Multiple Resource,
 * 11 Resource with Value); bit 5 identifier length (0: 8 bits, 1: 16 bits); bits 4–3 length type
 * (00: length in bits 2–0, 01: 8-bit, 10: 16-bit, 11: 24-bit length field); bits 2–0 the length when the
 * length type is 00. Values: integers as 1/2/4/8-byte two's complement, Float as 4 or 8 bytes IEEE 754,
 * Boolean one byte 0/1, Objlnk as two 16-bit ids, strings UTF-8, Opaque raw (all big-endian).
 *
 * Decoding checks every declared length against the bytes actually present before reading or
 * allocating anything, so a 4-byte header that claims 16 MB fails at once. Opaque values are views into
 * the input (zero-copy): copy them if the input buffer is reused.
 */
import { utf8Encode } from '@thimble/coap-core';
import type { ResourceType } from '../model/definitions.js';
import {
  type Lwm2mNode,
  nodeDepth,
  type ObjectInstanceNode,
  type ResourceInstanceNode,
  type ResourceNode,
} from '../model/nodes.js';
import { isValidId, type Lwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import { canonicalInteger, type Lwm2mValue, type ObjectLink } from '../model/values.js';
import { checked, encodableValue, MAX_RECORDS, resourceDefinition } from './common.js';
import { encodeError, Lwm2mContentError } from './errors.js';
import { utf8Text } from './text-bytes.js';

const FORMAT = 11542;

export const TlvType = {
  ObjectInstance: 0,
  ResourceInstance: 1,
  MultipleResource: 2,
  ResourceValue: 3,
} as const;
export type TlvType = (typeof TlvType)[keyof typeof TlvType];

/** One TLV record: its header fields and where its value lies in the input (no copy). */
export interface TlvRecord {
  readonly type: TlvType;
  readonly id: number;
  readonly valueStart: number;
  readonly valueEnd: number;
}

const fail = (reason: 'truncated' | 'malformed' | 'too-large', msg: string): never => {
  throw new Lwm2mContentError(reason, msg, { format: FORMAT });
};

/**
 * Splits `bytes[start, end)` into TLV records (one level; nested values stay as ranges). Throws
 * `Lwm2mContentError` (`truncated`) when a header or a declared length runs past `end`.
 */
export function readTlvRecords(bytes: Uint8Array, start = 0, end = bytes.length): TlvRecord[] {
  const out: TlvRecord[] = [];
  let i = start;
  while (i < end) {
    const t = bytes[i]!;
    const idLen = t & 0x20 ? 2 : 1;
    const lenType = (t >> 3) & 3;
    const header = 1 + idLen + lenType;
    if (i + header > end) fail('truncated', `TLV header at byte ${i} runs past the end`);
    const id = idLen === 2 ? (bytes[i + 1]! << 8) | bytes[i + 2]! : bytes[i + 1]!;
    if (id === 0xffff) fail('malformed', `TLV at byte ${i}: id 65535 is reserved (ids are 0–65534)`);
    let len = t & 7;
    if (lenType > 0) {
      if (len !== 0) fail('malformed', `TLV at byte ${i}: length bits set with a length field`);
      len = 0;
      for (let k = 0; k < lenType; k++) len = (len << 8) | bytes[i + 1 + idLen + k]!;
    }
    const valueStart = i + header;
    // Checked before anything is read or allocated: a header claiming 16 MB in a short payload fails here.
    if (len > end - valueStart) {
      fail('truncated', `TLV at byte ${i} declares ${len} bytes but only ${end - valueStart} remain`);
    }
    if (out.length >= MAX_RECORDS) fail('too-large', `more than ${MAX_RECORDS} TLV records`);
    out.push({ type: (t >> 6) as TlvType, id, valueStart, valueEnd: valueStart + len });
    i = valueStart + len;
  }
  return out;
}

/** `where` is the path prefix, `id` the last id: the message is only built when there is an error. */
function badValue(where: string, id: number, msg: string): never {
  throw new Lwm2mContentError('invalid-value', `${where}/${id}: ${msg}`, { format: FORMAT });
}

/** Big-endian two's complement / unsigned integer of 1, 2 or 4 bytes, without a DataView. */
function readSmallInt(bytes: Uint8Array, s: number, len: number, signed: boolean): number {
  if (len === 1) return signed ? (bytes[s]! << 24) >> 24 : bytes[s]!;
  if (len === 2) {
    const v = (bytes[s]! << 8) | bytes[s + 1]!;
    return signed ? (v << 16) >> 16 : v;
  }
  const v = (bytes[s]! << 24) | (bytes[s + 1]! << 16) | (bytes[s + 2]! << 8) | bytes[s + 3]!;
  return signed ? v : v >>> 0;
}

function readValue(
  type: ResourceType,
  bytes: Uint8Array,
  s: number,
  e: number,
  where: string,
  id: number,
): Lwm2mValue {
  const len = e - s;
  switch (type) {
    case 'Integer':
    case 'Time':
    case 'Unsigned Integer': {
      const signed = type !== 'Unsigned Integer';
      if (len === 1 || len === 2 || len === 4) return readSmallInt(bytes, s, len, signed);
      if (len !== 8) return badValue(where, id, `${type} needs 1, 2, 4 or 8 bytes, got ${len}`);
      const dv = new DataView(bytes.buffer, bytes.byteOffset + s, 8);
      const v = canonicalInteger(signed ? dv.getBigInt64(0) : dv.getBigUint64(0));
      if (type === 'Time' && typeof v === 'bigint') badValue(where, id, 'Time is out of range');
      return v;
    }
    case 'Float': {
      if (len !== 4 && len !== 8) return badValue(where, id, `Float needs 4 or 8 bytes, got ${len}`);
      const dv = new DataView(bytes.buffer, bytes.byteOffset + s, len);
      return len === 4 ? dv.getFloat32(0) : dv.getFloat64(0);
    }
    case 'Boolean':
      if (len !== 1 || bytes[s]! > 1) badValue(where, id, 'Boolean is one byte, 0 or 1');
      return bytes[s] === 1;
    case 'Objlnk':
      if (len !== 4) badValue(where, id, `Objlnk needs 4 bytes, got ${len}`);
      return { objectId: (bytes[s]! << 8) | bytes[s + 1]!, instanceId: (bytes[s + 2]! << 8) | bytes[s + 3]! };
    case 'Opaque':
      return bytes.subarray(s, e);
    default:
      return utf8Text(bytes, s, e);
  }
}

function decodeResource(
  bytes: Uint8Array,
  rec: TlvRecord,
  objectId: number,
  prefix: string,
  model: Lwm2mModel,
): ResourceNode {
  if (rec.type !== TlvType.ResourceValue && rec.type !== TlvType.MultipleResource) {
    fail('malformed', `${prefix}/${rec.id}: expected a resource TLV, got type ${rec.type}`);
  }
  const def = resourceDefinition(model, objectId, rec.id, FORMAT);
  if (def.multiple !== (rec.type === TlvType.MultipleResource)) {
    throw new Lwm2mContentError(
      'invalid-path',
      `${prefix}/${rec.id}: resource is ${def.multiple ? 'multiple' : 'single'} in the model but the TLV says otherwise`,
      { format: FORMAT },
    );
  }
  if (rec.type === TlvType.ResourceValue) {
    return {
      kind: 'resource',
      id: rec.id,
      type: def.type,
      value: readValue(def.type, bytes, rec.valueStart, rec.valueEnd, prefix, rec.id),
    };
  }
  const instances: ResourceInstanceNode[] = [];
  const seen: { [id: number]: true | undefined } = {}; // constant-time duplicate check
  const where = `${prefix}/${rec.id}`; // once per multiple resource, for messages
  for (const ri of readTlvRecords(bytes, rec.valueStart, rec.valueEnd)) {
    if (ri.type !== TlvType.ResourceInstance)
      fail('malformed', `${prefix}/${rec.id}: expected resource instance TLVs`);
    if (seen[ri.id]) {
      throw new Lwm2mContentError('duplicate', `${prefix}/${rec.id}/${ri.id} appears twice`, {
        format: FORMAT,
      });
    }
    seen[ri.id] = true;
    instances.push({
      kind: 'resourceInstance',
      id: ri.id,
      type: def.type,
      value: readValue(def.type, bytes, ri.valueStart, ri.valueEnd, where, ri.id),
    });
  }
  return { kind: 'multipleResource', id: rec.id, type: def.type, instances };
}

function decodeResources(
  bytes: Uint8Array,
  records: readonly TlvRecord[],
  objectId: number,
  prefix: string,
  model: Lwm2mModel,
): ResourceNode[] {
  const out: ResourceNode[] = [];
  const seen: { [id: number]: true | undefined } = {}; // constant-time duplicate check
  for (const rec of records) {
    if (seen[rec.id]) {
      throw new Lwm2mContentError('duplicate', `${prefix}/${rec.id} appears twice`, { format: FORMAT });
    }
    seen[rec.id] = true;
    out.push(decodeResource(bytes, rec, objectId, prefix, model));
  }
  return out;
}

const prefixText = (path: Lwm2mPath, n: number): string => `/${path.slice(0, n).join('/')}`;

/** Decodes a TLV payload for a request on `path` (object, instance, resource or resource instance). */
export function decodeTlv(path: Lwm2mPath, bytes: Uint8Array, model: Lwm2mModel): Lwm2mNode {
  const top = readTlvRecords(bytes);
  const objectId = path[0]!;
  const pfx = (n: number): string => prefixText(path, n);
  switch (path.length) {
    case 1: {
      const instances: ObjectInstanceNode[] = [];
      const seen: { [id: number]: true | undefined } = {};
      for (const rec of top) {
        if (rec.type !== TlvType.ObjectInstance)
          fail('malformed', `${pfx(1)}: expected object instance TLVs`);
        if (seen[rec.id]) {
          throw new Lwm2mContentError('duplicate', `${pfx(1)}/${rec.id} appears twice`, { format: FORMAT });
        }
        seen[rec.id] = true;
        const inner = readTlvRecords(bytes, rec.valueStart, rec.valueEnd);
        const resources = decodeResources(bytes, inner, objectId, `${pfx(1)}/${rec.id}`, model);
        instances.push({ kind: 'objectInstance', id: rec.id, resources });
      }
      return { kind: 'object', id: objectId, instances };
    }
    case 2: {
      // Either the resources directly, or (as some clients send) one Object Instance TLV around them.
      let records = top;
      if (top.length === 1 && top[0]!.type === TlvType.ObjectInstance) {
        const wrap = top[0]!;
        if (wrap.id !== path[1]) {
          throw new Lwm2mContentError('path-mismatch', `object instance ${wrap.id} is not ${pfx(2)}`, {
            format: FORMAT,
          });
        }
        records = readTlvRecords(bytes, wrap.valueStart, wrap.valueEnd);
      }
      return {
        kind: 'objectInstance',
        id: path[1]!,
        resources: decodeResources(bytes, records, objectId, pfx(2), model),
      };
    }
    case 3: {
      const def = resourceDefinition(model, objectId, path[2]!, FORMAT);
      if (def.multiple && top.every((r) => r.type === TlvType.ResourceInstance)) {
        // Bare resource instances (no Multiple Resource wrapper) are accepted too.
        const wrapper: TlvRecord = {
          type: TlvType.MultipleResource,
          id: def.id,
          valueStart: 0,
          valueEnd: bytes.length,
        };
        return decodeResource(bytes, wrapper, objectId, pfx(2), model);
      }
      if (top.length !== 1)
        fail('malformed', `${pfx(3)}: expected exactly one resource TLV, got ${top.length}`);
      if (top[0]!.id !== def.id) {
        throw new Lwm2mContentError('path-mismatch', `resource ${top[0]!.id} is not ${pfx(3)}`, {
          format: FORMAT,
        });
      }
      return decodeResource(bytes, top[0]!, objectId, pfx(2), model);
    }
    case 4: {
      const def = resourceDefinition(model, objectId, path[2]!, FORMAT);
      if (!def.multiple) {
        throw new Lwm2mContentError('invalid-path', `${pfx(3)} is a single resource`, { format: FORMAT });
      }
      const rec = top[0];
      if (top.length !== 1 || rec === undefined || rec.type !== TlvType.ResourceInstance) {
        return fail('malformed', `${pfx(4)}: expected exactly one resource instance TLV`);
      }
      if (rec.id !== path[3]) {
        throw new Lwm2mContentError('path-mismatch', `instance ${rec.id} is not ${pfx(4)}`, {
          format: FORMAT,
        });
      }
      const value = checked(FORMAT, pfx(4), () =>
        readValue(def.type, bytes, rec.valueStart, rec.valueEnd, pfx(3), rec.id),
      );
      return { kind: 'resourceInstance', id: rec.id, type: def.type, value };
    }
    default:
      throw new Lwm2mContentError('invalid-path', 'TLV needs a path of 1 to 4 ids', { format: FORMAT });
  }
}

// ---- Encoding -------------------------------------------------------------------------------------

interface Item {
  type: TlvType;
  id: number;
  bytes?: Uint8Array;
  children?: Item[];
  size: number; // size of the value part
}

function intBytes(v: number | bigint, unsigned: boolean): Uint8Array {
  if (typeof v === 'number' && v >= -0x80000000 && v <= (unsigned ? 0xffffffff : 0x7fffffff)) {
    const n = unsigned
      ? v > 0xffff
        ? 4
        : v > 0xff
          ? 2
          : 1
      : v < -0x8000 || v > 0x7fff
        ? 4
        : v < -0x80 || v > 0x7f
          ? 2
          : 1;
    const out = new Uint8Array(n);
    // `&` and `>>` work on the low 32 bits, which is the two's complement (or unsigned) byte pattern.
    for (let i = n - 1, x = v; i >= 0; i--, x >>= 8) out[i] = x & 0xff;
    return out;
  }
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  if (unsigned) dv.setBigUint64(0, BigInt(v));
  else dv.setBigInt64(0, BigInt(v));
  return out;
}

/** The TLV value bytes of one resource value (TS 1.0.2 §6.4.3, TLV value encodings). */
export function tlvValueBytes(type: ResourceType, value: Lwm2mValue): Uint8Array {
  switch (type) {
    case 'Integer':
    case 'Time':
      return intBytes(value as number | bigint, false);
    case 'Unsigned Integer':
      return intBytes(value as number | bigint, true);
    case 'Float': {
      const f = value as number;
      if (Math.fround(f) === f || Number.isNaN(f)) {
        const out = new Uint8Array(4);
        new DataView(out.buffer).setFloat32(0, f);
        return out;
      }
      const out = new Uint8Array(8);
      new DataView(out.buffer).setFloat64(0, f);
      return out;
    }
    case 'Boolean':
      return Uint8Array.of(value ? 1 : 0);
    case 'Objlnk': {
      const o = value as ObjectLink;
      return Uint8Array.of(o.objectId >> 8, o.objectId & 0xff, o.instanceId >> 8, o.instanceId & 0xff);
    }
    case 'Opaque':
      return value as Uint8Array;
    default:
      return utf8Encode(value as string);
  }
}

const MAX_TLV_LENGTH = 0xffffff;

const headerSize = (it: Item): number =>
  1 + (it.id > 0xff ? 2 : 1) + (it.size < 8 ? 0 : it.size <= 0xff ? 1 : it.size <= 0xffff ? 2 : 3);

function leafItem(type: TlvType, id: number, bytes: Uint8Array): Item {
  if (bytes.length > MAX_TLV_LENGTH)
    throw encodeError('too-large', `value of ${bytes.length} bytes exceeds TLV's 16 MB`, FORMAT);
  return { type, id, bytes, size: bytes.length };
}

function parentItem(type: TlvType, id: number, children: Item[]): Item {
  let size = 0;
  for (const c of children) size += headerSize(c) + c.size;
  if (size > MAX_TLV_LENGTH)
    throw encodeError('too-large', `TLV content of ${size} bytes exceeds 16 MB`, FORMAT);
  return { type, id, children, size };
}

function write(it: Item, out: Uint8Array, at: number): number {
  let p = at;
  const wide = it.id > 0xff;
  const lenBytes = it.size < 8 ? 0 : it.size <= 0xff ? 1 : it.size <= 0xffff ? 2 : 3;
  out[p++] = (it.type << 6) | (wide ? 0x20 : 0) | (lenBytes << 3) | (lenBytes === 0 ? it.size : 0);
  if (wide) out[p++] = it.id >> 8;
  out[p++] = it.id & 0xff;
  for (let k = lenBytes - 1; k >= 0; k--) out[p++] = (it.size >> (8 * k)) & 0xff;
  if (it.bytes !== undefined) {
    out.set(it.bytes, p);
    p += it.bytes.length;
  } else for (const c of it.children!) p = write(c, out, p);
  return p;
}

function encodedValue(
  path: Lwm2mPath,
  type: ResourceType,
  v: Lwm2mValue,
  model: Lwm2mModel | undefined,
): Uint8Array {
  return tlvValueBytes(type, encodableValue(FORMAT, path, type, v, model));
}

function resourceItem(objectId: number, iid: number, r: ResourceNode, model: Lwm2mModel | undefined): Item {
  checkId(r.id);
  if (r.kind === 'resource') {
    return leafItem(TlvType.ResourceValue, r.id, encodedValue([objectId, iid, r.id], r.type, r.value, model));
  }
  const children: Item[] = [];
  for (const ri of r.instances) {
    checkId(ri.id);
    children.push(
      leafItem(
        TlvType.ResourceInstance,
        ri.id,
        encodedValue([objectId, iid, r.id, ri.id], r.type, ri.value, model),
      ),
    );
  }
  return parentItem(TlvType.MultipleResource, r.id, children);
}

function instanceItems(objectId: number, i: ObjectInstanceNode, model: Lwm2mModel | undefined): Item[] {
  const out: Item[] = [];
  for (const r of i.resources) out.push(resourceItem(objectId, i.id, r, model));
  return out;
}

function checkId(id: number): void {
  if (!isValidId(id)) {
    throw encodeError('invalid-path', `id ${id} is not 0–65534`, FORMAT);
  }
}

function tlvItems(path: Lwm2mPath, node: Lwm2mNode, model: Lwm2mModel | undefined): Item[] {
  const objectId = path[0];
  if (objectId === undefined) throw encodeError('invalid-path', 'TLV cannot encode the root', FORMAT);
  const depth = nodeDepth(node);
  if (path.length !== depth || path[depth - 1] !== node.id) {
    throw encodeError('path-mismatch', `a ${node.kind} node does not match /${path.join('/')}`, FORMAT);
  }
  let items: Item[];
  switch (node.kind) {
    case 'object':
      items = [];
      for (const i of node.instances) {
        checkId(i.id);
        items.push(parentItem(TlvType.ObjectInstance, i.id, instanceItems(objectId, i, model)));
      }
      break;
    case 'objectInstance':
      items = instanceItems(objectId, node, model);
      break;
    case 'resource':
    case 'multipleResource':
      items = [resourceItem(objectId, path[1]!, node, model)];
      break;
    case 'resourceInstance':
      items = [leafItem(TlvType.ResourceInstance, node.id, encodedValue(path, node.type, node.value, model))];
      break;
  }
  return items;
}

/** Encodes `node` (addressed by `path`) as TLV; checks values against their types (and the model). */
export function encodeTlv(path: Lwm2mPath, node: Lwm2mNode, model?: Lwm2mModel): Uint8Array {
  const items = tlvItems(path, node, model);
  let total = 0;
  for (const it of items) total += headerSize(it) + it.size;
  const out = new Uint8Array(total);
  let p = 0;
  for (const it of items) p = write(it, out, p);
  return out;
}

/**
 * Encodes `node` as TLV into `target` at `offset` (a CoAP payload buffer, say) and returns the number of
 * bytes written. Throws `Lwm2mContentError` (`too-large`) before writing anything when it does not fit.
 */
export function encodeTlvInto(
  path: Lwm2mPath,
  node: Lwm2mNode,
  target: Uint8Array,
  offset: number,
  model?: Lwm2mModel,
): number {
  const items = tlvItems(path, node, model);
  let total = 0;
  for (const it of items) total += headerSize(it) + it.size;
  if (offset < 0 || offset + total > target.length) {
    throw encodeError(
      'too-large',
      `TLV needs ${total} bytes, ${Math.max(0, target.length - offset)} available`,
      FORMAT,
    );
  }
  let p = offset;
  for (const it of items) p = write(it, target, p);
  return p - offset;
}
