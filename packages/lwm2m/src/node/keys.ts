/** Key files for DTLS (Node adapter): EC P-256 private keys and public keys, PEM or DER. */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EcdsaCredentials } from '@thimble/coap-core/node';

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** A P-256 private key (PEM, or PKCS#8 DER) as PKCS#8 DER plus its SubjectPublicKeyInfo DER. Throws with the path. */
export function loadEcdsaKey(path: string): EcdsaCredentials {
  const data = readFileSync(path);
  try {
    const k = createPrivateKey(
      data.includes('-----BEGIN') ? data : { key: data, format: 'der', type: 'pkcs8' },
    );
    if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      throw new Error('not an EC P-256 key');
    return {
      privateKey: u8(k.export({ format: 'der', type: 'pkcs8' })),
      publicKey: u8(createPublicKey(k).export({ format: 'der', type: 'spki' })),
    };
  } catch (e) {
    throw new Error(`${path}: not a usable private key: ${(e as Error).message}`);
  }
}

/** A public key (PEM, or SubjectPublicKeyInfo DER; a private key gives its public half) as SPKI DER. */
export function loadPublicKey(path: string): Uint8Array {
  const data = readFileSync(path);
  try {
    const k = createPublicKey(
      data.includes('-----BEGIN') ? data : { key: data, format: 'der', type: 'spki' },
    );
    return u8(k.export({ format: 'der', type: 'spki' }));
  } catch (e) {
    throw new Error(`${path}: not a public key: ${(e as Error).message}`);
  }
}

/** The first certificate of a PEM file (or a DER certificate), DER. */
export function loadCertificate(path: string): Uint8Array {
  try {
    return u8(new X509Certificate(readFileSync(path)).raw);
  } catch (e) {
    throw new Error(`${path}: not a certificate: ${(e as Error).message}`);
  }
}
