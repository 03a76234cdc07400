/**
 * OSCORE micro-benchmark (issue 5): a full protected round trip — protectRequest, unprotectRequest,
 * protectResponse, unprotectResponse, including encoding to and decoding from the wire — against the bare
 * AES-128-CCM (8-byte tag, 13-byte nonce) encrypt + decrypt of the same plaintexts with the same AAD
 * using node:crypto directly, in one mitata run. 64-byte payloads both ways. Prints the ratio.
 *
 *   npm run bench:oscore          (from the repository root)
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { do_not_optimize, bench as mbench, run, summary } from 'mitata';
import {
  type CoapMessageInit,
  Code,
  decodeMessage,
  encodeMessage,
  fromHex,
  MessageType,
  OptionNumber,
} from '../packages/coap-core/src/index.js';
import {
  buildAad,
  contextLookup,
  deriveContext,
  encodePlaintext,
  protectRequest,
  protectResponse,
  unprotectRequest,
  unprotectResponse,
} from '../packages/oscore/src/index.js';
import { nodeCrypto } from '../packages/oscore/src/node.js';

const secret = fromHex('0102030405060708090a0b0c0d0e0f10');
const salt = fromHex('9e7ca92223786340');
const client = deriveContext({
  masterSecret: secret,
  masterSalt: salt,
  senderId: new Uint8Array(0),
  recipientId: Uint8Array.of(1),
  crypto: nodeCrypto,
});
const server = deriveContext({
  masterSecret: secret,
  masterSalt: salt,
  senderId: Uint8Array.of(1),
  recipientId: new Uint8Array(0),
  crypto: nodeCrypto,
  replayWindow: 64,
});
const lookup = contextLookup([server]);

const token = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
const payload = new Uint8Array(64).map((_, i) => i);
const request: CoapMessageInit = {
  type: MessageType.CON,
  code: Code.PUT,
  messageId: 0x1234,
  token,
  options: [
    { number: OptionNumber.UriHost, value: 'example.com' },
    { number: OptionNumber.UriPath, value: '3' },
    { number: OptionNumber.UriPath, value: '0' },
    { number: OptionNumber.UriPath, value: '0' },
    { number: OptionNumber.ContentFormat, value: 11542 },
  ],
  payload,
};
const response: CoapMessageInit = {
  type: MessageType.ACK,
  code: Code.Content,
  messageId: 0x1234,
  token,
  options: [{ number: OptionNumber.ContentFormat, value: 11542 }],
  payload,
};

function roundTrip(): CoapMessageInit {
  const sent = protectRequest(client, request);
  const received = unprotectRequest(lookup, decodeMessage(encodeMessage(sent.message)));
  const outer = protectResponse(server, received.binding, response);
  return unprotectResponse(client, sent.binding, decodeMessage(encodeMessage(outer)));
}

// The same bytes for the bare AEAD: the actual plaintexts and AADs of the round trip above.
const key = Buffer.from(client.senderKey);
const responseKey = Buffer.from(server.senderKey);
const nonce = Buffer.from(client.senderNonce(1000));
const requestPlaintext = Buffer.from(
  encodePlaintext(
    request.code,
    request.options!.filter((o) => o.number !== OptionNumber.UriHost),
    payload,
  ),
);
const responsePlaintext = Buffer.from(encodePlaintext(response.code, response.options!, payload));
const aad = Buffer.from(buildAad(client.aadAlgorithm, client.senderId, Uint8Array.of(0x03, 0xe8)));

const keyObject = createSecretKey(key);
const responseKeyObject = createSecretKey(responseKey);

function seal(k: Buffer | KeyObject, plaintext: Buffer): Buffer {
  const c = createCipheriv('aes-128-ccm', k, nonce, { authTagLength: 8 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  return Buffer.concat([body, c.getAuthTag()]);
}

function open(k: Buffer | KeyObject, sealed: Buffer): Buffer {
  const n = sealed.length - 8;
  const d = createDecipheriv('aes-128-ccm', k, nonce, { authTagLength: 8 });
  d.setAuthTag(sealed.subarray(n));
  d.setAAD(aad, { plaintextLength: n });
  const body = d.update(sealed.subarray(0, n));
  d.final();
  return body;
}

function bareAead(): Buffer {
  open(key, seal(key, requestPlaintext));
  return open(responseKey, seal(responseKey, responsePlaintext));
}

/** The same with the keys imported once as KeyObjects (as the node:crypto provider does). */
function bareAeadKeyObject(): Buffer {
  open(keyObject, seal(keyObject, requestPlaintext));
  return open(responseKeyObject, seal(responseKeyObject, responsePlaintext));
}

// Sanity: the round trip returns the response, and the bare paths return the plaintext.
const check = roundTrip();
if (check.code !== Code.Content || check.payload?.length !== 64) throw new Error('round trip broken');
if (!bareAead().equals(responsePlaintext)) throw new Error('bare AEAD broken');
if (!bareAeadKeyObject().equals(responsePlaintext)) throw new Error('bare AEAD broken');

const ROUND_TRIP = 'OSCORE round trip (protect + unprotect request and response, 64-byte payloads)';
const BARE = 'bare AES-128-CCM encrypt + decrypt of the same plaintexts (node:crypto)';
const BARE_KO = 'the same bare AEAD with keys imported once (KeyObject)';
summary(() => {
  mbench(ROUND_TRIP, () => do_not_optimize(roundTrip()));
  mbench(BARE, () => do_not_optimize(bareAead()));
  mbench(BARE_KO, () => do_not_optimize(bareAeadKeyObject()));
});

const result = await run({ format: process.argv.includes('--json') ? 'quiet' : 'mitata' });
const avg = new Map<string, number>();
const p50 = new Map<string, number>();
for (const trial of result.benchmarks) {
  for (const r of trial.runs) {
    if (r.stats) {
      avg.set(r.name, r.stats.avg);
      p50.set(r.name, r.stats.p50);
    }
  }
}
const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;
const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

// A second, tail-robust figure: 7 batches of 20,000 iterations each; every cost (GC included) is in the
// batch mean, and the median batch of each side is compared. Much less sensitive than the mean of single
// samples to other processes on a shared machine.
function batchMean(f: () => unknown, n: number): number {
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t) / n) * 1e6; // ns
}
const batches = new Map<string, number[]>([
  [ROUND_TRIP, []],
  [BARE, []],
  [BARE_KO, []],
]);
for (let r = 0; r < 7; r++) {
  batches.get(ROUND_TRIP)!.push(batchMean(roundTrip, 20_000));
  batches.get(BARE)!.push(batchMean(bareAead, 20_000));
  batches.get(BARE_KO)!.push(batchMean(bareAeadKeyObject, 20_000));
}
const batch = new Map<string, number>();
for (const [name, list] of batches) batch.set(name, list.sort((a, b) => a - b)[3]!);

console.log(
  '\n| operation | mitata avg | mitata p50 | batch mean (median of 7 × 20,000) |\n|---|---|---|---|',
);
for (const name of [ROUND_TRIP, BARE, BARE_KO]) {
  console.log(`| ${name} | ${us(avg.get(name)!)} | ${us(p50.get(name)!)} | ${us(batch.get(name)!)} |`);
}
const o = ROUND_TRIP;
console.log(
  `\nratio OSCORE / bare AEAD (target ≤ 2×): ${x(avg.get(o)!, avg.get(BARE)!)} avg, ${x(p50.get(o)!, p50.get(BARE)!)} p50, ${x(batch.get(o)!, batch.get(BARE)!)} batch`,
);
console.log(
  `ratio OSCORE / bare AEAD with KeyObject: ${x(avg.get(o)!, avg.get(BARE_KO)!)} avg, ${x(p50.get(o)!, p50.get(BARE_KO)!)} p50, ${x(batch.get(o)!, batch.get(BARE_KO)!)} batch`,
);
