/**
 * Handshake message codecs (RFC 6347 §4.2.2, RFC 5246 §7.4, RFC 4279, RFC 5489, RFC 8422, RFC 7250,
 * RFC 7627, RFC 9146). Every parser throws `DtlsError('decode-error')` on malformed input.
 */

import { Reader, Writer } from './bytes.js';
import { DtlsError } from './errors.js';

export const HandshakeType = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
} as const;

export const ExtensionType = {
  supportedGroups: 10,
  ecPointFormats: 11,
  signatureAlgorithms: 13,
  clientCertificateType: 19,
  serverCertificateType: 20,
  extendedMasterSecret: 23,
  /** RFC 9146 §3. */
  connectionId: 54,
  renegotiationInfo: 0xff01,
} as const;

/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3). */
export const RENEGOTIATION_SCSV = 0x00ff;
/** secp256r1 (RFC 8422 §5.1.1). */
export const SECP256R1 = 23;
/** ecdsa_secp256r1_sha256 as (hash, signature) = (sha256, ecdsa) (RFC 5246 §7.4.1.4.1). */
export const ECDSA_SHA256 = 0x0403;
/** Certificate types (RFC 7250 §3). */
export const CertificateType = { x509: 0, rawPublicKey: 2 } as const;

export const HANDSHAKE_HEADER_LENGTH = 12;

/** One handshake message fragment (RFC 6347 §4.2.2). */
export interface HandshakeFragment {
  readonly msgType: number;
  readonly length: number;
  readonly messageSeq: number;
  readonly fragmentOffset: number;
  readonly body: Uint8Array;
}

/** Splits a handshake record's fragment into handshake fragments (several may share a record). */
export function parseHandshakeFragments(fragment: Uint8Array): HandshakeFragment[] {
  const r = new Reader(fragment, 'handshake fragment');
  const out: HandshakeFragment[] = [];
  while (r.remaining > 0) {
    const msgType = r.u8();
    const length = r.u24();
    const messageSeq = r.u16();
    const fragmentOffset = r.u24();
    const fragmentLength = r.u24();
    if (fragmentOffset + fragmentLength > length) {
      throw new DtlsError('decode-error', 'handshake fragment: beyond the message length');
    }
    out.push({ msgType, length, messageSeq, fragmentOffset, body: r.bytesView(fragmentLength) });
  }
  return out;
}

/** A whole handshake message with its DTLS header (fragment_offset 0, fragment_length = length), as hashed. */
export function encodeHandshake(msgType: number, messageSeq: number, body: Uint8Array): Uint8Array {
  return new Writer(body.length + HANDSHAKE_HEADER_LENGTH)
    .u8(msgType)
    .u24(body.length)
    .u16(messageSeq)
    .u24(0)
    .u24(body.length)
    .bytes(body)
    .finish();
}

/** Cuts a whole message (as `encodeHandshake` returns) into fragments of at most `maxBody` body bytes. */
export function fragmentHandshake(message: Uint8Array, maxBody: number): Uint8Array[] {
  const body = message.subarray(HANDSHAKE_HEADER_LENGTH);
  if (body.length <= maxBody) return [message];
  const out: Uint8Array[] = [];
  const msgType = message[0]!;
  const seq = (message[4]! << 8) | message[5]!;
  for (let off = 0; off < body.length; off += maxBody) {
    const part = body.subarray(off, Math.min(body.length, off + maxBody));
    out.push(
      new Writer(part.length + HANDSHAKE_HEADER_LENGTH)
        .u8(msgType)
        .u24(body.length)
        .u16(seq)
        .u24(off)
        .u24(part.length)
        .bytes(part)
        .finish(),
    );
  }
  return out;
}

export interface Extension {
  readonly type: number;
  readonly data: Uint8Array;
}

function parseExtensions(r: Reader, what: string): Extension[] {
  if (r.remaining === 0) return [];
  const block = new Reader(r.vector(2), what);
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (block.remaining > 0) {
    const type = block.u16();
    if (seen.has(type)) throw new DtlsError('decode-error', `${what}: duplicate extension ${type}`);
    seen.add(type);
    out.push({ type, data: block.vector(2) });
  }
  return out;
}

function writeExtensions(w: Writer, extensions: readonly Extension[]): void {
  if (extensions.length === 0) return;
  const inner = new Writer();
  for (const e of extensions) inner.u16(e.type).vector(2, e.data);
  w.vector(2, inner.finish());
}

export function findExtension(extensions: readonly Extension[], type: number): Extension | undefined {
  return extensions.find((e) => e.type === type);
}

export interface ClientHello {
  readonly version: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cookie: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: Uint8Array;
  readonly extensions: readonly Extension[];
}

/** RFC 6347 §4.2.1 / RFC 5246 §7.4.1.2. */
export function parseClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body, 'ClientHello');
  const version = r.u16();
  const random = r.bytesView(32);
  const sessionId = r.vector(1, 0, 32);
  const cookie = r.vector(1, 0, 255);
  const suites = r.vector(2, 2, 0xfffe);
  if (suites.length % 2 !== 0) throw new DtlsError('decode-error', 'ClientHello: odd cipher suite list');
  const cipherSuites: number[] = [];
  for (let i = 0; i < suites.length; i += 2) cipherSuites.push((suites[i]! << 8) | suites[i + 1]!);
  const compressionMethods = r.vector(1, 1, 255);
  const extensions = parseExtensions(r, 'ClientHello');
  r.end();
  return { version, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
}

export function encodeClientHello(m: ClientHello): Uint8Array {
  const w = new Writer(256).u16(m.version).bytes(m.random).vector(1, m.sessionId).vector(1, m.cookie);
  w.u16(m.cipherSuites.length * 2);
  for (const s of m.cipherSuites) w.u16(s);
  w.vector(1, m.compressionMethods);
  writeExtensions(w, m.extensions);
  return w.finish();
}

export interface HelloVerifyRequest {
  readonly version: number;
  readonly cookie: Uint8Array;
}

export function parseHelloVerifyRequest(body: Uint8Array): HelloVerifyRequest {
  const r = new Reader(body, 'HelloVerifyRequest');
  const version = r.u16();
  const cookie = r.vector(1, 0, 255);
  r.end();
  return { version, cookie };
}

export function encodeHelloVerifyRequest(m: HelloVerifyRequest): Uint8Array {
  return new Writer(40).u16(m.version).vector(1, m.cookie).finish();
}

export interface ServerHello {
  readonly version: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  readonly extensions: readonly Extension[];
}

export function parseServerHello(body: Uint8Array): ServerHello {
  const r = new Reader(body, 'ServerHello');
  const version = r.u16();
  const random = r.bytesView(32);
  const sessionId = r.vector(1, 0, 32);
  const cipherSuite = r.u16();
  const compressionMethod = r.u8();
  const extensions = parseExtensions(r, 'ServerHello');
  r.end();
  return { version, random, sessionId, cipherSuite, compressionMethod, extensions };
}

export function encodeServerHello(m: ServerHello): Uint8Array {
  const w = new Writer(128)
    .u16(m.version)
    .bytes(m.random)
    .vector(1, m.sessionId)
    .u16(m.cipherSuite)
    .u8(m.compressionMethod);
  writeExtensions(w, m.extensions);
  return w.finish();
}

/** ServerECDHParams (RFC 8422 §5.4): named curve P-256 and the public point. */
export interface EcdhParams {
  readonly curve: number;
  readonly publicKey: Uint8Array;
  /** The encoded params, as signed. */
  readonly raw: Uint8Array;
}

function parseEcdhParams(r: Reader): { curve: number; publicKey: Uint8Array } {
  const curveType = r.u8();
  if (curveType !== 3) throw new DtlsError('decode-error', 'ServerKeyExchange: not a named curve');
  const curve = r.u16();
  const publicKey = r.vector(1, 1, 255);
  return { curve, publicKey };
}

export function encodeEcdhParams(publicKey: Uint8Array): Uint8Array {
  return new Writer(70).u8(3).u16(SECP256R1).vector(1, publicKey).finish();
}

/** ServerKeyExchange for PSK (RFC 4279 §2), ECDHE_PSK (RFC 5489 §2) or ECDHE_ECDSA (RFC 8422 §5.4). */
export interface ServerKeyExchange {
  readonly identityHint?: Uint8Array;
  readonly ecdh?: EcdhParams;
  readonly signatureAlgorithm?: number;
  readonly signature?: Uint8Array;
}

export function parseServerKeyExchange(
  body: Uint8Array,
  kind: 'psk' | 'ecdhe-psk' | 'ecdhe-ecdsa',
): ServerKeyExchange {
  const r = new Reader(body, 'ServerKeyExchange');
  if (kind === 'psk') {
    const identityHint = r.vector(2);
    r.end();
    return { identityHint };
  }
  if (kind === 'ecdhe-psk') {
    const identityHint = r.vector(2);
    const start = r.offset;
    const ecdh = parseEcdhParams(r);
    r.end();
    return {
      identityHint,
      ecdh: { curve: ecdh.curve, publicKey: ecdh.publicKey, raw: body.subarray(start) },
    };
  }
  const ecdh = parseEcdhParams(r);
  const raw = body.subarray(0, r.offset);
  const signatureAlgorithm = r.u16();
  const signature = r.vector(2, 1);
  r.end();
  return { ecdh: { curve: ecdh.curve, publicKey: ecdh.publicKey, raw }, signatureAlgorithm, signature };
}

/** ClientKeyExchange (RFC 4279 §2, RFC 5489 §2, RFC 8422 §5.7). */
export interface ClientKeyExchange {
  readonly identity?: Uint8Array;
  readonly publicKey?: Uint8Array;
}

export function parseClientKeyExchange(
  body: Uint8Array,
  kind: 'psk' | 'ecdhe-psk' | 'ecdhe-ecdsa',
): ClientKeyExchange {
  const r = new Reader(body, 'ClientKeyExchange');
  const identity = kind === 'ecdhe-ecdsa' ? undefined : r.vector(2, 0, 65535);
  const publicKey = kind === 'psk' ? undefined : r.vector(1, 1, 255);
  r.end();
  return {
    ...(identity !== undefined ? { identity } : {}),
    ...(publicKey !== undefined ? { publicKey } : {}),
  };
}

export function encodeClientKeyExchange(m: ClientKeyExchange): Uint8Array {
  const w = new Writer(100);
  if (m.identity !== undefined) w.vector(2, m.identity);
  if (m.publicKey !== undefined) w.vector(1, m.publicKey);
  return w.finish();
}

/** Finished (RFC 5246 §7.4.9): 12 bytes of verify_data. */
export function parseFinished(body: Uint8Array): Uint8Array {
  if (body.length !== 12) throw new DtlsError('decode-error', 'Finished: verify_data must be 12 bytes');
  return body;
}

/** Certificate (RFC 5246 §7.4.2): a chain of DER certificates; with RPK (RFC 7250 §3) one SubjectPublicKeyInfo. */
export function parseCertificateMessage(body: Uint8Array, rawPublicKey: boolean): Uint8Array[] {
  const r = new Reader(body, 'Certificate');
  if (rawPublicKey) {
    const spki = r.vector(3, 1);
    r.end();
    return [spki];
  }
  const list = new Reader(r.vector(3), 'Certificate list');
  r.end();
  const out: Uint8Array[] = [];
  while (list.remaining > 0) out.push(list.vector(3, 1));
  return out;
}

export function encodeCertificateMessage(chain: readonly Uint8Array[], rawPublicKey: boolean): Uint8Array {
  if (rawPublicKey) return new Writer().vector(3, chain[0] ?? new Uint8Array(0)).finish();
  const inner = new Writer(1024);
  for (const c of chain) inner.vector(3, c);
  return new Writer(1024).vector(3, inner.finish()).finish();
}

/** CertificateVerify / signed params: SignatureAndHashAlgorithm + signature (RFC 5246 §4.7). */
export function parseDigitallySigned(
  body: Uint8Array,
  what: string,
): { algorithm: number; signature: Uint8Array } {
  const r = new Reader(body, what);
  const algorithm = r.u16();
  const signature = r.vector(2, 1);
  r.end();
  return { algorithm, signature };
}

export function encodeDigitallySigned(algorithm: number, signature: Uint8Array): Uint8Array {
  return new Writer(80).u16(algorithm).vector(2, signature).finish();
}

/** CertificateRequest (RFC 5246 §7.4.4). We only need to know it came and its types. */
export function parseCertificateRequest(body: Uint8Array): { types: Uint8Array; algorithms: Uint8Array } {
  const r = new Reader(body, 'CertificateRequest');
  const types = r.vector(1, 1);
  const algorithms = r.vector(2, 2);
  r.vector(2); // certificate_authorities: ignored
  r.end();
  return { types, algorithms };
}

export function encodeCertificateRequest(): Uint8Array {
  // ecdsa_sign (64); ecdsa_secp256r1_sha256; no CA list.
  return new Writer(16).vector(1, Uint8Array.of(64)).vector(2, Uint8Array.of(4, 3)).u16(0).finish();
}
