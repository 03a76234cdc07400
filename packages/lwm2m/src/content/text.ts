/**
 * Plain text (content format 0) and Opaque (42) for single values (LwM2M TS Core 1.1 §7.4, "Plain
 * Text" and "Opaque" data formats): a single resource, or a single resource instance. Plain text carries numbers in decimal,
 * Boolean as "0"/"1", Objlnk as "3:0" and Opaque as base64; application/octet-stream carries only
 * Opaque resources, as the raw bytes.
 */
import { utf8Encode } from '@thimble/coap-core';
import type { ResourceType } from '../model/definitions.js';
import type { Lwm2mNode } from '../model/nodes.js';
import type { Lwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import { type Lwm2mValue, valueFromText, valueToText } from '../model/values.js';
import { checked, encodableValue, resourceDefinition } from './common.js';
import { encodeError, Lwm2mContentError } from './errors.js';
import { utf8Text } from './text-bytes.js';

/** Upper bound on a plain-text value (bounds allocation on hostile input). */
const MAX_TEXT = 1 << 20;

function singleValueTarget(
  path: Lwm2mPath,
  model: Lwm2mModel,
  format: number,
): { type: ResourceType; depth: 3 | 4 } {
  if (path.length !== 3 && path.length !== 4) {
    throw new Lwm2mContentError('format-not-applicable', `format ${format} carries a single value only`, {
      format,
    });
  }
  const def = resourceDefinition(model, path[0]!, path[2]!, format);
  if (path.length === 3 && def.multiple) {
    throw new Lwm2mContentError(
      'format-not-applicable',
      `format ${format} cannot carry multiple resource ${def.id}`,
      {
        format,
      },
    );
  }
  if (path.length === 4 && !def.multiple) {
    throw new Lwm2mContentError('invalid-path', `resource ${def.id} is single: no instance ${path[3]}`, {
      format,
    });
  }
  return { type: def.type, depth: path.length };
}

function node(path: Lwm2mPath, depth: 3 | 4, type: ResourceType, value: Lwm2mValue): Lwm2mNode {
  return depth === 3
    ? { kind: 'resource', id: path[2]!, type, value }
    : { kind: 'resourceInstance', id: path[3]!, type, value };
}

function singleValue(
  path: Lwm2mPath,
  n: Lwm2mNode,
  format: number,
): { type: ResourceType; value: Lwm2mValue } {
  if (n.kind !== 'resource' && n.kind !== 'resourceInstance') {
    throw encodeError('format-not-applicable', `format ${format} cannot carry a ${n.kind}`, format);
  }
  const depth = n.kind === 'resource' ? 3 : 4;
  if (path.length !== depth || path[depth - 1] !== n.id) {
    throw encodeError('path-mismatch', `a ${n.kind} node does not match /${path.join('/')}`, format);
  }
  return { type: n.type, value: n.value };
}

export function decodeText(path: Lwm2mPath, bytes: Uint8Array, model: Lwm2mModel): Lwm2mNode {
  const { type, depth } = singleValueTarget(path, model, 0);
  if (bytes.length > MAX_TEXT)
    throw new Lwm2mContentError('too-large', 'text value too large', { format: 0 });
  const text = utf8Text(bytes);
  return node(
    path,
    depth,
    type,
    checked(0, `/${path.join('/')}`, () => valueFromText(type, text)),
  );
}

export function encodeText(path: Lwm2mPath, n: Lwm2mNode, model?: Lwm2mModel): Uint8Array {
  const { type, value } = singleValue(path, n, 0);
  const v = encodableValue(0, path, type, value, model);
  try {
    return utf8Encode(valueToText(type, v));
  } catch (e) {
    throw encodeError('invalid-value', (e as Error).message, 0);
  }
}

export function decodeOpaque(path: Lwm2mPath, bytes: Uint8Array, model: Lwm2mModel): Lwm2mNode {
  const { type, depth } = singleValueTarget(path, model, 42);
  if (type !== 'Opaque') {
    throw new Lwm2mContentError(
      'format-not-applicable',
      `application/octet-stream needs an Opaque resource, not ${type}`,
      {
        format: 42,
      },
    );
  }
  return node(path, depth, type, bytes);
}

export function encodeOpaque(path: Lwm2mPath, n: Lwm2mNode, model?: Lwm2mModel): Uint8Array {
  const { type, value } = singleValue(path, n, 42);
  if (type !== 'Opaque') throw encodeError('format-not-applicable', `octet-stream cannot carry ${type}`, 42);
  return encodableValue(42, path, type, value, model) as Uint8Array;
}
