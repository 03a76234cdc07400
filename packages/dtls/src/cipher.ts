/**
 * Record protection for the negotiated suite (RFC 5246 §6.2.3): AEAD (AES-128-CCM-8, RFC 6655; AES-128-GCM,
 * RFC 5288) and AES-128-CBC with HMAC-SHA256 (RFC 5246 §6.2.3.2, MAC-then-encrypt). With a Connection ID the
 * plaintext becomes a DTLSInnerPlaintext and the MAC/AAD input changes (RFC 9146 §5).
 */

import { concat, equalBytes, Writer } from './bytes.js';
import type { AeadAlgorithm, CryptoProvider } from './crypto.js';
import { ContentType, DTLS_1_2 } from './record.js';

export type BulkCipher = { kind: 'aead'; alg: AeadAlgorithm; tagLength: number } | { kind: 'cbc' };

/** Per-direction keys from the key block (RFC 5246 §6.3). */
export interface DirectionKeys {
  readonly macKey: Uint8Array;
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
}

/** Bytes a protected record adds to its plaintext, worst case (used to size fragments against the MTU). */
export function expansion(cipher: BulkCipher, cidLength: number): number {
  const cid = cidLength > 0 ? cidLength + 1 + 16 : 0; // CID in header, real type, padding allowance
  if (cipher.kind === 'aead') return 8 + cipher.tagLength + cid;
  return 16 + 32 + 16 + cid; // IV, MAC, padding up to a block
}

function seqNum(epoch: number, seq: number): Writer {
  return new Writer(13).u16(epoch).u48(seq);
}

/** The MAC / AEAD additional data: RFC 5246 §6.2.3.3 plain, or RFC 9146 §5 with a CID. */
function additionalData(
  type: number,
  epoch: number,
  seq: number,
  length: number,
  cid: Uint8Array | undefined,
) {
  if (cid === undefined) return seqNum(epoch, seq).u8(type).u16(DTLS_1_2).u16(length).finish();
  const w = new Writer(32);
  for (let i = 0; i < 8; i++) w.u8(0xff); // seq_num_placeholder
  w.u8(ContentType.tls12Cid).u8(cid.length).u8(ContentType.tls12Cid).u16(DTLS_1_2).u16(epoch).u48(seq);
  return w.bytes(cid).u16(length).finish();
}

/** The DTLSInnerPlaintext (RFC 9146 §4): content, the real type, no padding. */
function inner(type: number, content: Uint8Array): Uint8Array {
  const out = new Uint8Array(content.length + 1);
  out.set(content);
  out[content.length] = type;
  return out;
}

/** Splits a DTLSInnerPlaintext: strips zero padding, returns the real type; undefined if all zeros. */
function splitInner(plain: Uint8Array): { type: number; content: Uint8Array } | undefined {
  let i = plain.length - 1;
  while (i >= 0 && plain[i] === 0) i--;
  if (i < 0) return undefined;
  return { type: plain[i]!, content: plain.subarray(0, i) };
}

export class RecordProtection {
  constructor(
    private readonly crypto: CryptoProvider,
    readonly cipher: BulkCipher,
    private readonly keys: DirectionKeys,
  ) {}

  /** Protects a record payload; `type` is the real content type. */
  seal(type: number, epoch: number, seq: number, content: Uint8Array, cid?: Uint8Array): Uint8Array {
    const plain = cid === undefined ? content : inner(type, content);
    const aadType = cid === undefined ? type : ContentType.tls12Cid;
    if (this.cipher.kind === 'aead') {
      const explicit = seqNum(epoch, seq).finish(); // RFC 6655 §3 / RFC 5288 §3: explicit nonce = seq_num
      const nonce = concat(this.keys.iv, explicit);
      const aad = additionalData(aadType, epoch, seq, plain.length, cid);
      return concat(explicit, this.crypto.aeadSeal(this.cipher.alg, this.keys.key, nonce, aad, plain));
    }
    const mac = this.crypto.hmacSha256(
      this.keys.macKey,
      concat(additionalData(aadType, epoch, seq, plain.length, cid), plain),
    );
    const unpadded = plain.length + mac.length + 1;
    const pad = (16 - (unpadded % 16)) % 16;
    const block = new Uint8Array(unpadded + pad);
    block.set(plain);
    block.set(mac, plain.length);
    block.fill(pad, plain.length + mac.length);
    const iv = this.crypto.randomBytes(16);
    return concat(iv, this.crypto.cbcEncrypt(this.keys.key, iv, block));
  }

  /**
   * Opens a record payload; returns the real type and content, or undefined when it does not authenticate
   * (the caller drops it silently, RFC 6347 §4.1.2.7).
   */
  open(
    wireType: number,
    epoch: number,
    seq: number,
    payload: Uint8Array,
    cid?: Uint8Array,
  ): { type: number; content: Uint8Array } | undefined {
    let plain: Uint8Array;
    if (this.cipher.kind === 'aead') {
      if (payload.length < 8 + this.cipher.tagLength) return undefined;
      const nonce = concat(this.keys.iv, payload.subarray(0, 8));
      const sealed = payload.subarray(8);
      const aad = additionalData(wireType, epoch, seq, sealed.length - this.cipher.tagLength, cid);
      const opened = this.crypto.aeadOpen(this.cipher.alg, this.keys.key, nonce, aad, sealed);
      if (opened === undefined) return undefined;
      plain = opened;
    } else {
      if (payload.length < 16 + 48 || payload.length % 16 !== 0) return undefined;
      const block = this.crypto.cbcDecrypt(this.keys.key, payload.subarray(0, 16), payload.subarray(16));
      const pad = block[block.length - 1]!;
      // Checks padding and MAC together so both failures look the same (RFC 5246 §6.2.3.2 note on timing).
      let ok = pad + 1 + 32 <= block.length;
      const padStart = ok ? block.length - 1 - pad : block.length - 1;
      for (let i = padStart; i < block.length; i++) if (block[i] !== pad) ok = false;
      const macStart = Math.max(0, padStart - 32);
      plain = block.subarray(0, macStart);
      const expected = this.crypto.hmacSha256(
        this.keys.macKey,
        concat(additionalData(wireType, epoch, seq, plain.length, cid), plain),
      );
      if (!equalBytes(expected, block.subarray(macStart, padStart)) || !ok) return undefined;
    }
    if (cid === undefined) return { type: wireType, content: plain };
    return splitInner(plain);
  }
}
