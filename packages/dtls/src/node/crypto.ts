/** The `CryptoProvider` on node:crypto (Node adapter). */

import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  verify,
  X509Certificate,
} from 'node:crypto';
import type { AeadAlgorithm, Certificate, CryptoProvider, EcdhKeyPair } from '../crypto.js';

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function tagLength(alg: AeadAlgorithm): number {
  return alg === 'aes-128-ccm-8' ? 8 : 16;
}

export const nodeCrypto: CryptoProvider = {
  sha256: (data) => u8(createHash('sha256').update(data).digest()),
  hmacSha256: (key, data) => u8(createHmac('sha256', key).update(data).digest()),
  randomBytes: (length) => u8(randomBytes(length)),
  aeadSeal(alg, key, nonce, aad, plaintext) {
    const t = tagLength(alg);
    if (alg === 'aes-128-ccm-8') {
      const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: t });
      c.setAAD(aad, { plaintextLength: plaintext.length });
      const out = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
      return u8(out);
    }
    const c = createCipheriv('aes-128-gcm', key, nonce, { authTagLength: t });
    c.setAAD(aad);
    return u8(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
  },
  aeadOpen(alg, key, nonce, aad, sealed) {
    const t = tagLength(alg);
    if (sealed.length < t) return undefined;
    const body = sealed.subarray(0, sealed.length - t);
    const tag = sealed.subarray(sealed.length - t);
    try {
      if (alg === 'aes-128-ccm-8') {
        const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: t });
        d.setAuthTag(tag);
        d.setAAD(aad, { plaintextLength: body.length });
        const out = d.update(body);
        d.final();
        return u8(out);
      }
      const d = createDecipheriv('aes-128-gcm', key, nonce, { authTagLength: t });
      d.setAuthTag(tag);
      d.setAAD(aad);
      return u8(Buffer.concat([d.update(body), d.final()]));
    } catch {
      return undefined;
    }
  },
  cbcEncrypt(key, iv, data) {
    const c = createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
    return u8(Buffer.concat([c.update(data), c.final()]));
  },
  cbcDecrypt(key, iv, data) {
    const d = createDecipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
    return u8(Buffer.concat([d.update(data), d.final()]));
  },
  generateEcdhP256(): EcdhKeyPair {
    const ecdh = createECDH('prime256v1');
    const publicKey = u8(ecdh.generateKeys());
    return {
      publicKey,
      computeSecret: (peer) => u8(ecdh.computeSecret(peer)),
    };
  },
  ecdsaSign(privateKey, data) {
    const key = createPrivateKey({ key: Buffer.from(privateKey), format: 'der', type: 'pkcs8' });
    return u8(sign('sha256', data, { key, dsaEncoding: 'der' }));
  },
  ecdsaVerify(publicKey, data, signature) {
    try {
      const key = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
      return verify('sha256', data, { key, dsaEncoding: 'der' }, signature);
    } catch {
      return false;
    }
  },
  parseCertificate(der): Certificate {
    const c = new X509Certificate(der);
    return {
      der,
      subject: c.subject,
      issuer: c.issuer,
      publicKey: u8(c.publicKey.export({ format: 'der', type: 'spki' })),
      validFrom: Date.parse(c.validFrom),
      validTo: Date.parse(c.validTo),
    };
  },
  verifyCertificate(subject, issuer) {
    try {
      const s = new X509Certificate(subject);
      const i = new X509Certificate(issuer);
      return s.checkIssued(i) && s.verify(i.publicKey);
    } catch {
      return false;
    }
  },
};
