/**
 * Fuzzing the server-side unprotect path (RFC 8613 §8.2): mutated protected requests go through
 * decodeMessage → unprotectRequest → oscoreErrorResponse → encodeMessage. The only acceptable outcomes are
 * a codec error (CoapDecodeError: the message layer answers with RST or drops), a verified request, or an
 * OscoreError whose §8.2 answer encodes. Anything else is a bug. Seeded and deterministic.
 */
import {
  CoapDecodeError,
  type CoapMessageInit,
  Code,
  decodeMessage,
  encodeMessage,
  fromHex,
  MessageType,
  OptionNumber,
} from '@thimble/coap-core';
import {
  contextLookup,
  OscoreError,
  type OscoreErrorReason,
  oscoreErrorResponse,
  protectRequest,
  protectResponse,
  type RequestBinding,
  type SecurityContext,
  unprotectRequest,
  unprotectResponse,
} from '../src/index.js';
import { contextOf, messageVectors, seededRandom } from './helpers.js';

export interface FuzzStats {
  iterations: number;
  decodeErrors: number;
  accepted: number;
  reasons: Partial<Record<OscoreErrorReason, number>>;
}

/** A small, fast PRNG (xorshift32) so runs are reproducible from the seed. */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return { next, below: (n: number) => next() % n };
}

function corpus(): Uint8Array[] {
  const out = messageVectors.filter((v) => v.kind === 'request').map((v) => fromHex(v.protected));
  const client = contextOf(0);
  const withIdContext = contextOf(4);
  const requests: CoapMessageInit[] = [
    { type: MessageType.CON, code: Code.GET, messageId: 1, token: Uint8Array.of(1) },
    {
      type: MessageType.CON,
      code: Code.PUT,
      messageId: 2,
      token: Uint8Array.of(1, 2, 3),
      options: [
        { number: OptionNumber.UriHost, value: 'example.com' },
        { number: OptionNumber.Observe, value: 0 },
        { number: OptionNumber.UriPath, value: 'sensors' },
        { number: OptionNumber.ContentFormat, value: 60 },
        { number: OptionNumber.Block1, value: 0x1e },
      ],
      payload: new Uint8Array(64).map((_, i) => i),
    },
    {
      type: MessageType.NON,
      code: Code.POST,
      messageId: 3,
      options: [{ number: OptionNumber.ProxyUri, value: 'coap://example.org:5700/a/b?x=1' }],
      payload: Uint8Array.of(0xff, 0x00),
    },
  ];
  for (const r of requests) {
    out.push(encodeMessage(protectRequest(client, r).message).slice());
    out.push(encodeMessage(protectRequest(withIdContext, r).message).slice());
  }
  return out;
}

function mutate(
  seedMessage: Uint8Array,
  rand: ReturnType<typeof prng>,
  corpusList: Uint8Array[],
): Uint8Array {
  let b = seedMessage.slice();
  const rounds = 1 + rand.below(3);
  for (let r = 0; r < rounds; r++) {
    switch (rand.below(9)) {
      case 0: // flip one bit
      case 1: {
        if (b.length > 0) b[rand.below(b.length)]! ^= 1 << rand.below(8);
        break;
      }
      case 2: // set a random byte to a random or interesting value
        if (b.length > 0)
          b[rand.below(b.length)] = [0x00, 0xff, 0x0d, 0x0e, 0x0f, 0x09, 0x19][rand.below(7)]!;
        break;
      case 3: // truncate
        b = b.slice(0, rand.below(b.length + 1));
        break;
      case 4: {
        // append random bytes
        const extra = new Uint8Array(rand.below(16)).map(() => rand.below(256));
        const c = new Uint8Array(b.length + extra.length);
        c.set(b);
        c.set(extra, b.length);
        b = c;
        break;
      }
      case 5: {
        // splice with another corpus message
        const other = corpusList[rand.below(corpusList.length)]!;
        const cut = rand.below(b.length + 1);
        const from = rand.below(other.length + 1);
        const c = new Uint8Array(cut + other.length - from);
        c.set(b.subarray(0, cut));
        c.set(other.subarray(from), cut);
        b = c;
        break;
      }
      case 6: {
        // rewrite the OSCORE option value with random bytes of the same length (framing kept)
        try {
          const m = decodeMessage(b);
          const v = m.getOption(OptionNumber.OSCORE);
          if (v !== undefined) {
            const at = v.byteOffset - b.byteOffset;
            for (let i = 0; i < v.length; i++) b[at + i] = rand.below(256);
          }
        } catch {
          // not decodable: leave as is
        }
        break;
      }
      case 7: // random datagram
        b = new Uint8Array(rand.below(64)).map(() => rand.below(256));
        if (b.length > 0) b[0] = 0x40 | (b[0]! & 0x3f); // mostly version 1
        break;
      default: {
        // swap two bytes
        if (b.length > 1) {
          const i = rand.below(b.length);
          const j = rand.below(b.length);
          const t = b[i]!;
          b[i] = b[j]!;
          b[j] = t;
        }
      }
    }
  }
  return b;
}

/** Runs `iterations` fuzzed messages; throws on the first unexpected exception. */
export function runFuzz(iterations: number, seed: number): FuzzStats {
  const rand = prng(seed);
  const list = corpus();
  const stats: FuzzStats = { iterations, decodeErrors: 0, accepted: 0, reasons: {} };
  let servers: SecurityContext[] = [];
  const reset = () => {
    servers = [contextOf(1), contextOf(3), contextOf(5, { replayState: 'lost', random: seededRandom(seed) })];
  };
  reset();
  let lookup = contextLookup(servers);
  for (let i = 0; i < iterations; i++) {
    if (i % 2000 === 0) {
      // fresh replay windows now and then, so decryption paths stay reachable
      reset();
      lookup = contextLookup(servers);
    }
    const datagram = mutate(list[rand.below(list.length)]!, rand, list);
    let outer: ReturnType<typeof decodeMessage>;
    try {
      outer = decodeMessage(datagram);
    } catch (e) {
      if (e instanceof CoapDecodeError) {
        stats.decodeErrors++;
        continue;
      }
      throw e;
    }
    try {
      unprotectRequest(lookup, outer);
      stats.accepted++;
    } catch (e) {
      if (!(e instanceof OscoreError)) {
        throw new Error(`unexpected ${String(e)} for datagram ${Buffer.from(datagram).toString('hex')}`, {
          cause: e,
        });
      }
      stats.reasons[e.reason] = (stats.reasons[e.reason] ?? 0) + 1;
      // the §8.2 answer must always be a sendable message
      encodeMessage(oscoreErrorResponse(e, outer));
    }
  }
  return stats;
}

/**
 * The client side (RFC 8613 §8.4): mutated protected responses (plain and notifications) against the
 * request binding they answer. Only codec errors, verified responses or OscoreErrors are acceptable.
 */
export function runResponseFuzz(iterations: number, seed: number): FuzzStats {
  const rand = prng(seed);
  const stats: FuzzStats = { iterations, decodeErrors: 0, accepted: 0, reasons: {} };
  const client = contextOf(0);
  const server = contextOf(1);
  const lookup = contextLookup([server]);
  let binding: RequestBinding | undefined;
  let responses: Uint8Array[] = [];
  for (let i = 0; i < iterations; i++) {
    if (i % 500 === 0) {
      const observe = rand.below(2) === 0;
      const sent = protectRequest(client, {
        type: MessageType.CON,
        code: Code.GET,
        messageId: i & 0xffff,
        token: Uint8Array.of(1, 2),
        options: observe ? [{ number: OptionNumber.Observe, value: 0 }] : [],
      });
      binding = sent.binding;
      const got = unprotectRequest(lookup, decodeMessage(encodeMessage(sent.message)));
      responses = [0, 1, 2].map((n) =>
        encodeMessage(
          protectResponse(
            server,
            got.binding,
            {
              type: MessageType.ACK,
              code: Code.Content,
              messageId: i & 0xffff,
              token: Uint8Array.of(1, 2),
              options: observe ? [{ number: OptionNumber.Observe, value: n + 2 }] : [],
              payload: new Uint8Array(10 + n),
            },
            { newPartialIv: n > 0 },
          ),
        ).slice(),
      );
    }
    const datagram = mutate(responses[rand.below(responses.length)]!, rand, responses);
    let outer: ReturnType<typeof decodeMessage>;
    try {
      outer = decodeMessage(datagram);
    } catch (e) {
      if (e instanceof CoapDecodeError) {
        stats.decodeErrors++;
        continue;
      }
      throw e;
    }
    try {
      unprotectResponse(client, binding!, outer);
      stats.accepted++;
    } catch (e) {
      if (!(e instanceof OscoreError)) {
        throw new Error(`unexpected ${String(e)} for datagram ${Buffer.from(datagram).toString('hex')}`, {
          cause: e,
        });
      }
      stats.reasons[e.reason] = (stats.reasons[e.reason] ?? 0) + 1;
    }
  }
  return stats;
}
