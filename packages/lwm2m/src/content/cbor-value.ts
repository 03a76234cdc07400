/**
 * CBOR (content format 60, application/cbor) for single values, added in LwM2M 1.1 (TS Core §7.4, "CBOR"
 * data format): a single resource or resource instance as one CBOR data item. Integer, Unsigned Integer
 * → CBOR integers; Float → CBOR float (or an integer when integral); Boolean → true/false; String,
 * Corelnk → text strings; Opaque → byte string; Time → an integer, tag 1 (epoch-based date/time,
 * RFC 8949 §3.4.2) when encoding and with or without the tag when decoding; Objlnk → text "3:0".
 */
import type { ResourceType } from '../model/definitions.js';
import type { Lwm2mNode } from '../model/nodes.js';
import type { Lwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import { type Lwm2mValue, normalizeValue, type ObjectLink, valueFromText } from '../model/values.js';
import { cborDecode, cborEncode } from './cbor.js';
import { encodableValue, pathText, resourceDefinition, typedValue } from './common.js';
import { encodeError, Lwm2mContentError } from './errors.js';

const FORMAT = 60;

function target(path: Lwm2mPath, model: Lwm2mModel): ResourceType {
  if (path.length !== 3 && path.length !== 4) {
    throw new Lwm2mContentError('format-not-applicable', 'application/cbor carries a single value only', {
      format: FORMAT,
    });
  }
  const def = resourceDefinition(model, path[0]!, path[2]!, FORMAT);
  if ((path.length === 4) !== def.multiple) {
    throw new Lwm2mContentError(
      def.multiple ? 'format-not-applicable' : 'invalid-path',
      def.multiple
        ? `application/cbor cannot carry multiple resource ${def.id}`
        : `resource ${def.id} is single`,
      { format: FORMAT },
    );
  }
  return def.type;
}

function wrong(type: ResourceType, v: unknown, path: Lwm2mPath): never {
  throw new Lwm2mContentError('wrong-type', `${pathText(path)}: a CBOR ${typeof v} is not a ${type}`, {
    format: FORMAT,
  });
}

/** Types one decoded CBOR item (shared with LwM2M CBOR, whose values follow the same rules). */
export function cborItemValue(type: ResourceType, v: unknown, path: Lwm2mPath): Lwm2mValue {
  switch (type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Time':
      if (type === 'Time' && v instanceof Date) {
        const t = v.getTime();
        if (!Number.isFinite(t) || t % 1000 !== 0) return wrong(type, v, path);
        return t / 1000;
      }
      if (typeof v !== 'number' && typeof v !== 'bigint') return wrong(type, v, path);
      return normalizeValue(type, v);
    case 'Float':
      if (typeof v === 'number') return v;
      if (typeof v === 'bigint') return Number(v);
      return wrong(type, v, path);
    case 'Boolean':
      if (typeof v !== 'boolean') return wrong(type, v, path);
      return v;
    case 'Opaque':
      if (!(v instanceof Uint8Array)) return wrong(type, v, path);
      return v;
    case 'Objlnk':
      if (typeof v !== 'string') return wrong(type, v, path);
      return valueFromText('Objlnk', v);
    default:
      if (typeof v !== 'string') return wrong(type, v, path);
      return v;
  }
}

export function decodeCborValue(path: Lwm2mPath, bytes: Uint8Array, model: Lwm2mModel): Lwm2mNode {
  const type = target(path, model);
  const value = typedValue(FORMAT, type, cborDecode(bytes, FORMAT), path, cborItemValue);
  return path.length === 3
    ? { kind: 'resource', id: path[2]!, type, value }
    : { kind: 'resourceInstance', id: path[3]!, type, value };
}

export function encodeCborValue(path: Lwm2mPath, node: Lwm2mNode, model?: Lwm2mModel): Uint8Array {
  if (node.kind !== 'resource' && node.kind !== 'resourceInstance') {
    throw encodeError('format-not-applicable', `application/cbor cannot carry a ${node.kind}`, FORMAT);
  }
  const depth = node.kind === 'resource' ? 3 : 4;
  if (path.length !== depth || path[depth - 1] !== node.id) {
    throw encodeError('path-mismatch', `a ${node.kind} node does not match ${pathText(path)}`, FORMAT);
  }
  const v = encodableValue(FORMAT, path, node.type, node.value, model);
  if (node.type === 'Objlnk') {
    const o = v as ObjectLink;
    return cborEncode(`${o.objectId}:${o.instanceId}`);
  }
  // Time as tag 1 (an epoch-based date/time): cbor-x writes a Date of whole seconds as tag 1 + integer
  // (a float for negative times). Beyond what a Date can hold (±8.64e12 s) the bare integer is written.
  if (node.type === 'Time' && Math.abs(v as number) <= 8.64e12)
    return cborEncode(new Date((v as number) * 1000));
  return cborEncode(v);
}
