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
 *
 * Several processes may use one directory at the same time (e.g. a few command-line requests started in
 * parallel). Every reservation is therefore a read-modify-write under an exclusive-create lock file
 * (`<file>.lock`, created with O_EXCL, holding pid, host, time and a random tag): the stored limit is
 * re-read under the lock on every reservation and a block never starts below it (`reserveBlock`), so no
 * two senders ever take the same sequence number (RFC 8613 §7.2.1: a nonce is never reused). A lock left by
 * a crashed process is broken when its pid is not alive on this host, or when it is older than `staleMs`;
 * breaking happens under a second exclusive-create file (`<file>.lock.break`) after re-checking that the
 * lock is still the same stale one, so two processes can never both break a lock and both own the new one.
 * aiocoap's own `lock` file is a different mechanism: the two tools must still not run on one directory at
 * the same time.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { OscoreError } from '../errors.js';
import { MAX_SEQUENCE_NUMBER } from '../replay.js';
import type { SequenceNumberStore } from '../sequence.js';

export interface FileSequenceStoreOptions {
  /** A lock older than this is taken as left by a crashed process and broken (default 10 000 ms). */
  readonly staleMs?: number;
  /** How long a reservation waits for the lock before it fails with 'persistence-failed' (default 10 000 ms). */
  readonly lockTimeoutMs?: number;
}

/** The content of a lock file; `tag` makes each acquisition distinct even if a pid is reused. */
interface LockRecord {
  readonly pid: number;
  readonly host: string;
  readonly time: number;
  readonly tag: string;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` (reservations are synchronous: a sequence number is taken inside `protect`). */
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else
    return errno(e) === 'EPERM';
  }
}

export class FileSequenceStore implements SequenceNumberStore {
  readonly path: string;
  readonly lockPath: string;
  /** Number of completed reservations (writes) by this object. */
  writes = 0;
  /** Number of stale locks this object broke (a crashed holder's lock). */
  brokenLocks = 0;
  private readonly staleMs: number;
  private readonly lockTimeoutMs: number;

  constructor(path: string, options?: FileSequenceStoreOptions) {
    this.path = path;
    this.lockPath = `${path}.lock`;
    this.staleMs = options?.staleMs ?? 10_000;
    this.lockTimeoutMs = options?.lockTimeoutMs ?? 10_000;
  }

  /** True if the file exists, i.e. the context was used before (its replay window is then lost). */
  exists(): boolean {
    return existsSync(this.path);
  }

  /** The stored limit. No lock needed: the record is only ever replaced by an atomic rename. */
  load(): number {
    return this.read();
  }

  /** Records `limit` unless the stored limit is already higher (a reservation never moves backwards). */
  reserve(limit: number): void {
    this.withLock(() => {
      if (limit < this.read()) return;
      this.write(limit);
    });
  }

  reserveBlock(from: number, count: number): number {
    return this.withLock(() => {
      const start = Math.max(from, this.read());
      this.write(Math.min(start + count, MAX_SEQUENCE_NUMBER + 1));
      return start;
    });
  }

  /** Runs `f` holding the lock file; throws 'persistence-failed' when the lock cannot be had in time. */
  protected withLock<T>(f: () => T): T {
    const record = this.acquire();
    try {
      return f();
    } finally {
      this.release(record);
    }
  }

  private acquire(): LockRecord {
    const deadline = Date.now() + this.lockTimeoutMs;
    let wait = 1;
    for (;;) {
      const record: LockRecord = {
        pid: process.pid,
        host: hostname(),
        time: Date.now(),
        tag: randomBytes(8).toString('hex'),
      };
      if (this.tryCreate(this.lockPath, record)) return record;
      this.breakIfStale();
      if (Date.now() > deadline) {
        throw new OscoreError('persistence-failed', `timed out waiting for the lock ${this.lockPath}`);
      }
      sleepSync(wait + Math.floor(Math.random() * wait));
      wait = Math.min(wait * 2, 32);
    }
  }

  private release(record: LockRecord): void {
    // Only remove the lock if it is still ours (it could have been broken as stale meanwhile).
    if (this.readLock(this.lockPath)?.tag === record.tag) {
      try {
        unlinkSync(this.lockPath);
      } catch {
        // already gone
      }
    }
  }

  /** Creates `file` exclusively with `record`; false if it exists. */
  private tryCreate(file: string, record: LockRecord): boolean {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (e) {
      if (errno(e) === 'EEXIST') return false;
      throw new OscoreError('persistence-failed', `cannot create ${file}`, undefined, { cause: e });
    }
    try {
      writeSync(fd, JSON.stringify(record));
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** The lock record in `file`, or undefined if there is none; a half-written record has time 0 (stale by age). */
  private readLock(file: string): LockRecord | undefined {
    let text: string;
    let mtime: number;
    try {
      text = readFileSync(file, 'utf8');
      mtime = statSync(file).mtimeMs;
    } catch {
      return undefined;
    }
    try {
      const r = JSON.parse(text) as Partial<LockRecord>;
      if (
        typeof r.pid === 'number' &&
        typeof r.host === 'string' &&
        typeof r.time === 'number' &&
        typeof r.tag === 'string'
      ) {
        return { pid: r.pid, host: r.host, time: r.time, tag: r.tag };
      }
    } catch {
      // the holder may be between create and write: judge by the file's age
    }
    return { pid: 0, host: '', time: mtime, tag: `unreadable:${mtime}:${text}` };
  }

  private isStale(lock: LockRecord): boolean {
    if (Date.now() - lock.time > this.staleMs) return true;
    return lock.pid > 0 && lock.host === hostname() && !pidAlive(lock.pid);
  }

  /** Breaks the lock if it is stale, under the break lock, after checking it is still the same lock. */
  private breakIfStale(): void {
    const seen = this.readLock(this.lockPath);
    if (seen === undefined || !this.isStale(seen)) return;
    const breakPath = `${this.lockPath}.break`;
    const me: LockRecord = {
      pid: process.pid,
      host: hostname(),
      time: Date.now(),
      tag: randomBytes(8).toString('hex'),
    };
    if (!this.tryCreate(breakPath, me)) {
      // Someone else is breaking it; recover a break lock whose holder died in that short step.
      const other = this.readLock(breakPath);
      if (other !== undefined && this.isStale(other)) {
        try {
          unlinkSync(breakPath);
        } catch {
          // gone already
        }
      }
      return;
    }
    try {
      const now = this.readLock(this.lockPath);
      if (now !== undefined && now.tag === seen.tag) {
        unlinkSync(this.lockPath);
        this.brokenLocks++;
      }
    } finally {
      unlinkSync(breakPath);
    }
  }

  /** Reads the stored limit (under the lock when the result decides a reservation). */
  private read(): number {
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

  /** Durably replaces the record with `limit` (callers hold the lock). */
  private write(limit: number): void {
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
