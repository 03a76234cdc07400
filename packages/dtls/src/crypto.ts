/**
 * What the DTLS core needs from a crypto library. The core is portable; `node/crypto.ts` implements this on
 * node:crypto. All operations are synchronous (node:crypto's are), which keeps the state machines simple.
 */

export type AeadAlgorithm = 'aes-128-ccm-8' | 'aes-128-gcm';

/** An ephemeral ECDH key pair on P-256 (secp256r1). */
export interface EcdhKeyPair {
  /** The uncompressed point (0x04 || X || Y), 65 bytes. */
  readonly publicKey: Uint8Array;
  /** The shared secret (the X coordinate, RFC 8422 §5.10); throws on an invalid peer point. */
  computeSecret(peerPublicKey: Uint8Array): Uint8Array;
}

/** A parsed X.509 certificate, as much as DTLS needs. */
export interface Certificate {
  readonly der: Uint8Array;
  readonly subject: string;
  readonly issuer: string;
  /** The SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array;
  readonly validFrom: number;
  readonly validTo: number;
}

export interface CryptoProvider {
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  randomBytes(length: number): Uint8Array;
  /** Returns ciphertext || tag. */
  aeadSeal(
    alg: AeadAlgorithm,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
  ): Uint8Array;
  /** Returns the plaintext, or undefined when the tag does not verify. */
  aeadOpen(
    alg: AeadAlgorithm,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array | undefined;
  /** AES-128-CBC without padding (the record layer pads, RFC 5246 §6.2.3.2). */
  cbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  cbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  generateEcdhP256(): EcdhKeyPair;
  /** ECDSA P-256 with SHA-256, DER-encoded signature (RFC 8422 §5.4). `privateKey` is PKCS#8 DER. */
  ecdsaSign(privateKey: Uint8Array, data: Uint8Array): Uint8Array;
  /** `publicKey` is SubjectPublicKeyInfo DER. */
  ecdsaVerify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
  parseCertificate(der: Uint8Array): Certificate;
  /** Whether `issuer` issued and signed `subject`. */
  verifyCertificate(subject: Uint8Array, issuer: Uint8Array): boolean;
}
