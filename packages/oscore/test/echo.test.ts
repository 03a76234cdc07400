import {
  type CoapMessageInit,
  Code,
  decodeMessage,
  encodeMessage,
  MessageType,
  OptionNumber,
  toHex,
} from '@thimble/coap-core';
import { describe, expect, it } from 'vitest';
import {
  contextLookup,
  ECHO_LENGTH,
  OscoreError,
  oscoreErrorResponse,
  protectRequest,
  unprotectRequest,
  unprotectResponse,
} from '../src/index.js';
import { contextOf, seededRandom } from './helpers.js';

const token = Uint8Array.of(7);

function travel(m: CoapMessageInit) {
  return decodeMessage(encodeMessage(m).slice());
}

function get(options: CoapMessageInit['options'] = []): CoapMessageInit {
  return {
    type: MessageType.CON,
    code: Code.GET,
    messageId: 1,
    token,
    options: [{ number: OptionNumber.UriPath, value: 'x' }, ...options],
  };
}

function caught(f: () => unknown): OscoreError {
  try {
    f();
  } catch (e) {
    if (e instanceof OscoreError) return e;
    throw e;
  }
  throw new Error('expected an OscoreError');
}

describe('replay window recovery with Echo (RFC 8613 Appendix B.1.2, RFC 9175 §2.4)', () => {
  it('a server that lost its replay window challenges, then accepts the fresh retry and rejects replays', () => {
    const client = contextOf(0);
    // The request an attacker recorded before the server rebooted:
    const old = protectRequest(client, get()).message;

    const server = contextOf(1, { replayState: 'lost', random: seededRandom(42) });
    expect(server.awaitingFreshness).toBe(true);
    const lookup = contextLookup([server]);

    // 1. The (possibly replayed) request verifies but is not delivered: 'echo-required'.
    const err = caught(() => unprotectRequest(lookup, travel(old)));
    expect(err.reason).toBe('echo-required');
    const echo = err.detail!.echo!;
    expect(echo.length).toBe(ECHO_LENGTH);

    // 2. The challenge is a PROTECTED 4.01 with the server's own Partial IV (never the request nonce).
    const challenge = oscoreErrorResponse(err, travel(old));
    expect(challenge.code).toBe(Code.Changed); // outer code of a protected response
    expect(challenge.type).toBe(MessageType.ACK);
    const opt = travel(challenge).getOption(OptionNumber.OSCORE)!;
    expect(toHex(opt)).toBe('0100'); // Partial IV 0 of the server's sender sequence
    expect(server.senderSequenceNumber).toBe(1);

    // 3. The client can read it: 4.01 with the Echo value.
    // (the client re-derived from the same keys produces the same first request; its binding reads the 4.01)
    const sameClient = contextOf(0);
    const firstSent = protectRequest(sameClient, get());
    expect(toHex(encodeMessage(firstSent.message))).toBe(toHex(encodeMessage(old)));
    const readable = unprotectResponse(sameClient, firstSent.binding, travel(challenge));
    expect(readable.code).toBe(Code.Unauthorized);
    expect(toHex(readable.options!.find((o) => o.number === OptionNumber.Echo)!.value as Uint8Array)).toBe(
      toHex(echo),
    );

    // 4. A retry with a wrong Echo is challenged again with the same pending value (so replayed old
    //    requests cannot keep invalidating it); with the right one it is accepted.
    const wrong = protectRequest(
      sameClient,
      get([{ number: OptionNumber.Echo, value: Uint8Array.of(1, 2) }]),
    );
    const err2 = caught(() => unprotectRequest(lookup, travel(wrong.message)));
    expect(err2.reason).toBe('echo-required');
    const echo2 = err2.detail!.echo!;
    expect(toHex(echo2)).toBe(toHex(echo));
    expect(caught(() => unprotectRequest(lookup, travel(old))).detail!.echo).toEqual(echo);
    const retry = protectRequest(sameClient, get([{ number: OptionNumber.Echo, value: echo2 }]));
    const ok = unprotectRequest(lookup, travel(retry.message));
    expect(ok.sequenceNumber).toBe(2);
    expect(server.awaitingFreshness).toBe(false);
    // the Echo was consumed by the OSCORE layer; the handler sees the original request
    expect((ok.request.options ?? []).map((o) => o.number)).toEqual([OptionNumber.UriPath]);

    // 5. Everything up to the proven Partial IV is now a replay, later numbers are fresh.
    expect(caught(() => unprotectRequest(lookup, travel(old))).reason).toBe('replay');
    expect(caught(() => unprotectRequest(lookup, travel(wrong.message))).reason).toBe('replay');
    expect(caught(() => unprotectRequest(lookup, travel(retry.message))).reason).toBe('replay');
    const later = protectRequest(sameClient, get());
    expect(unprotectRequest(lookup, travel(later.message)).sequenceNumber).toBe(3);
  });

  it('an old Echo value cannot be replayed after recovery, and a forged request never reaches the challenge', () => {
    const client = contextOf(0);
    const server = contextOf(1, { replayState: 'lost', random: seededRandom(7) });
    const lookup = contextLookup([server]);
    const first = protectRequest(client, get()).message;
    const echo = caught(() => unprotectRequest(lookup, travel(first))).detail!.echo!;
    const retry = protectRequest(client, get([{ number: OptionNumber.Echo, value: echo }])).message;
    unprotectRequest(lookup, travel(retry));
    // replaying the retry (same Partial IV) is detected by the window now in place
    expect(caught(() => unprotectRequest(lookup, travel(retry))).reason).toBe('replay');
    // a tampered request is rejected before any Echo logic (no challenge for unauthenticated input)
    server.loseReplayState();
    const forged = protectRequest(client, get()).message;
    const payload = forged.payload!.slice();
    payload[payload.length - 1]! ^= 0x80;
    expect(caught(() => unprotectRequest(lookup, travel({ ...forged, payload }))).reason).toBe(
      'decryption-failed',
    );
  });

  it('if the server cannot protect the challenge (sequence exhausted), it answers an unprotected 5.03', () => {
    const client = contextOf(0);
    const server = contextOf(1, {
      replayState: 'lost',
      random: seededRandom(3),
      initialSequenceNumber: 2 ** 40,
    });
    const req = protectRequest(client, get()).message;
    const err = caught(() => unprotectRequest(contextLookup([server]), travel(req)));
    expect(err.reason).toBe('echo-required');
    const answer = oscoreErrorResponse(err, travel(req));
    expect(answer.code).toBe(Code.ServiceUnavailable);
    expect(travel(answer).getOption(OptionNumber.OSCORE)).toBeUndefined();
  });

  it("replayState 'lost' requires a random source", () => {
    expect(caught(() => contextOf(1, { replayState: 'lost' })).reason).toBe('invalid-context');
  });
});
