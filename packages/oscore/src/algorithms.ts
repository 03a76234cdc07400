/**
 * AEAD algorithms (RFC 8613 §3.1, COSE algorithm registry, RFC 9053 §4). The protection logic only uses
 * the lengths below; a `CryptoProvider` decides which ones it can run. Algorithm 10 (AES-CCM-16-64-128)
 * is mandatory to implement (RFC 8613 §3.1) and the default.
 */

export interface AeadAlgorithm {
  /** COSE algorithm identifier, used in the HKDF `info` (§3.2.1) and the AAD (§5.4). */
  readonly id: number;
  /** COSE name, also the `algorithm` value of an aiocoap-style settings.json. */
  readonly name: string;
  readonly keyLength: number;
  readonly nonceLength: number;
  readonly tagLength: number;
  /** Longest plaintext the AEAD accepts (AES-CCM with L = 2, i.e. a 13-byte nonce: 2^16 − 1 bytes). */
  readonly maxPlaintextLength: number;
}

/** RFC 9053 §4.2: AES-CCM with L = 16 (13-byte nonce), 64-bit tag, 128-bit key. COSE 10. */
export const AES_CCM_16_64_128: AeadAlgorithm = {
  id: 10,
  name: 'AES-CCM-16-64-128',
  keyLength: 16,
  nonceLength: 13,
  tagLength: 8,
  maxPlaintextLength: 0xffff,
};

/** RFC 9053 §4.2: AES-CCM-16-128-128. COSE 30. */
export const AES_CCM_16_128_128: AeadAlgorithm = {
  id: 30,
  name: 'AES-CCM-16-128-128',
  keyLength: 16,
  nonceLength: 13,
  tagLength: 16,
  maxPlaintextLength: 0xffff,
};

/** RFC 9053 §4.1: AES-GCM with a 128-bit key (A128GCM). COSE 1. */
export const A128GCM: AeadAlgorithm = {
  id: 1,
  name: 'A128GCM',
  keyLength: 16,
  nonceLength: 12,
  tagLength: 16,
  maxPlaintextLength: 2 ** 32,
};

/** RFC 9053 §4.3: ChaCha20/Poly1305. COSE 24. */
export const CHACHA20_POLY1305: AeadAlgorithm = {
  id: 24,
  name: 'ChaCha20/Poly1305',
  keyLength: 32,
  nonceLength: 12,
  tagLength: 16,
  maxPlaintextLength: 2 ** 32,
};

/** The algorithm table: everything the protection logic knows the parameters of. */
export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = [
  AES_CCM_16_64_128,
  AES_CCM_16_128_128,
  A128GCM,
  CHACHA20_POLY1305,
];

/** Looks an algorithm up by COSE id or name (case-insensitive); undefined if unknown. */
export function aeadAlgorithm(idOrName: number | string): AeadAlgorithm | undefined {
  if (typeof idOrName === 'number') return AEAD_ALGORITHMS.find((a) => a.id === idOrName);
  const lower = idOrName.toLowerCase();
  return AEAD_ALGORITHMS.find((a) => a.name.toLowerCase() === lower);
}

/** RFC 8613 §3.3: the longest Sender / Recipient ID an algorithm allows (nonce length − 6). */
export function maxIdLength(algorithm: AeadAlgorithm): number {
  return algorithm.nonceLength - 6;
}
