/** The cipher suites this package implements, in our order of preference. */

import type { BulkCipher } from './cipher.js';

export type KeyExchange = 'psk' | 'ecdhe-psk' | 'ecdhe-ecdsa';

export interface CipherSuite {
  readonly id: number;
  readonly name: string;
  readonly keyExchange: KeyExchange;
  readonly cipher: BulkCipher;
  /** Key block sizes (RFC 5246 §6.3). */
  readonly macKeyLength: number;
  readonly keyLength: number;
  readonly ivLength: number;
}

const ccm8: BulkCipher = { kind: 'aead', alg: 'aes-128-ccm-8', tagLength: 8 };
const gcm: BulkCipher = { kind: 'aead', alg: 'aes-128-gcm', tagLength: 16 };
const cbc: BulkCipher = { kind: 'cbc' };

function aead(id: number, name: string, keyExchange: KeyExchange, cipher: BulkCipher): CipherSuite {
  return { id, name, keyExchange, cipher, macKeyLength: 0, keyLength: 16, ivLength: 4 };
}

function cbcSuite(id: number, name: string, keyExchange: KeyExchange): CipherSuite {
  return { id, name, keyExchange, cipher: cbc, macKeyLength: 32, keyLength: 16, ivLength: 0 };
}

/** RFC 6655 §3, RFC 7251 §2, RFC 5487 §3.1, RFC 5489 §3.2, RFC 5289 §3.2. */
export const CipherSuites = {
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: aead(0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'ecdhe-ecdsa', ccm8),
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: aead(
    0xc02b,
    'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    'ecdhe-ecdsa',
    gcm,
  ),
  TLS_PSK_WITH_AES_128_CCM_8: aead(0xc0a8, 'TLS_PSK_WITH_AES_128_CCM_8', 'psk', ccm8),
  TLS_PSK_WITH_AES_128_GCM_SHA256: aead(0x00a8, 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'psk', gcm),
  TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256: cbcSuite(
    0xc037,
    'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256',
    'ecdhe-psk',
  ),
  TLS_PSK_WITH_AES_128_CBC_SHA256: cbcSuite(0x00ae, 'TLS_PSK_WITH_AES_128_CBC_SHA256', 'psk'),
} as const;

/**
 * Preference order: the suites CoAP mandates first (RFC 7252 §9.1.3.1 / §9.1.3.2), then AEAD before CBC,
 * forward secrecy (ECDHE_PSK) before plain PSK among the CBC suites.
 */
export const DEFAULT_SUITE_ORDER: readonly CipherSuite[] = [
  CipherSuites.TLS_PSK_WITH_AES_128_CCM_8,
  CipherSuites.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
  CipherSuites.TLS_PSK_WITH_AES_128_GCM_SHA256,
  CipherSuites.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  CipherSuites.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
  CipherSuites.TLS_PSK_WITH_AES_128_CBC_SHA256,
];

export function suiteById(id: number): CipherSuite | undefined {
  return DEFAULT_SUITE_ORDER.find((s) => s.id === id);
}

/** True for suites that authenticate with a pre-shared key. */
export function usesPsk(suite: CipherSuite): boolean {
  return suite.keyExchange !== 'ecdhe-ecdsa';
}
