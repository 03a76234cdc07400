/** cbor-x configured for the LwM2M formats: integer-keyed maps as `Map`, no records, no typed-array tags. */
import { Decoder, Encoder } from 'cbor-x';
import { Lwm2mContentError } from './errors.js';

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false, bundleStrings: false });
const encoder = new Encoder({
  mapsAsObjects: false,
  useRecords: false,
  variableMapSize: true,
  tagUint8Array: false,
  bundleStrings: false,
});

/** Decodes one CBOR data item; any failure of the decoder becomes `Lwm2mContentError` (`malformed`). */
export function cborDecode(bytes: Uint8Array, format: number): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new Lwm2mContentError('malformed', `CBOR: ${(e as Error).message ?? 'invalid data'}`, { format });
  }
}

/**
 * Encodes one CBOR data item. cbor-x returns a Buffer view into its reusable output buffer: copied into a
 * plain Uint8Array so the caller owns it and portable code never sees a Node Buffer object.
 */
export function cborEncode(value: unknown): Uint8Array {
  return new Uint8Array(encoder.encode(value));
}
