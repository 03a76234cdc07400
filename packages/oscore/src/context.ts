/**
 * OSCORE security contexts (RFC 8613 §3): derivation of Sender Key, Recipient Key and Common IV with
 * HKDF (§3.2.1), nonce construction (§5.2), the sender sequence number with persistence ahead of use
 * (§7.2.1, Appendix B.1.1) and the recipient's replay state, including recovery with Echo after the replay
 * window was lost (Appendix B.1.2, RFC 9175).
 */
import { AES_CCM_16_64_128, type AeadAlgorithm, aeadAlgorithm, maxIdLength } from './algorithms.js';
import {
  algLength,
  CBOR_NULL,
  headLength,
  MAJOR_ARRAY,
  writeAlg,
  writeAscii,
  writeBytes,
  writeHead,
} from './cbor.js';
import type { AeadKey, CryptoProvider, HkdfHash, RandomSource } from './crypto.js';
import { OscoreError } from './errors.js';
import { DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW, MAX_SEQUENCE_NUMBER, ReplayWindow } from './replay.js';
import type { SequenceNumberStore } from './sequence.js';

/** Key derivation functions (RFC 8613 §3.1: HKDF SHA-256 is the default). */
export type Kdf = 'HKDF-SHA-256';

/** Whether the recipient's replay window is trustworthy (Appendix B.1.2). */
export type ReplayState = 'fresh' | 'lost';

export interface ContextParams {
  /** Master Secret (RFC 8613 §3.1), at least one byte. */
  readonly masterSecret: Uint8Array;
  /** Master Salt; default the empty byte string (§3.1). */
  readonly masterSalt?: Uint8Array;
  /** ID Context; default absent (CBOR nil in `info`, §3.2.1). */
  readonly idContext?: Uint8Array;
  readonly senderId: Uint8Array;
  readonly recipientId: Uint8Array;
  /** AEAD algorithm: COSE id, name or table entry; default 10, AES-CCM-16-64-128 (§3.1). */
  readonly algorithm?: number | string | AeadAlgorithm;
  /** Default HKDF-SHA-256 (§3.1), the only one supported. */
  readonly kdf?: Kdf;
  /** Replay window size (§3.2.2, §7.4); default 32, at most 4096. */
  readonly replayWindow?: number;
  /** The crypto implementation (e.g. `nodeCrypto` from `@thimble/oscore/node`). */
  readonly crypto: CryptoProvider;
  /** Where the sender sequence number is reserved ahead of use (Appendix B.1.1). Default: none. */
  readonly sequenceStore?: SequenceNumberStore;
  /** Numbers reserved per store write (K of Appendix B.1.1); default 64. */
  readonly sequenceBlock?: number;
  /**
   * First sender sequence number (default 0). With a store, the larger of this and the store's value is
   * used. Mainly for tests (the RFC 8613 Appendix C vectors start at 20).
   */
  readonly initialSequenceNumber?: number;
  /**
   * 'lost' when this context existed before and its replay window was not kept (e.g. after a reboot):
   * requests are then answered with an Echo challenge until one proves freshness (Appendix B.1.2).
   * Default 'fresh' (a new context: every Partial IV is new).
   */
  readonly replayState?: ReplayState;
  /** Randomness for Echo values; required when `replayState` is 'lost'. */
  readonly random?: RandomSource;
}

/** Default K for Appendix B.1.1. */
export const DEFAULT_SEQUENCE_BLOCK = 64;

/** Length of the Echo values this package generates (RFC 9175 §2.2.1 allows 1–40 bytes). */
export const ECHO_LENGTH = 8;

/**
 * The association between a request and its response(s) (RFC 8613 §8, "the association (Token, {Security
 * Context, Partial IV of the request})"). Keep it with the exchange; for an observation keep it as long as
 * the observation lives.
 */
export interface RequestBinding {
  /** 'kid' of the request: the requester's Sender ID (the `request_kid` of the AAD, §5.4). */
  readonly kid: Uint8Array;
  /** Partial IV of the request (the `request_piv` of the AAD, §5.4). */
  readonly partialIv: Uint8Array;
  /** The request's AEAD nonce, reused by responses without a Partial IV (§8.3). */
  readonly nonce: Uint8Array;
  /** The request carried an (inner) Observe registration (value 0) (§4.1.3.5). */
  readonly observe: boolean;
  /**
   * Client side: the largest Partial IV of a verified notification (the Notification Number, §7.4.1);
   * undefined until the first one.
   */
  notificationNumber: number | undefined;
  /** Client side: a response was already verified for this binding. */
  responded: boolean;
}

/** The CBOR `info` array of RFC 8613 §3.2.1: [id, id_context / nil, alg_aead, type, L]. */
export function hkdfInfo(
  id: Uint8Array,
  idContext: Uint8Array | undefined,
  algorithm: number | string,
  type: 'Key' | 'IV',
  length: number,
): Uint8Array {
  const size =
    1 +
    headLength(id.length) +
    id.length +
    (idContext === undefined ? 1 : headLength(idContext.length) + idContext.length) +
    algLength(algorithm) +
    1 +
    type.length +
    headLength(length);
  const out = new Uint8Array(size);
  let p = writeHead(MAJOR_ARRAY, 5, out, 0);
  p = writeBytes(id, out, p);
  if (idContext === undefined) out[p++] = CBOR_NULL;
  else p = writeBytes(idContext, out, p);
  p = writeAlg(algorithm, out, p);
  p = writeAscii(type, out, p);
  p = writeHead(0, length, out, p);
  return out;
}

function bytesOf(name: string, value: unknown, optional: boolean): Uint8Array | undefined {
  if (value === undefined && optional) return undefined;
  if (!(value instanceof Uint8Array))
    throw new OscoreError('invalid-context', `${name} must be a Uint8Array`);
  return value;
}

function resolveAlgorithm(a: ContextParams['algorithm']): AeadAlgorithm {
  if (a === undefined) return AES_CCM_16_64_128;
  if (typeof a === 'object') return a;
  const found = aeadAlgorithm(a);
  if (found === undefined) throw new OscoreError('invalid-context', `unknown AEAD algorithm ${String(a)}`);
  return found;
}

/**
 * The nonce prefix of RFC 8613 §5.2 for an ID: Common IV XOR [size of ID | ID left-padded | 5 zero bytes].
 * The Partial IV is XORed into the last 5 bytes per message.
 */
function nonceBase(commonIv: Uint8Array, id: Uint8Array, nonceLength: number): Uint8Array {
  const base = commonIv.slice();
  base[0] = base[0]! ^ id.length;
  const idEnd = nonceLength - 5;
  for (let i = 0; i < id.length; i++) {
    const k = idEnd - id.length + i;
    base[k] = base[k]! ^ id[i]!;
  }
  return base;
}

/** Writes the nonce for `partialIv` (given as its sequence number) into `out`, from a base. */
function nonceFrom(base: Uint8Array, seq: number, out: Uint8Array): Uint8Array {
  out.set(base);
  const n = base.length;
  // The Partial IV left-padded to 5 bytes; seq < 2^40.
  const high = Math.floor(seq / 0x100000000);
  const low = seq >>> 0;
  out[n - 5] = out[n - 5]! ^ (high & 0xff);
  out[n - 4] = out[n - 4]! ^ (low >>> 24);
  out[n - 3] = out[n - 3]! ^ ((low >>> 16) & 0xff);
  out[n - 2] = out[n - 2]! ^ ((low >>> 8) & 0xff);
  out[n - 1] = out[n - 1]! ^ (low & 0xff);
  return out;
}

/** Partial IV bytes for a sequence number: big-endian, minimal length, 0 as one zero byte (§6.1). */
export function encodePartialIv(seq: number): Uint8Array {
  if (seq < 0x100) return Uint8Array.of(seq);
  let n = seq < 0x10000 ? 2 : seq < 0x1000000 ? 3 : seq < 0x100000000 ? 4 : 5;
  const out = new Uint8Array(n);
  let v = seq;
  while (n-- > 0) {
    out[n] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** The sequence number a Partial IV denotes (at most 5 bytes, §6.1). */
export function decodePartialIv(piv: Uint8Array): number {
  let v = 0;
  for (let i = 0; i < piv.length; i++) v = v * 256 + piv[i]!;
  return v;
}

/** A derived security context: Common Context, Sender Context and Recipient Context (RFC 8613 §3.1). */
export class SecurityContext {
  readonly algorithm: AeadAlgorithm;
  readonly kdf: Kdf;
  readonly idContext: Uint8Array | undefined;
  readonly senderId: Uint8Array;
  readonly recipientId: Uint8Array;
  readonly senderKey: Uint8Array;
  readonly recipientKey: Uint8Array;
  readonly commonIv: Uint8Array;
  /** The recipient's replay window (§7.4). */
  readonly replayWindow: ReplayWindow;

  /** @internal prepared AEAD keys */
  readonly senderAead: AeadKey;
  /** @internal */
  readonly recipientAead: AeadKey;
  /** @internal the external_aad prefix [1, [alg]] as bytes (§5.4) */
  readonly aadAlgorithm: Uint8Array;

  private readonly senderNonceBase: Uint8Array;
  private readonly recipientNonceBase: Uint8Array;
  private nextSeq: number;
  private reservedUntil: number;
  private readonly store: SequenceNumberStore | undefined;
  private readonly block: number;
  private spent: boolean;
  private replayLost: boolean;
  private pendingEcho: Uint8Array | undefined;
  private readonly random: RandomSource | undefined;

  /** @internal use `deriveContext` */
  constructor(
    params: ContextParams,
    algorithm: AeadAlgorithm,
    keys: { senderKey: Uint8Array; recipientKey: Uint8Array; commonIv: Uint8Array },
  ) {
    this.algorithm = algorithm;
    this.kdf = params.kdf ?? 'HKDF-SHA-256';
    this.idContext = params.idContext === undefined ? undefined : params.idContext.slice();
    this.senderId = params.senderId.slice();
    this.recipientId = params.recipientId.slice();
    this.senderKey = keys.senderKey;
    this.recipientKey = keys.recipientKey;
    this.commonIv = keys.commonIv;
    this.replayWindow = new ReplayWindow(params.replayWindow ?? DEFAULT_REPLAY_WINDOW);
    this.senderAead = params.crypto.aeadKey(algorithm, keys.senderKey);
    this.recipientAead = params.crypto.aeadKey(algorithm, keys.recipientKey);
    const alg = new Uint8Array(2 + algLength(algorithm.id));
    alg[0] = 0x01; // oscore_version: 1
    alg[1] = 0x81; // algorithms: [alg_aead]
    writeAlg(algorithm.id, alg, 2);
    this.aadAlgorithm = alg;
    this.senderNonceBase = nonceBase(keys.commonIv, this.senderId, algorithm.nonceLength);
    this.recipientNonceBase = nonceBase(keys.commonIv, this.recipientId, algorithm.nonceLength);
    this.store = params.sequenceStore;
    this.block = params.sequenceBlock ?? DEFAULT_SEQUENCE_BLOCK;
    const stored = this.store === undefined ? 0 : this.store.load();
    if (!(Number.isSafeInteger(stored) && stored >= 0)) {
      throw new OscoreError('invalid-context', `sequence store returned ${stored}`);
    }
    this.nextSeq = Math.max(stored, params.initialSequenceNumber ?? 0);
    // Nothing is reserved yet in this run: the first use writes a reservation (write-then-use).
    this.reservedUntil = this.store === undefined ? Number.POSITIVE_INFINITY : this.nextSeq;
    this.spent = this.nextSeq > MAX_SEQUENCE_NUMBER;
    this.replayLost = params.replayState === 'lost';
    this.pendingEcho = undefined;
    this.random = params.random;
  }

  /** The next sender sequence number that will be used (§3.1 Sender Sequence Number). */
  get senderSequenceNumber(): number {
    return this.nextSeq;
  }

  /** True once the sender sequence number space is used up (§7.2.1): the context can no longer send. */
  get exhausted(): boolean {
    return this.spent;
  }

  /** True while the replay window is not trustworthy and requests get an Echo challenge (Appendix B.1.2). */
  get awaitingFreshness(): boolean {
    return this.replayLost;
  }

  /**
   * @internal Takes the next sender sequence number, reserving a block in the store first when needed
   * (Appendix B.1.1: write, then use). Throws 'sequence-exhausted' past 2^40 − 1 (§7.2.1).
   */
  takeSequenceNumber(): number {
    const seq = this.nextSeq;
    if (this.spent || seq > MAX_SEQUENCE_NUMBER) {
      this.spent = true;
      throw new OscoreError('sequence-exhausted');
    }
    if (seq >= this.reservedUntil) return this.takeFromNewBlock(seq);
    this.nextSeq = seq + 1;
    if (this.nextSeq > MAX_SEQUENCE_NUMBER) this.spent = true;
    return seq;
  }

  /**
   * Reserves the next block in the store (write, then use) and takes its first number. A store shared with
   * other senders (`reserveBlock`) may hand out a block that starts above `seq`: the numbers in between
   * were taken by someone else and must not be used here (§7.2.1: a Partial IV is never reused).
   */
  private takeFromNewBlock(seq: number): number {
    const store = this.store!;
    let start = seq;
    try {
      if (store.reserveBlock === undefined) {
        store.reserve(Math.min(seq + this.block, MAX_SEQUENCE_NUMBER + 1));
      } else {
        start = store.reserveBlock(seq, this.block);
      }
    } catch (cause) {
      throw new OscoreError('persistence-failed', String(cause), undefined, { cause });
    }
    if (!(Number.isSafeInteger(start) && start >= seq)) {
      throw new OscoreError('persistence-failed', `sequence store returned block start ${start}`);
    }
    if (start > MAX_SEQUENCE_NUMBER) {
      this.spent = true;
      throw new OscoreError('sequence-exhausted');
    }
    this.reservedUntil = Math.min(start + this.block, MAX_SEQUENCE_NUMBER + 1);
    this.nextSeq = start + 1;
    if (this.nextSeq > MAX_SEQUENCE_NUMBER) this.spent = true;
    return start;
  }

  /** @internal The nonce for a Partial IV generated by this endpoint (§5.2). */
  senderNonce(seq: number): Uint8Array {
    return nonceFrom(this.senderNonceBase, seq, new Uint8Array(this.senderNonceBase.length));
  }

  /** @internal The nonce for a Partial IV generated by the peer (§5.2). */
  recipientNonce(seq: number): Uint8Array {
    return nonceFrom(this.recipientNonceBase, seq, new Uint8Array(this.recipientNonceBase.length));
  }

  /**
   * @internal Appendix B.1.2: a verified request arrived while the replay window is lost. Returns true if
   * `echo` answers the pending challenge (the window then restarts at `seq`); otherwise returns false and
   * the challenge value to send is `pendingEchoValue` (created on first need, kept until answered).
   */
  proveFreshness(seq: number, echo: Uint8Array | undefined): boolean {
    const pending = this.pendingEcho;
    if (pending !== undefined && echo !== undefined && equal(pending, echo)) {
      this.replayWindow.resetTo(seq);
      this.replayLost = false;
      this.pendingEcho = undefined;
      return true;
    }
    // Keep one challenge value until it is answered: regenerating it for every request would let anyone
    // replaying old requests keep invalidating the value the legitimate client is about to send back.
    if (pending !== undefined) return false;
    if (this.random === undefined) {
      throw new OscoreError('invalid-context', 'replay state is lost but no random source was given');
    }
    const value = this.random(ECHO_LENGTH);
    if (!(value instanceof Uint8Array) || value.length !== ECHO_LENGTH) {
      throw new OscoreError('invalid-context', 'random source returned the wrong number of bytes');
    }
    this.pendingEcho = value.slice();
    return false;
  }

  /** @internal The Echo value of the current challenge. */
  get pendingEchoValue(): Uint8Array | undefined {
    return this.pendingEcho;
  }

  /** Marks the replay window as lost (e.g. state could not be restored), so Echo recovery starts. */
  loseReplayState(): void {
    if (this.random === undefined) {
      throw new OscoreError('invalid-context', 'Echo recovery needs a random source (ContextParams.random)');
    }
    this.replayLost = true;
    this.pendingEcho = undefined;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Derives a security context (RFC 8613 §3.2): Sender Key, Recipient Key and Common IV with HKDF
 * (salt = Master Salt, IKM = Master Secret, info per §3.2.1). Throws `OscoreError('invalid-context')` for
 * invalid parameters (§3.3: IDs at most nonce length − 6 bytes, Sender ID ≠ Recipient ID).
 */
export function deriveContext(params: ContextParams): SecurityContext {
  if (params === null || typeof params !== 'object')
    throw new OscoreError('invalid-context', 'no parameters');
  const secret = bytesOf('masterSecret', params.masterSecret, false)!;
  const salt = bytesOf('masterSalt', params.masterSalt, true) ?? new Uint8Array(0);
  const idContext = bytesOf('idContext', params.idContext, true);
  const senderId = bytesOf('senderId', params.senderId, false)!;
  const recipientId = bytesOf('recipientId', params.recipientId, false)!;
  if (secret.length === 0) throw new OscoreError('invalid-context', 'empty Master Secret');
  const algorithm = resolveAlgorithm(params.algorithm);
  const kdf = params.kdf ?? 'HKDF-SHA-256';
  if (kdf !== 'HKDF-SHA-256') throw new OscoreError('invalid-context', `unsupported KDF ${String(kdf)}`);
  const crypto = params.crypto;
  if (crypto === undefined || typeof crypto.aeadKey !== 'function') {
    throw new OscoreError('invalid-context', 'no crypto provider');
  }
  if (!crypto.supportsAead(algorithm)) {
    throw new OscoreError('invalid-context', `crypto provider does not support ${algorithm.name}`);
  }
  const maxId = maxIdLength(algorithm);
  if (senderId.length > maxId || recipientId.length > maxId) {
    throw new OscoreError('invalid-context', `${algorithm.name} allows IDs of at most ${maxId} bytes (§3.3)`);
  }
  if (equal(senderId, recipientId)) {
    throw new OscoreError('invalid-context', 'Sender ID and Recipient ID must differ (§3.3)');
  }
  const window = params.replayWindow ?? DEFAULT_REPLAY_WINDOW;
  if (!(Number.isInteger(window) && window >= 1 && window <= MAX_REPLAY_WINDOW)) {
    throw new OscoreError(
      'invalid-context',
      `replay window ${window} is not an integer 1-${MAX_REPLAY_WINDOW}`,
    );
  }
  const block = params.sequenceBlock ?? DEFAULT_SEQUENCE_BLOCK;
  if (!(Number.isInteger(block) && block >= 1 && block <= 2 ** 32)) {
    throw new OscoreError('invalid-context', `sequence block ${block} is not a positive integer`);
  }
  const initial = params.initialSequenceNumber ?? 0;
  if (!(Number.isSafeInteger(initial) && initial >= 0)) {
    throw new OscoreError('invalid-context', `initial sequence number ${initial} is invalid`);
  }
  if (params.replayState === 'lost' && params.random === undefined) {
    throw new OscoreError('invalid-context', "replayState 'lost' needs a random source for Echo values");
  }
  const hash: HkdfHash = 'SHA-256';
  const prk = crypto.hkdfExtract(hash, salt, secret);
  const senderKey = crypto.hkdfExpand(
    hash,
    prk,
    hkdfInfo(senderId, idContext, algorithm.id, 'Key', algorithm.keyLength),
    algorithm.keyLength,
  );
  const recipientKey = crypto.hkdfExpand(
    hash,
    prk,
    hkdfInfo(recipientId, idContext, algorithm.id, 'Key', algorithm.keyLength),
    algorithm.keyLength,
  );
  const commonIv = crypto.hkdfExpand(
    hash,
    prk,
    hkdfInfo(new Uint8Array(0), idContext, algorithm.id, 'IV', algorithm.nonceLength),
    algorithm.nonceLength,
  );
  return new SecurityContext({ ...params, idContext }, algorithm, { senderKey, recipientKey, commonIv });
}
