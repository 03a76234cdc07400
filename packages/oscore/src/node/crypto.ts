/**
 * `CryptoProvider` on node:crypto (Node-only adapter). AES-CCM-16-64-128 is `aes-128-ccm` with an 8-byte
 * tag and a 13-byte nonce (RFC 8613 §3.1, RFC 9053 §4.2); AES-CCM-16-128-128, A128GCM and
 * ChaCha20/Poly1305 are supported too. HKDF is RFC 5869 over HMAC-SHA-256.
 *
 * Results are plain `Uint8Array` views, never `Buffer`s, so portable code cannot trip on Buffer's
 * different `slice` semantics.
 */
import {
  type CipherCCMTypes,
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  type KeyObject,
} from 'node:crypto';
import type { AeadAlgorithm } from '../algorithms.js';
import type { AeadKey, CryptoProvider, HkdfHash } from '../crypto.js';

interface Cipher {
  readonly name: string;
}

function cipherFor(algorithm: AeadAlgorithm): Cipher | undefined {
  switch (algorithm.id) {
    case 10:
    case 30:
      return algorithm.keyLength === 16 && algorithm.nonceLength === 13 ? { name: 'aes-128-ccm' } : undefined;
    case 1:
      return { name: 'aes-128-gcm' };
    case 24:
      return { name: 'chacha20-poly1305' };
    default:
      return undefined;
  }
}

function view(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

class NodeAeadKey implements AeadKey {
  readonly algorithm: AeadAlgorithm;
  private readonly key: KeyObject;
  private readonly cipher: string;
  private readonly tagLength: number;

  constructor(algorithm: AeadAlgorithm, cipher: Cipher, key: Uint8Array) {
    this.algorithm = algorithm;
    this.key = createSecretKey(key);
    this.cipher = cipher.name;
    this.tagLength = algorithm.tagLength;
  }

  encrypt(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const c = createCipheriv(this.cipher as CipherCCMTypes, this.key, nonce, {
      authTagLength: this.tagLength,
    });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    const body = c.update(plaintext);
    c.final();
    const tag = c.getAuthTag();
    const out = new Uint8Array(body.length + tag.length);
    out.set(body, 0);
    out.set(tag, body.length);
    return out;
  }

  decrypt(nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array | undefined {
    const n = ciphertextAndTag.length - this.tagLength;
    if (n < 0) return undefined;
    try {
      const d = createDecipheriv(this.cipher as CipherCCMTypes, this.key, nonce, {
        authTagLength: this.tagLength,
      });
      d.setAuthTag(ciphertextAndTag.subarray(n));
      d.setAAD(aad, { plaintextLength: n });
      const body = d.update(ciphertextAndTag.subarray(0, n));
      d.final(); // throws when the tag does not verify
      return view(body);
    } catch {
      return undefined;
    }
  }
}

function hashName(hash: HkdfHash): string {
  if (hash !== 'SHA-256') throw new RangeError(`unsupported HKDF hash ${String(hash)}`);
  return 'sha256';
}

/** node:crypto implementation of the crypto provider. */
export const nodeCrypto: CryptoProvider = {
  supportsAead(algorithm: AeadAlgorithm): boolean {
    return cipherFor(algorithm) !== undefined;
  },
  aeadKey(algorithm: AeadAlgorithm, key: Uint8Array): AeadKey {
    const cipher = cipherFor(algorithm);
    if (cipher === undefined) throw new RangeError(`node:crypto provider does not support ${algorithm.name}`);
    if (key.length !== algorithm.keyLength) {
      throw new RangeError(`${algorithm.name} needs a ${algorithm.keyLength}-byte key, got ${key.length}`);
    }
    return new NodeAeadKey(algorithm, cipher, key);
  },
  hkdfExtract(hash: HkdfHash, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
    // RFC 5869 §2.2: an absent salt is HashLen zeros; HMAC pads an empty key with zeros, same result.
    return view(createHmac(hashName(hash), salt).update(ikm).digest());
  },
  hkdfExpand(hash: HkdfHash, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    const name = hashName(hash);
    const hashLength = 32;
    if (!(length >= 0 && length <= 255 * hashLength))
      throw new RangeError(`HKDF length ${length} out of range`);
    const out = new Uint8Array(length);
    let previous: Uint8Array = new Uint8Array(0);
    let written = 0;
    for (let i = 1; written < length; i++) {
      const t = createHmac(name, prk).update(previous).update(info).update(Uint8Array.of(i)).digest();
      previous = view(t);
      const take = Math.min(hashLength, length - written);
      out.set(previous.subarray(0, take), written);
      written += take;
    }
    return out;
  },
};
