/**
 * The DTLS 1.2 record layer (RFC 6347 §4.1): DTLSPlaintext / DTLSCiphertext headers, several records per
 * datagram, and the RFC 9146 §4 `tls12_cid` record (content type 25) that carries a Connection ID.
 */

import { Reader, type Writer } from './bytes.js';
import { DtlsError } from './errors.js';

export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
  /** RFC 9146 §4. */
  tls12Cid: 25,
} as const;

/** DTLS 1.2 on the wire (RFC 6347 §4.1: the 1's complement of 1.2). */
export const DTLS_1_2 = 0xfefd;
/** DTLS 1.0, which HelloVerifyRequest and early records may carry (RFC 6347 §4.2.1). */
export const DTLS_1_0 = 0xfeff;

export const RECORD_HEADER_LENGTH = 13;
/** The largest record fragment allowed: 2^14 plus expansion (RFC 5246 §6.2.3). */
export const MAX_CIPHERTEXT_LENGTH = 16384 + 2048;

export interface DtlsRecord {
  /** The content type on the wire (25 for a CID record: the real type is inside the encrypted payload). */
  readonly type: number;
  readonly version: number;
  readonly epoch: number;
  /** 48-bit sequence number. */
  readonly seq: number;
  /** The Connection ID of a `tls12_cid` record. */
  readonly cid?: Uint8Array;
  /** The fragment: a view into the datagram. */
  readonly fragment: Uint8Array;
  /** The header bytes as received (a view), for MAC/AAD inputs. */
  readonly header: Uint8Array;
}

/**
 * Splits a datagram into records (RFC 6347 §4.1.1: several records may share one datagram). A CID record's
 * CID length is not on the wire (RFC 9146 §4): the receiver knows the length of the CIDs it hands out,
 * given as `cidLength`. Throws `DtlsError('decode-error')` on any malformed header.
 */
export function parseRecords(datagram: Uint8Array, cidLength = 0): DtlsRecord[] {
  const records: DtlsRecord[] = [];
  const r = new Reader(datagram, 'DTLS record');
  while (r.remaining > 0) {
    const start = r.offset;
    const type = r.u8();
    if (type < 20 || (type > 23 && type !== ContentType.tls12Cid)) {
      throw new DtlsError('decode-error', `DTLS record: unknown content type ${type}`);
    }
    const version = r.u16();
    if (version !== DTLS_1_2 && version !== DTLS_1_0) {
      throw new DtlsError('decode-error', `DTLS record: unsupported version 0x${version.toString(16)}`);
    }
    const epoch = r.u16();
    const seq = r.u48();
    let cid: Uint8Array | undefined;
    if (type === ContentType.tls12Cid) {
      if (cidLength === 0)
        throw new DtlsError('decode-error', 'DTLS record: CID record without a negotiated CID');
      cid = r.bytesView(cidLength);
    }
    const length = r.u16();
    if (length > MAX_CIPHERTEXT_LENGTH) throw new DtlsError('decode-error', 'DTLS record: too long');
    const header = datagram.subarray(start, r.offset);
    const fragment = r.bytesView(length);
    records.push(
      cid === undefined
        ? { type, version, epoch, seq, fragment, header }
        : { type, version, epoch, seq, cid, fragment, header },
    );
  }
  return records;
}

/** Reads just the CID of the first record of a datagram, for demultiplexing (RFC 9146 §4); undefined if none. */
export function peekCid(datagram: Uint8Array, cidLength: number): Uint8Array | undefined {
  if (cidLength === 0 || datagram.length < 11 + cidLength + 2 || datagram[0] !== ContentType.tls12Cid)
    return undefined;
  return datagram.subarray(11, 11 + cidLength);
}

/** Writes one record header and fragment. */
export function writeRecord(
  w: Writer,
  type: number,
  epoch: number,
  seq: number,
  fragment: Uint8Array,
  cid?: Uint8Array,
  version = DTLS_1_2,
): void {
  w.u8(cid !== undefined ? ContentType.tls12Cid : type)
    .u16(version)
    .u16(epoch)
    .u48(seq);
  if (cid !== undefined) w.bytes(cid);
  w.vector(2, fragment);
}
