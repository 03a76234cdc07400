/** The TLS 1.2 pseudo-random function with SHA-256 (RFC 5246 §5) and the secrets derived with it. */

import { concat, utf8 } from './bytes.js';
import type { CryptoProvider } from './crypto.js';

/** P_SHA256(secret, label + seed), `length` bytes (RFC 5246 §5). */
export function prf(
  crypto: CryptoProvider,
  secret: Uint8Array,
  label: string,
  seed: Uint8Array,
  length: number,
): Uint8Array {
  const labelSeed = concat(utf8(label), seed);
  const out = new Uint8Array(length);
  let a = labelSeed; // A(0)
  let at = 0;
  while (at < length) {
    a = crypto.hmacSha256(secret, a); // A(i) = HMAC(secret, A(i-1))
    const block = crypto.hmacSha256(secret, concat(a, labelSeed));
    out.set(block.subarray(0, Math.min(block.length, length - at)), at);
    at += block.length;
  }
  return out;
}

/**
 * The master secret: RFC 7627 §4 (extended master secret, over the session hash) when `sessionHash` is given,
 * else RFC 5246 §8.1 over the two randoms.
 */
export function masterSecret(
  crypto: CryptoProvider,
  preMasterSecret: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  sessionHash: Uint8Array | undefined,
): Uint8Array {
  if (sessionHash !== undefined)
    return prf(crypto, preMasterSecret, 'extended master secret', sessionHash, 48);
  return prf(crypto, preMasterSecret, 'master secret', concat(clientRandom, serverRandom), 48);
}

/** The PSK pre-master secret (RFC 4279 §2): `other_secret` is N zero bytes for plain PSK, the ECDH Z for ECDHE_PSK (RFC 5489 §2). */
export function pskPreMasterSecret(psk: Uint8Array, otherSecret?: Uint8Array): Uint8Array {
  const other = otherSecret ?? new Uint8Array(psk.length);
  const out = new Uint8Array(4 + other.length + psk.length);
  out[0] = other.length >>> 8;
  out[1] = other.length & 0xff;
  out.set(other, 2);
  out[2 + other.length] = psk.length >>> 8;
  out[3 + other.length] = psk.length & 0xff;
  out.set(psk, 4 + other.length);
  return out;
}
