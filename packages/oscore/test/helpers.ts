import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromHex } from '@thimble/coap-core';
import { type ContextParams, deriveContext, type SecurityContext } from '../src/index.js';
import { nodeCrypto } from '../src/node.js';

/** Loads a JSON file from the repository's test-vectors/ folder. */
export function loadVectors<T>(relativePath: string): T {
  const url = new URL(`../../../test-vectors/${relativePath}`, import.meta.url);
  return JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as T;
}

export interface KeyVector {
  source: string;
  masterSecret: string;
  masterSalt: string | null;
  idContext: string | null;
  senderId: string;
  recipientId: string;
  infoSenderKey: string;
  infoRecipientKey: string;
  infoCommonIv: string;
  senderKey: string;
  recipientKey: string;
  commonIv: string;
  senderNonce: string;
  recipientNonce: string;
}

export interface MessageVector {
  source: string;
  kind: 'request' | 'response';
  context: number;
  peerContext: number;
  request?: number;
  newPartialIv?: boolean;
  senderSequenceNumber: number;
  unprotected: string;
  partialIv: string | null;
  nonce: string;
  aadArray: string;
  aad: string;
  plaintext: string;
  oscoreOption: string;
  ciphertext: string;
  protected: string;
}

export const keyVectors = loadVectors<{ vectors: KeyVector[] }>('oscore/key-derivation.json').vectors;
export const messageVectors = loadVectors<{ vectors: MessageVector[] }>('oscore/messages.json').vectors;

export function paramsOf(v: KeyVector, extra?: Partial<ContextParams>): ContextParams {
  return {
    masterSecret: fromHex(v.masterSecret),
    masterSalt: v.masterSalt === null ? undefined : fromHex(v.masterSalt),
    idContext: v.idContext === null ? undefined : fromHex(v.idContext),
    senderId: fromHex(v.senderId),
    recipientId: fromHex(v.recipientId),
    crypto: nodeCrypto,
    ...extra,
  };
}

export function contextOf(index: number, extra?: Partial<ContextParams>): SecurityContext {
  return deriveContext(paramsOf(keyVectors[index]!, extra));
}

/** The RFC 8613 C.1 client / server pair (sender IDs '' and 01). */
export function c1Pair(extra?: Partial<ContextParams>): { client: SecurityContext; server: SecurityContext } {
  return { client: contextOf(0, extra), server: contextOf(1, extra) };
}

/** A deterministic random source (xorshift32) for tests. */
export function seededRandom(seed: number): (length: number) => Uint8Array {
  let s = seed >>> 0 || 1;
  return (length: number) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
}
