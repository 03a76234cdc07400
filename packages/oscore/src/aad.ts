/**
 * Additional authenticated data (RFC 8613 §5.4): the COSE Enc_structure (RFC 9052 §5.3)
 *   [ "Encrypt0", h'', external_aad ]
 * with external_aad = bstr .cbor aad_array and
 *   aad_array = [ oscore_version: 1, algorithms: [alg_aead], request_kid: bstr, request_piv: bstr,
 *                 options: bstr (Class I options; none are defined, so h'') ]
 */
import { headLength, MAJOR_BSTR, writeBytes, writeHead } from './cbor.js';

// 0x83 (array of 3), 0x68 "Encrypt0" (tstr of 8), 0x40 (empty protected header)
const PREFIX = Uint8Array.of(0x83, 0x68, 0x45, 0x6e, 0x63, 0x72, 0x79, 0x70, 0x74, 0x30, 0x40);

/** The aad_array of §5.4 (no Class I options). `algorithm` is the encoded `1, [alg]` part. */
export function aadArrayLength(algorithm: Uint8Array, kid: Uint8Array, piv: Uint8Array): number {
  return 1 + algorithm.length + headLength(kid.length) + kid.length + headLength(piv.length) + piv.length + 1;
}

/** The full Enc_structure used as AEAD associated data (§5.4). */
export function buildAad(algorithm: Uint8Array, kid: Uint8Array, piv: Uint8Array): Uint8Array {
  const inner = aadArrayLength(algorithm, kid, piv);
  const out = new Uint8Array(PREFIX.length + headLength(inner) + inner);
  out.set(PREFIX, 0);
  let p = writeHead(MAJOR_BSTR, inner, out, PREFIX.length);
  out[p++] = 0x85; // array of 5
  out.set(algorithm, p);
  p += algorithm.length;
  p = writeBytes(kid, out, p);
  p = writeBytes(piv, out, p);
  out[p] = 0x40; // options: h'' (no Class I options, §4.1.3)
  return out;
}

/** The aad_array alone (for tests against the RFC 8613 Appendix C values). */
export function buildAadArray(algorithm: Uint8Array, kid: Uint8Array, piv: Uint8Array): Uint8Array {
  const aad = buildAad(algorithm, kid, piv);
  const inner = aadArrayLength(algorithm, kid, piv);
  return aad.subarray(aad.length - inner);
}
