/**
 * DTLS credentials from the command line (Node adapter): `--psk-identity` with `--psk-key HEX` or
 * `--psk-text TEXT`, `--rpk-key/--rpk-peer` (PEM files, RFC 7250 raw public keys), `--cert/--key/--ca`
 * (PEM files, X.509), `--cid` (RFC 9146 Connection ID). Used by `coap` requests to coaps:// URIs and by
 * `coap serve --dtls-port`.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromHex } from '@thimble/coap-core';
import type { DtlsCommonOptions, DtlsPsk, EcdsaCredentials } from '@thimble/coap-core/node';
import { UsageError } from './usage.js';

export interface DtlsFlags {
  readonly 'psk-identity'?: string;
  readonly 'psk-key'?: string;
  readonly 'psk-text'?: string;
  readonly 'rpk-key'?: string;
  readonly 'rpk-peer'?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  readonly cid?: boolean;
}

/** The flags' parse options (node:util parseArgs). */
export const DTLS_OPTIONS = {
  'psk-identity': { type: 'string' },
  'psk-key': { type: 'string' },
  'psk-text': { type: 'string' },
  'rpk-key': { type: 'string' },
  'rpk-peer': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  cid: { type: 'boolean' },
} as const;

export interface DtlsCredentials extends DtlsCommonOptions {
  readonly psk?: DtlsPsk;
  readonly cid: boolean;
}

function read(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(e as Error).message}`);
  }
}

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** A PEM (or DER) EC P-256 private key file as PKCS#8 DER plus its SubjectPublicKeyInfo DER. */
export function loadPrivateKey(path: string, flag: string): EcdsaCredentials {
  const data = read(path, flag);
  try {
    const k = createPrivateKey(
      data.includes('-----BEGIN') ? data : { key: data, format: 'der', type: 'pkcs8' },
    );
    if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error('not an EC P-256 key');
    }
    return {
      privateKey: u8(k.export({ format: 'der', type: 'pkcs8' })),
      publicKey: u8(createPublicKey(k).export({ format: 'der', type: 'spki' })),
    };
  } catch (e) {
    throw new UsageError(`${flag}: ${path} is not a usable private key: ${(e as Error).message}`);
  }
}

/** A public key file (PEM, or a private key whose public half is meant) as SubjectPublicKeyInfo DER. */
export function loadPublicKey(path: string, flag: string): Uint8Array {
  const data = read(path, flag);
  try {
    const k = createPublicKey(
      data.includes('-----BEGIN') ? data : { key: data, format: 'der', type: 'spki' },
    );
    return u8(k.export({ format: 'der', type: 'spki' }));
  } catch (e) {
    throw new UsageError(`${flag}: ${path} is not a public key: ${(e as Error).message}`);
  }
}

/** Every certificate of a PEM file (or one DER certificate), DER. */
export function loadCertificates(path: string, flag: string): Uint8Array[] {
  const data = read(path, flag);
  const text = data.toString('latin1');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  try {
    if (blocks === null) return [u8(new X509Certificate(data).raw)];
    return blocks.map((b) => u8(new X509Certificate(b).raw));
  } catch (e) {
    throw new UsageError(`${flag}: ${path} holds no usable certificate: ${(e as Error).message}`);
  }
}

/** Turns the flags into transport options; undefined when no DTLS credential was given. */
export function dtlsCredentials(flags: DtlsFlags): DtlsCredentials | undefined {
  let psk: DtlsPsk | undefined;
  const identity = flags['psk-identity'];
  if (flags['psk-key'] !== undefined && flags['psk-text'] !== undefined) {
    throw new UsageError('give --psk-key (hex) or --psk-text, not both');
  }
  if (flags['psk-key'] !== undefined || flags['psk-text'] !== undefined) {
    if (identity === undefined) throw new UsageError('--psk-key/--psk-text need --psk-identity');
    let key: Uint8Array;
    if (flags['psk-key'] !== undefined) {
      try {
        key = fromHex(flags['psk-key']);
      } catch {
        throw new UsageError('--psk-key must be hex (use --psk-text for a text key)');
      }
    } else key = new TextEncoder().encode(flags['psk-text']);
    if (key.length === 0) throw new UsageError('the pre-shared key is empty');
    psk = { identity, key };
  } else if (identity !== undefined) {
    throw new UsageError('--psk-identity needs --psk-key HEX or --psk-text TEXT');
  }
  if (flags['rpk-key'] !== undefined && flags.cert !== undefined) {
    throw new UsageError('give --rpk-key or --cert/--key, not both');
  }
  let ecdsa: EcdsaCredentials | undefined;
  let trustedPublicKeys: Uint8Array[] | undefined;
  let trustAnchors: Uint8Array[] | undefined;
  if (flags['rpk-key'] !== undefined) ecdsa = loadPrivateKey(flags['rpk-key'], '--rpk-key');
  if (flags['rpk-peer'] !== undefined) trustedPublicKeys = [loadPublicKey(flags['rpk-peer'], '--rpk-peer')];
  if (flags.cert !== undefined || flags.key !== undefined) {
    if (flags.cert === undefined || flags.key === undefined)
      throw new UsageError('--cert and --key go together');
    ecdsa = {
      ...loadPrivateKey(flags.key, '--key'),
      certificateChain: loadCertificates(flags.cert, '--cert'),
    };
  }
  if (flags.ca !== undefined) trustAnchors = loadCertificates(flags.ca, '--ca');
  if (
    psk === undefined &&
    ecdsa === undefined &&
    trustAnchors === undefined &&
    trustedPublicKeys === undefined
  ) {
    return undefined;
  }
  return { psk, ecdsa, trustedPublicKeys, trustAnchors, cid: flags.cid === true };
}
