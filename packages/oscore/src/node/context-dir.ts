/**
 * Loads a security context from a credentials directory (Node-only adapter):
 *
 *   <dir>/settings.json            aiocoap-compatible keys (see settings.ts), read-only for us
 *   <dir>/thimble-sequence.json    our sender sequence number reservation (Appendix B.1.1)
 *
 * aiocoap keeps its own mutable state in `sequence.json` in the same directory, in its own format; we do
 * not read or write that file, so both tools can use one directory without corrupting each other's state.
 * (They must not both *send* with the same context, which would reuse nonces whatever the files say.)
 *
 * When thimble-sequence.json already exists the context is a restarted one: its replay window was not
 * kept, so requests are first answered with an Echo challenge (Appendix B.1.2).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ContextParams, deriveContext, type SecurityContext } from '../context.js';
import type { CryptoProvider, RandomSource } from '../crypto.js';
import { OscoreError } from '../errors.js';
import { parseContextSettings } from '../settings.js';
import { nodeCrypto } from './crypto.js';
import { FileSequenceStore } from './sequence-store.js';

export const SETTINGS_FILE = 'settings.json';
export const SEQUENCE_FILE = 'thimble-sequence.json';

export interface ContextDirectoryOptions {
  /** Default `nodeCrypto`. */
  readonly crypto?: CryptoProvider;
  /** Randomness for Echo values; default node:crypto `randomBytes`. */
  readonly random?: RandomSource;
  /** K of Appendix B.1.1 (numbers reserved per write); default 64. */
  readonly sequenceBlock?: number;
  /** Override whether the replay window counts as lost (default: lost when the sequence file existed). */
  readonly replayState?: ContextParams['replayState'];
}

export interface LoadedContext {
  readonly context: SecurityContext;
  readonly store: FileSequenceStore;
  /** True when the directory had been used before (sequence file present). */
  readonly restarted: boolean;
}

const nodeRandom: RandomSource = (length) => {
  const b = randomBytes(length);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
};

/** Reads `<dir>/settings.json` and derives the context with its sequence store beside it. */
export function loadContextDirectory(dir: string, options?: ContextDirectoryOptions): LoadedContext {
  let json: unknown;
  const file = join(dir, SETTINGS_FILE);
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new OscoreError('invalid-context', `cannot read ${file}: ${(e as Error).message}`, undefined, {
      cause: e,
    });
  }
  const settings = parseContextSettings(json);
  const store = new FileSequenceStore(join(dir, SEQUENCE_FILE));
  const restarted = store.exists();
  const context = deriveContext({
    masterSecret: settings.masterSecret,
    masterSalt: settings.masterSalt,
    idContext: settings.idContext,
    senderId: settings.senderId,
    recipientId: settings.recipientId,
    algorithm: settings.algorithm,
    replayWindow: settings.replayWindow,
    crypto: options?.crypto ?? nodeCrypto,
    sequenceStore: store,
    sequenceBlock: options?.sequenceBlock,
    replayState: options?.replayState ?? (restarted ? 'lost' : 'fresh'),
    random: options?.random ?? nodeRandom,
  });
  return { context, store, restarted };
}
