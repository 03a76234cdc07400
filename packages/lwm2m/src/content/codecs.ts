/**
 * Content-format registry: one encoder/decoder per LwM2M content format, picked by number (LwM2M TS
 * Core 1.1 and 1.2 §7.4, "Data Formats"). Link format (40) is not a node format: see
 * `formatDiscover` / `parseRegistrationLinks`.
 */

import type { Lwm2mNode } from '../model/nodes.js';
import { type Lwm2mPath, Lwm2mPathError, validateLwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import { decodeCborValue, encodeCborValue } from './cbor-value.js';
import { Lwm2mContentError } from './errors.js';
import {
  decodeLwm2mCbor,
  decodeLwm2mCborComposite,
  encodeLwm2mCbor,
  encodeLwm2mCborComposite,
} from './lwm2m-cbor.js';
import { decodeLwm2mJson, decodeLwm2mJsonComposite, encodeLwm2mJson } from './lwm2m-json.js';
import {
  decodeSenml,
  decodeSenmlComposite,
  decodeSenmlPaths,
  encodeSenml,
  encodeSenmlComposite,
  encodeSenmlPaths,
  type Lwm2mCompositeEntry,
} from './senml.js';
import { decodeOpaque, decodeText, encodeOpaque, encodeText } from './text.js';
import { decodeTlv, encodeTlv } from './tlv.js';

export interface NodeCodec {
  readonly format: number;
  readonly name: string;
  encode(path: Lwm2mPath, node: Lwm2mNode, model?: Lwm2mModel): Uint8Array;
  decode(path: Lwm2mPath, bytes: Uint8Array, model: Lwm2mModel): Lwm2mNode;
}

export interface CompositeCodec {
  readonly format: number;
  encode(entries: readonly Lwm2mCompositeEntry[], model?: Lwm2mModel): Uint8Array;
  decode(bytes: Uint8Array, model: Lwm2mModel, paths?: readonly Lwm2mPath[]): Lwm2mCompositeEntry[];
}

const NODE_CODECS: readonly NodeCodec[] = [
  { format: 0, name: 'text/plain', encode: encodeText, decode: decodeText },
  { format: 42, name: 'application/octet-stream', encode: encodeOpaque, decode: decodeOpaque },
  { format: 60, name: 'application/cbor', encode: encodeCborValue, decode: decodeCborValue },
  {
    format: 110,
    name: 'application/senml+json',
    encode: (p, n, m) => encodeSenml(110, p, n, m),
    decode: (p, b, m) => decodeSenml(110, p, b, m),
  },
  {
    format: 112,
    name: 'application/senml+cbor',
    encode: (p, n, m) => encodeSenml(112, p, n, m),
    decode: (p, b, m) => decodeSenml(112, p, b, m),
  },
  { format: 11542, name: 'application/vnd.oma.lwm2m+tlv', encode: encodeTlv, decode: decodeTlv },
  { format: 11543, name: 'application/vnd.oma.lwm2m+json', encode: encodeLwm2mJson, decode: decodeLwm2mJson },
  { format: 11544, name: 'application/vnd.oma.lwm2m+cbor', encode: encodeLwm2mCbor, decode: decodeLwm2mCbor },
];

const COMPOSITE_CODECS: readonly CompositeCodec[] = [
  {
    format: 110,
    encode: (e, m) => encodeSenmlComposite(110, e, m),
    decode: (b, m, p) => decodeSenmlComposite(110, b, m, p),
  },
  {
    format: 112,
    encode: (e, m) => encodeSenmlComposite(112, e, m),
    decode: (b, m, p) => decodeSenmlComposite(112, b, m, p),
  },
  {
    format: 11543,
    encode: () => {
      throw new Lwm2mContentError('unsupported-format', 'LwM2M JSON has no composite encoding', {
        format: 11543,
        responseCode: '4.06',
      });
    },
    decode: decodeLwm2mJsonComposite,
  },
  { format: 11544, encode: encodeLwm2mCborComposite, decode: decodeLwm2mCborComposite },
];

/** Content formats that carry nodes (single-path operations). */
export const NODE_FORMATS: readonly number[] = NODE_CODECS.map((c) => c.format);
/** Content formats that carry composite payloads (Read-Composite, Write-Composite, Send). */
export const COMPOSITE_FORMATS: readonly number[] = [110, 112, 11544];

/** The codec for a format, or undefined. */
export function nodeCodec(format: number): NodeCodec | undefined {
  return NODE_CODECS.find((c) => c.format === format);
}

function codecOrThrow(format: number, encoding: boolean): NodeCodec {
  const c = nodeCodec(format);
  if (c === undefined) {
    throw new Lwm2mContentError('unsupported-format', `content format ${format} cannot carry LwM2M nodes`, {
      format,
      responseCode: encoding ? '4.06' : '4.15',
    });
  }
  return c;
}

function checkPath(path: Lwm2mPath, format: number): void {
  try {
    validateLwm2mPath(path);
  } catch (e) {
    if (e instanceof Lwm2mPathError) throw new Lwm2mContentError('invalid-path', e.message, { format });
    throw e;
  }
}

/**
 * Wraps anything unexpected a codec might throw (it should not) into a typed error, so callers only
 * ever see `Lwm2mContentError` from payload handling.
 */
function guard<T>(format: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Lwm2mContentError) throw e;
    throw new Lwm2mContentError('malformed', `format ${format}: ${(e as Error)?.message ?? String(e)}`, {
      format,
    });
  }
}

/** Encodes the node at `path` in content format `format`. With a model, types are checked against it. */
export function encodeNode(format: number, path: Lwm2mPath, node: Lwm2mNode, model?: Lwm2mModel): Uint8Array {
  const codec = codecOrThrow(format, true);
  checkPath(path, format);
  return codec.encode(path, node, model);
}

/**
 * Decodes a payload of content format `format` for a request on `path`, typing values with `model`. A
 * payload with several timestamped values of one resource (a historical notification) does not fit one
 * node: decode it with `decodeComposite` and no paths.
 */
export function decodeNode(format: number, path: Lwm2mPath, bytes: Uint8Array, model: Lwm2mModel): Lwm2mNode {
  const codec = codecOrThrow(format, false);
  checkPath(path, format);
  return guard(format, () => codec.decode(path, bytes, model));
}

function compositeCodec(format: number, encoding: boolean): CompositeCodec {
  const c = COMPOSITE_CODECS.find((x) => x.format === format);
  if (c === undefined) {
    throw new Lwm2mContentError('unsupported-format', `content format ${format} has no composite form`, {
      format,
      responseCode: encoding ? '4.06' : '4.15',
    });
  }
  return c;
}

/** Encodes several nodes at several paths (Read-Composite response, Write-Composite, Send). */
export function encodeComposite(
  format: number,
  entries: readonly Lwm2mCompositeEntry[],
  model?: Lwm2mModel,
): Uint8Array {
  const c = compositeCodec(format, true);
  for (const e of entries) checkPath(e.path, format);
  return c.encode(entries, model);
}

/**
 * Decodes a composite payload. With `paths`, one entry per requested path that has values; without, one entry per value
 * (with its time when the payload had one). LwM2M JSON (11543) decodes here too, for timestamped
 * notifications.
 */
export function decodeComposite(
  format: number,
  bytes: Uint8Array,
  model: Lwm2mModel,
  paths?: readonly Lwm2mPath[],
): Lwm2mCompositeEntry[] {
  const c = compositeCodec(format, false);
  if (paths !== undefined) for (const p of paths) checkPath(p, format);
  return guard(format, () => c.decode(bytes, model, paths));
}

/** Encodes the path list of a Read-Composite / Observe-Composite request (SenML JSON or CBOR). */
export function encodeCompositePaths(format: number, paths: readonly Lwm2mPath[]): Uint8Array {
  if (format !== 110 && format !== 112) throw compositePathsError(format, true);
  for (const p of paths) checkPath(p, format);
  return encodeSenmlPaths(format, paths);
}

/** Decodes the path list of a Read-Composite / Observe-Composite request (SenML JSON or CBOR). */
export function decodeCompositePaths(format: number, bytes: Uint8Array): Lwm2mPath[] {
  if (format !== 110 && format !== 112) throw compositePathsError(format, false);
  return guard(format, () => decodeSenmlPaths(format, bytes));
}

const compositePathsError = (format: number, encoding: boolean) =>
  new Lwm2mContentError('unsupported-format', `content format ${format} cannot carry a path list`, {
    format,
    responseCode: encoding ? '4.06' : '4.15',
  });
