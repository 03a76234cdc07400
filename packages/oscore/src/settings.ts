/**
 * Parsing of an OSCORE context `settings.json` in the format of aiocoap's credentials directories, so one
 * directory serves both tools. Keys (each byte string as `<name>_hex` or `<name>_ascii`):
 *
 *   sender-id, recipient-id, secret (required); salt, id-context (optional);
 *   "algorithm": COSE name or number (default "AES-CCM-16-64-128");
 *   "kdf-hashfun": "sha256" (the only one supported, default);
 *   "window": replay window size (default 32).
 *
 * Unknown keys are ignored (aiocoap may add its own). Portable: no file access here.
 */
import { fromHex, utf8Encode } from '@thimble/coap-core';
import { type AeadAlgorithm, aeadAlgorithm } from './algorithms.js';
import { OscoreError } from './errors.js';
import { MAX_REPLAY_WINDOW } from './replay.js';

export interface ContextSettings {
  readonly senderId: Uint8Array;
  readonly recipientId: Uint8Array;
  readonly masterSecret: Uint8Array;
  readonly masterSalt: Uint8Array | undefined;
  readonly idContext: Uint8Array | undefined;
  readonly algorithm: AeadAlgorithm;
  readonly replayWindow: number | undefined;
}

function bytesSetting(
  record: Record<string, unknown>,
  name: string,
  required: boolean,
): Uint8Array | undefined {
  const hex = record[`${name}_hex`];
  const ascii = record[`${name}_ascii`];
  if (hex !== undefined && ascii !== undefined) {
    throw new OscoreError('invalid-context', `settings: both ${name}_hex and ${name}_ascii are given`);
  }
  if (hex !== undefined) {
    if (typeof hex !== 'string')
      throw new OscoreError('invalid-context', `settings: ${name}_hex is not a string`);
    try {
      return fromHex(hex);
    } catch {
      throw new OscoreError('invalid-context', `settings: ${name}_hex is not hexadecimal`);
    }
  }
  if (ascii !== undefined) {
    if (typeof ascii !== 'string' || !/^[\x00-\x7f]*$/.test(ascii)) {
      throw new OscoreError('invalid-context', `settings: ${name}_ascii is not ASCII`);
    }
    return utf8Encode(ascii);
  }
  if (required)
    throw new OscoreError('invalid-context', `settings: ${name}_hex (or ${name}_ascii) is missing`);
  return undefined;
}

/** A value from untrusted JSON for an error message: never calls its own toString (it may be anything). */
function shown(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number'
    ? JSON.stringify(v)
    : `(${v === null ? 'null' : typeof v})`;
}

/** Validates a parsed settings.json object. Throws `OscoreError('invalid-context')`. */
export function parseContextSettings(json: unknown): ContextSettings {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new OscoreError('invalid-context', 'settings: not a JSON object');
  }
  const record = json as Record<string, unknown>;
  const alg = record.algorithm;
  let algorithm: AeadAlgorithm | undefined;
  if (alg === undefined) algorithm = aeadAlgorithm(10);
  else if (typeof alg === 'string' || typeof alg === 'number') algorithm = aeadAlgorithm(alg);
  if (algorithm === undefined)
    throw new OscoreError('invalid-context', `settings: unknown algorithm ${shown(alg)}`);
  const hashfun = record['kdf-hashfun'];
  if (hashfun !== undefined && hashfun !== 'sha256') {
    throw new OscoreError('invalid-context', `settings: unsupported kdf-hashfun ${shown(hashfun)}`);
  }
  const window = record.window;
  if (
    window !== undefined &&
    !(typeof window === 'number' && Number.isInteger(window) && window >= 1 && window <= MAX_REPLAY_WINDOW)
  ) {
    throw new OscoreError('invalid-context', `settings: window must be an integer 1-${MAX_REPLAY_WINDOW}`);
  }
  return {
    senderId: bytesSetting(record, 'sender-id', true)!,
    recipientId: bytesSetting(record, 'recipient-id', true)!,
    masterSecret: bytesSetting(record, 'secret', true)!,
    masterSalt: bytesSetting(record, 'salt', false),
    idContext: bytesSetting(record, 'id-context', false),
    algorithm,
    replayWindow: window as number | undefined,
  };
}
