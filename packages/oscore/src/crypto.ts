/**
 * The crypto provider interface (portable): AEAD with a prepared key, and HKDF (RFC 5869) with SHA-256.
 * The protection logic never imports a crypto library; a provider is injected when a context is derived.
 * `nodeCrypto` (node/crypto.ts, exported from `@thimble/oscore/node`) implements it with node:crypto.
 *
 * All operations are synchronous: OSCORE protects one small message at a time, and a synchronous API lets
 * protect/unprotect stay plain functions (and suits small boards, where crypto is synchronous anyway).
 */
import type { AeadAlgorithm } from './algorithms.js';

/** An AEAD key prepared once per security context (providers may cache cipher state here). */
export interface AeadKey {
  readonly algorithm: AeadAlgorithm;
  /** Ciphertext followed by the tag (`plaintext.length + tagLength` bytes). */
  encrypt(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The plaintext, or `undefined` when authentication fails or the input is shorter than the tag. */
  decrypt(nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array | undefined;
}

/** Hash functions for HKDF (RFC 8613 §3.1: HKDF SHA-256 is the default and mandatory KDF). */
export type HkdfHash = 'SHA-256';

export interface CryptoProvider {
  /** Prepares `key` for `algorithm`. Throws if the provider does not support the algorithm. */
  aeadKey(algorithm: AeadAlgorithm, key: Uint8Array): AeadKey;
  /** True if `aeadKey` accepts `algorithm`. */
  supportsAead(algorithm: AeadAlgorithm): boolean;
  /** HKDF-Extract (RFC 5869 §2.2): PRK = HMAC-Hash(salt, IKM); an empty salt means HashLen zeros. */
  hkdfExtract(hash: HkdfHash, salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  /** HKDF-Expand (RFC 5869 §2.3): `length` bytes of OKM from PRK and info. */
  hkdfExpand(hash: HkdfHash, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

/** Randomness, injected (docs/ARCHITECTURE.md, "Portable core": tests run on seeded randomness). Returns `length` random bytes. */
export type RandomSource = (length: number) => Uint8Array;
