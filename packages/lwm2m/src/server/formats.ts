/**
 * Content formats the server asks devices for (LwM2M TS Core 1.1 §7.4, Transport 1.1 §6.3/§6.4) and the
 * checks of a caller's path. A leaf module shared by the server's services.
 */
import { encodeCompositePaths } from '../content/codecs.js';
import { type Lwm2mPath, Lwm2mPathError, parseLwm2mPath, validateLwm2mPath } from '../model/path.js';
import { Lwm2mServerError } from './errors.js';
import type { Registration } from './registration/store.js';

export const LINK_FORMAT = 40;
export const SENML_JSON = 110;
export const SENML_CBOR = 112;
export const TLV = 11542;
export const LWM2M_JSON = 11543;
export const LWM2M_CBOR = 11544;

/** Preference when a device announced several formats with `ct` (compact binary first). */
const PREFERRED_FORMATS: readonly number[] = [SENML_CBOR, LWM2M_CBOR, SENML_JSON, TLV, LWM2M_JSON];

/** The format to ask a device for: the caller's, else the best it announced (Core §7.4). */
export function formatFor(r: Registration, requested: number | undefined): number {
  if (requested !== undefined) return requested;
  for (const f of PREFERRED_FORMATS) if (r.contentFormats.includes(f)) return f;
  return r.version === '1.0' ? TLV : SENML_CBOR;
}

/** The format of a composite answer: the caller's, else SenML CBOR unless the device only announced SenML JSON. */
export function compositeFormat(r: Registration, requested: number | undefined): number {
  if (requested !== undefined) return requested;
  return r.contentFormats.includes(SENML_JSON) && !r.contentFormats.includes(SENML_CBOR)
    ? SENML_JSON
    : SENML_CBOR;
}

/**
 * The FETCH of Read- and Observe-Composite (Transport §6.3, §6.4): the path list in SenML JSON when the
 * answer is asked in SenML JSON, else in SenML CBOR.
 */
export function compositeRequest(
  accept: number,
  paths: readonly Lwm2mPath[],
): { accept: number; contentFormat: number; payload: Uint8Array } {
  const contentFormat = accept === SENML_JSON ? SENML_JSON : SENML_CBOR;
  try {
    return { accept, contentFormat, payload: encodeCompositePaths(contentFormat, paths) };
  } catch (e) {
    throw new Lwm2mServerError('bad-request', (e as Error)?.message ?? String(e), { cause: e });
  }
}

/** A caller's path, parsed and checked; a bad one is a `bad-request`. */
export function toPath(path: string | Lwm2mPath): Lwm2mPath {
  try {
    if (typeof path === 'string') return parseLwm2mPath(path);
    validateLwm2mPath(path);
    return path;
  } catch (e) {
    if (e instanceof Lwm2mPathError) throw new Lwm2mServerError('bad-request', e.message, { cause: e });
    throw e;
  }
}
