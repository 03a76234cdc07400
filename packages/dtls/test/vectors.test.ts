import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8, Writer } from '../src/bytes.js';
import { RecordProtection } from '../src/cipher.js';
import { DtlsError } from '../src/errors.js';
import { nodeCrypto } from '../src/node/crypto.js';
import { prf, pskPreMasterSecret } from '../src/prf.js';
import { ContentType, parseRecords, writeRecord } from '../src/record.js';
import { ReplayWindow } from '../src/replay.js';
import { CipherSuites } from '../src/suites.js';
import { loadVectors } from './helpers.js';

interface CcmVector {
  source: string;
  key: string;
  nonce: string;
  aad: string;
  plaintext: string;
  sealed: string;
}

describe('AES-128-CCM-8 (RFC 6655 §3) on node:crypto', () => {
  const { vectors } = loadVectors<{ vectors: CcmVector[] }>('aes-ccm-8.json');
  for (const v of vectors) {
    it(`seals and opens ${v.source}`, () => {
      const sealed = nodeCrypto.aeadSeal(
        'aes-128-ccm-8',
        fromHex(v.key),
        fromHex(v.nonce),
        fromHex(v.aad),
        fromHex(v.plaintext),
      );
      expect(toHex(sealed)).toBe(v.sealed);
      const opened = nodeCrypto.aeadOpen(
        'aes-128-ccm-8',
        fromHex(v.key),
        fromHex(v.nonce),
        fromHex(v.aad),
        fromHex(v.sealed),
      );
      expect(opened && toHex(opened)).toBe(v.plaintext);
    });
    it(`rejects a flipped tag bit (${v.source})`, () => {
      const bad = fromHex(v.sealed);
      bad[bad.length - 1]! ^= 1;
      expect(
        nodeCrypto.aeadOpen('aes-128-ccm-8', fromHex(v.key), fromHex(v.nonce), fromHex(v.aad), bad),
      ).toBeUndefined();
    });
  }
});

describe('TLS 1.2 PRF (RFC 5246 §5)', () => {
  const { vectors } = loadVectors<{
    vectors: { source: string; secret: string; label: string; seed: string; output: string }[];
  }>('prf.json');
  for (const v of vectors) {
    it(`P_SHA256 matches ${v.source}`, () => {
      const out = prf(nodeCrypto, fromHex(v.secret), v.label, fromHex(v.seed), v.output.length / 2);
      expect(toHex(out)).toBe(v.output);
    });
  }

  it('builds the PSK pre-master secret of RFC 4279 §2 (N zeros, then the key)', () => {
    expect(toHex(pskPreMasterSecret(utf8('ab')))).toBe('000200000002' + '6162');
    expect(toHex(pskPreMasterSecret(utf8('ab'), Uint8Array.of(9)))).toBe('0001090002' + '6162');
  });
});

describe('record layer (RFC 6347 §4.1)', () => {
  it('round-trips several records in one datagram, with a RFC 9146 CID record', () => {
    const w = new Writer();
    writeRecord(w, ContentType.handshake, 0, 5, Uint8Array.of(1, 2, 3));
    writeRecord(w, ContentType.applicationData, 1, 0x123456789a, Uint8Array.of(4), Uint8Array.of(0xaa, 0xbb));
    const records = parseRecords(w.finish(), 2);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ type: 22, epoch: 0, seq: 5 });
    expect([...records[0]!.fragment]).toEqual([1, 2, 3]);
    expect(records[1]).toMatchObject({ type: 25, epoch: 1, seq: 0x123456789a });
    expect([...records[1]!.cid!]).toEqual([0xaa, 0xbb]);
  });

  it('rejects truncated headers, unknown types and versions with a typed decode-error', () => {
    const w = new Writer();
    writeRecord(w, ContentType.handshake, 0, 1, Uint8Array.of(1, 2, 3));
    const good = w.finish();
    for (const bad of [
      good.subarray(0, 10),
      good.subarray(0, good.length - 1),
      Uint8Array.of(99, ...good.subarray(1)),
      Uint8Array.of(22, 3, 3, ...good.subarray(3)),
    ]) {
      let error: unknown;
      try {
        parseRecords(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DtlsError);
      expect((error as DtlsError).reason).toBe('decode-error');
    }
    expect(() => parseRecords(Uint8Array.of(25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0), 0)).toThrow(
      DtlsError,
    );
  });

  for (const suite of [
    CipherSuites.TLS_PSK_WITH_AES_128_CCM_8,
    CipherSuites.TLS_PSK_WITH_AES_128_GCM_SHA256,
    CipherSuites.TLS_PSK_WITH_AES_128_CBC_SHA256,
  ]) {
    for (const cid of [undefined, Uint8Array.of(1, 2, 3)]) {
      it(`protects and opens ${suite.name} records${cid ? ' with a CID (RFC 9146 §5)' : ''}; a changed byte fails`, () => {
        const keys = {
          macKey: new Uint8Array(suite.macKeyLength).fill(7),
          key: new Uint8Array(16).fill(3),
          iv: new Uint8Array(suite.ivLength).fill(5),
        };
        const p = new RecordProtection(nodeCrypto, suite.cipher, keys);
        const sealed = p.seal(ContentType.applicationData, 1, 42, utf8('hello'), cid);
        const wire = cid ? ContentType.tls12Cid : ContentType.applicationData;
        const opened = p.open(wire, 1, 42, sealed, cid);
        expect(opened?.type).toBe(ContentType.applicationData);
        expect(new TextDecoder().decode(opened!.content)).toBe('hello');
        expect(p.open(wire, 1, 43, sealed, cid)).toBeUndefined(); // the sequence number is authenticated
        const bad = sealed.slice();
        bad[bad.length - 2]! ^= 0x40;
        expect(p.open(wire, 1, 42, bad, cid)).toBeUndefined();
      });
    }
  }
});

describe('replay window (RFC 6347 §4.1.2.6)', () => {
  it('accepts new numbers, rejects repeats and numbers older than 64', () => {
    const w = new ReplayWindow();
    expect(w.check(0)).toBe(true);
    w.accept(0);
    expect(w.check(0)).toBe(false);
    w.accept(100);
    expect(w.check(100)).toBe(false);
    expect(w.check(36)).toBe(false); // 100 - 64
    expect(w.check(37)).toBe(true);
    w.accept(37);
    expect(w.check(37)).toBe(false);
    expect(w.check(99)).toBe(true);
    w.accept(99);
    w.accept(150);
    expect(w.check(99)).toBe(false);
    expect(w.check(100)).toBe(false);
    expect(w.check(120)).toBe(true);
  });

  it('agrees with a set-based model on random sequences', () => {
    const w = new ReplayWindow();
    const seen = new Set<number>();
    let top = -1;
    let s = 12345;
    for (let i = 0; i < 5000; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const seq = Math.max(0, top + ((s >> 8) % 80) - 60);
      const model = !seen.has(seq) && (seq > top || top - seq < 64);
      expect(w.check(seq)).toBe(model);
      if (model) {
        w.accept(seq);
        seen.add(seq);
        top = Math.max(top, seq);
      }
    }
  });
});
