/**
 * Loads a security context from a credentials directory in aiocoap's layout (Node-only adapter):
 *
 *   <dir>/settings.json   static parameters (keys: see settings.ts); read-only for us
 *   <dir>/secret.json     optional; may hold some of the same keys (e.g. the secret, with tighter file
 *                         permissions); a key may not appear in both files
 *   <dir>/sequence.json   the sender sequence number reservation, in aiocoap's format (see
 *                         node/sequence-store.ts), written ahead of use (Appendix B.1.1)
 *
 * Sharing `sequence.json` with aiocoap is deliberate: if each tool kept its own counter, using the
 * directory with one tool and then the other would reuse sequence numbers, i.e. AEAD nonces. Several of
 * our processes may use one directory at once (reservations are taken under a lock file, see
 * node/sequence-store.ts), but we and aiocoap must still never use it at the same time (aiocoap guards
 * that with its own `lock` file, which we do not take part in).
 *
 * When sequence.json already exists the context is a restarted one: its replay window is not known, so
 * requests are first answered with an Echo challenge (Appendix B.1.2).
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
export const SECRET_FILE = 'secret.json';
export const SEQUENCE_FILE = 'sequence.json';

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
  const json: Record<string, unknown> = {};
  let found = false;
  for (const name of [SECRET_FILE, SETTINGS_FILE]) {
    const file = join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new OscoreError('invalid-context', `cannot read ${file}: ${(e as Error).message}`, undefined, {
        cause: e,
      });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new OscoreError('invalid-context', `${file} is not a JSON object`);
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (key in json)
        throw new OscoreError('invalid-context', `${key} is given in more than one file in ${dir}`);
      json[key] = value;
    }
    found = true;
  }
  if (!found)
    throw new OscoreError('invalid-context', `neither ${SETTINGS_FILE} nor ${SECRET_FILE} in ${dir}`);
  const settings = parseContextSettings(json);
  const store = new FileSequenceStore(join(dir, SEQUENCE_FILE));
  const restarted = store.exists();
  if (!restarted) {
    // Mark the directory as used now, before any request is accepted: a server that answers with the
    // request's nonce never takes a sequence number of its own, and without this mark a restart would
    // look like a first start and accept replays of everything seen before (Appendix B.1.2).
    try {
      store.reserve(0);
    } catch (e) {
      throw new OscoreError('persistence-failed', `cannot write ${store.path}`, undefined, { cause: e });
    }
  }
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
