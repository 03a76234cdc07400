/**
 * A file-backed `SequenceNumberStore` (Node-only adapter) implementing RFC 8613 Appendix B.1.1: before a
 * block of sender sequence numbers is used, the end of the block is written to a temporary file, fsynced,
 * atomically renamed over the store file and the directory fsynced. A crash at any point leaves either the
 * old or the new record on disk, and both are at least as high as any number ever used, so a restarted
 * context never reuses a sequence number (and never reuses an AEAD nonce).
 *
 * File format: the `sequence.json` of aiocoap's credentials directories, so that both tools honour each
 * other's reservations when they use one directory in turn:
 *
 *   {"next-to-send": <first number not reserved>, "received": "unknown"}
 *
 * `next-to-send` has the same meaning for both: every lower number may have been used. We never persist the
 * replay window ("received" is always written as "unknown", which makes aiocoap recover with Echo too) and
 * we ignore a persisted window when reading: a restarted context always recovers with Echo (B.1.2).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OscoreError } from '../errors.js';
import { MAX_SEQUENCE_NUMBER } from '../replay.js';
import type { SequenceNumberStore } from '../sequence.js';

export class FileSequenceStore implements SequenceNumberStore {
  readonly path: string;
  /** Number of completed reservations (writes) by this object. */
  writes = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** True if the file exists, i.e. the context was used before (its replay window is then lost). */
  exists(): boolean {
    return existsSync(this.path);
  }

  load(): number {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw new OscoreError('persistence-failed', `cannot read ${this.path}`, undefined, { cause: e });
    }
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (e) {
      throw new OscoreError('persistence-failed', `${this.path} is not JSON`, undefined, { cause: e });
    }
    const raw =
      record !== null && typeof record === 'object'
        ? (record as Record<string, unknown>)['next-to-send']
        : undefined;
    // aiocoap writes the number as an integer; accept its decimal string form too.
    const next = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : raw;
    if (
      typeof next !== 'number' ||
      !Number.isSafeInteger(next) ||
      next < 0 ||
      next > MAX_SEQUENCE_NUMBER + 1
    ) {
      // Guessing would risk nonce reuse: refuse and let the operator re-key or repair.
      throw new OscoreError('persistence-failed', `${this.path} has no valid "next-to-send"`);
    }
    return next;
  }

  reserve(limit: number): void {
    const tmp = join(dirname(this.path), `.sequence-thimble-${process.pid}.json`);
    this.writeDurably(tmp, `${JSON.stringify({ 'next-to-send': limit, received: 'unknown' })}\n`);
    this.commit(tmp);
    this.writes++;
  }

  /** Writes `text` to `file` and fsyncs it. */
  protected writeDurably(file: string, text: string): void {
    const fd = openSync(file, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Atomically replaces the store file with `tmp` and makes the rename durable. */
  protected commit(tmp: string): void {
    renameSync(tmp, this.path);
    try {
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch {
      // Some platforms cannot fsync a directory; the rename itself is still atomic.
    }
  }
}
