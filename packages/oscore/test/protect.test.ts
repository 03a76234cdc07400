import {
  type CoapMessageInit,
  Code,
  decodeMessage,
  encodeMessage,
  MessageType,
  OptionNumber,
  toHex,
  utf8Decode,
} from '@thimble/coap-core';
import { reasonOf } from '@thimble/test-support';
import { describe, expect, it } from 'vitest';
import {
  buildAad,
  contextLookup,
  decodeOscoreOption,
  decodePlaintext as decodePlaintextOf,
  deriveContext,
  encodePlaintext,
  MAX_SEQUENCE_NUMBER,
  OscoreError,
  oscoreErrorResponse,
  protectRequest,
  protectResponse,
  unprotectRequest,
  unprotectResponse,
} from '../src/index.js';
import { nodeCrypto } from '../src/node.js';
import { c1Pair, contextOf } from './helpers.js';

const token = Uint8Array.of(1, 2, 3, 4);

function get(options: CoapMessageInit['options'], payload?: Uint8Array): CoapMessageInit {
  return { type: MessageType.CON, code: Code.GET, messageId: 0x1234, token, options, payload };
}

/** Encodes and decodes, like the wire would. */
function travel(m: CoapMessageInit) {
  return decodeMessage(encodeMessage(m).slice());
}

function numbers(m: CoapMessageInit): number[] {
  return (m.options ?? []).map((o) => o.number).sort((a, b) => a - b);
}

describe('protectRequest / unprotectRequest (RFC 8613 §8.1, §8.2)', () => {
  it('§4.2: outer code POST, payload is ciphertext, Class E options are hidden', () => {
    const { client, server } = c1Pair();
    const { message } = protectRequest(
      client,
      get([
        { number: OptionNumber.UriPath, value: 'secret' },
        { number: OptionNumber.ContentFormat, value: 60 },
        { number: OptionNumber.ETag, value: Uint8Array.of(9) },
      ]),
    );
    expect(message.code).toBe(Code.POST);
    expect(numbers(message)).toEqual([OptionNumber.OSCORE]);
    expect(utf8Decode(encodeMessage(message))).not.toContain('secret');
    const { request } = unprotectRequest(contextLookup([server]), travel(message));
    expect(request.code).toBe(Code.GET);
    expect(request.messageId).toBe(0x1234);
    expect(toHex(request.token!)).toBe('01020304');
    expect(numbers(request)).toEqual([OptionNumber.ETag, OptionNumber.UriPath, OptionNumber.ContentFormat]);
  });

  it('§4.1.3.2: Uri-Host and Uri-Port are Outer by default, Inner when protectUriHost is set', () => {
    const { client, server } = c1Pair();
    const req = get([
      { number: OptionNumber.UriHost, value: 'example.com' },
      { number: OptionNumber.UriPort, value: 5700 },
      { number: OptionNumber.UriPath, value: 'a' },
    ]);
    const a = protectRequest(client, req).message;
    expect(numbers(a)).toEqual([OptionNumber.UriHost, OptionNumber.UriPort, OptionNumber.OSCORE]);
    const ra = unprotectRequest(contextLookup([server]), travel(a)).request;
    expect(toHex(encodeMessage(ra))).toBe(toHex(encodeMessage(req)));
    const b = protectRequest(client, req, { protectUriHost: true }).message;
    expect(numbers(b)).toEqual([OptionNumber.OSCORE]);
    // An Outer Uri-Host added by a proxy does not override the protected one
    const tampered = {
      ...b,
      options: [...(b.options ?? []), { number: OptionNumber.UriHost, value: 'evil' }],
    };
    const rb = unprotectRequest(contextLookup([server]), travel(tampered)).request;
    const hosts = (rb.options ?? []).filter((o) => o.number === OptionNumber.UriHost);
    expect(hosts.length).toBe(1);
    expect(utf8Decode(hosts[0]!.value as Uint8Array)).toBe('example.com');
  });

  it('§4.1.3.3: Proxy-Uri is split into Outer "coap://host" and Inner Uri-Path / Uri-Query, and recomposed', () => {
    const { client, server } = c1Pair();
    const req = get([{ number: OptionNumber.ProxyUri, value: 'coap://example.com/resource?q=1' }]);
    const { message } = protectRequest(client, req);
    const outerProxy = (message.options ?? []).find((o) => o.number === OptionNumber.ProxyUri);
    expect(outerProxy?.value).toBe('coap://example.com');
    expect(utf8Decode(encodeMessage(message))).not.toContain('resource');
    const { request } = unprotectRequest(contextLookup([server]), travel(message));
    expect(numbers(request)).toEqual([OptionNumber.ProxyUri]);
    expect(request.options![0]!.value).toBe('coap://example.com/resource?q=1');
  });

  it('§4.1.3.5: Observe is Inner and Outer with the same value, and the outer code is FETCH', () => {
    const { client, server } = c1Pair();
    const { message, binding } = protectRequest(client, get([{ number: OptionNumber.Observe, value: 0 }]));
    expect(message.code).toBe(Code.FETCH);
    expect(numbers(message)).toEqual([OptionNumber.Observe, OptionNumber.OSCORE]);
    expect(binding.observe).toBe(true);
    const r = unprotectRequest(contextLookup([server]), travel(message));
    expect(r.binding.observe).toBe(true);
    expect(numbers(r.request)).toEqual([OptionNumber.Observe]);
  });

  it('§4.1.3.4, §4.1.3.1, §4.1.3.6: Block, Size, Max-Age, No-Response and Echo are Inner; outerOptions adds Outer ones', () => {
    const { client, server } = c1Pair();
    const req = get([
      { number: OptionNumber.Block2, value: 0x16 },
      { number: OptionNumber.Size2, value: 0 },
      { number: OptionNumber.NoResponse, value: 26 },
      { number: OptionNumber.Echo, value: Uint8Array.of(1, 2, 3) },
      { number: 65000, value: 'unknown options are class E' },
    ]);
    const { message } = protectRequest(client, req, {
      outerOptions: [{ number: OptionNumber.Block1, value: 0x0e }],
    });
    expect(numbers(message)).toEqual([OptionNumber.OSCORE, OptionNumber.Block1]);
    const { request } = unprotectRequest(contextLookup([server]), travel(message));
    // the Outer Block1 belongs to the hop-by-hop transfer and is discarded (§8.2 step 1)
    expect(toHex(encodeMessage(request))).toBe(toHex(encodeMessage(req)));
    expect(
      reasonOf(() =>
        protectRequest(client, req, { outerOptions: [{ number: OptionNumber.UriPath, value: 'x' }] }),
      ),
    ).toBe('invalid-message');
  });

  it('§4.1.3.7: a message that already has an OSCORE option is not protected again', () => {
    const { client } = c1Pair();
    expect(
      reasonOf(() =>
        protectRequest(client, get([{ number: OptionNumber.OSCORE, value: new Uint8Array(0) }])),
      ),
    ).toBe('invalid-message');
    expect(reasonOf(() => protectRequest(client, { ...get([]), code: Code.Content }))).toBe(
      'invalid-message',
    );
  });

  it('§6.1: with an ID Context the kid context is sent; the lookup gets it', () => {
    const client = contextOf(4);
    const server = contextOf(5);
    const { message } = protectRequest(client, get([]));
    const opt = decodeOscoreOption(travel(message).getOption(OptionNumber.OSCORE)!);
    expect(toHex(opt.kidContext!)).toBe('37cbf3210017a2d3');
    let seen: string | undefined;
    unprotectRequest((kid, kidContext) => {
      seen = toHex(kidContext!);
      return contextLookup([server])(kid, kidContext);
    }, travel(message));
    expect(seen).toBe('37cbf3210017a2d3');
    // a server context with another ID Context is not found
    const other = deriveContext({ ...paramsLike(), idContext: Uint8Array.of(1) });
    expect(reasonOf(() => unprotectRequest(contextLookup([other]), travel(message)))).toBe(
      'context-not-found',
    );
  });

  it('§8.2: typed errors for unknown kid, missing option, replay and tampering', () => {
    const { client, server } = c1Pair();
    const { message } = protectRequest(client, get([]));
    expect(reasonOf(() => unprotectRequest(() => undefined, travel(message)))).toBe('context-not-found');
    expect(reasonOf(() => unprotectRequest(contextLookup([server]), travel(get([]))))).toBe('not-protected');
    unprotectRequest(contextLookup([server]), travel(message));
    expect(reasonOf(() => unprotectRequest(contextLookup([server]), travel(message)))).toBe('replay');
    const next = protectRequest(client, get([])).message;
    const payload = next.payload!.slice();
    payload[0]! ^= 1;
    expect(reasonOf(() => unprotectRequest(contextLookup([server]), travel({ ...next, payload })))).toBe(
      'decryption-failed',
    );
    // the failed attempt did not consume the Partial IV: the genuine message still verifies
    expect(unprotectRequest(contextLookup([server]), travel(next)).sequenceNumber).toBe(1);
    // a request without Partial IV or without kid cannot be a request (§6.1)
    const noPiv = { ...next, options: [{ number: OptionNumber.OSCORE, value: Uint8Array.of(0x08) }] };
    expect(reasonOf(() => unprotectRequest(contextLookup([server]), travel(noPiv)))).toBe('bad-option');
    const noKid = { ...next, options: [{ number: OptionNumber.OSCORE, value: Uint8Array.of(0x01, 0x05) }] };
    expect(reasonOf(() => unprotectRequest(contextLookup([server]), travel(noKid)))).toBe('bad-option');
    const twice = {
      ...next,
      options: [...(next.options ?? []), { number: OptionNumber.OSCORE, value: Uint8Array.of(0x01, 0x05) }],
    };
    expect(reasonOf(() => unprotectRequest(contextLookup([server]), travel(twice)))).toBe('bad-option');
  });

  it('§7.2.1: the sender sequence number never passes 2^40 − 1', () => {
    const client = contextOf(0, { initialSequenceNumber: MAX_SEQUENCE_NUMBER - 1 });
    const server = contextOf(1);
    const a = protectRequest(client, get([])).message;
    const b = protectRequest(client, get([])).message;
    expect(client.exhausted).toBe(true);
    expect(reasonOf(() => protectRequest(client, get([])))).toBe('sequence-exhausted');
    expect(reasonOf(() => protectRequest(client, get([])))).toBe('sequence-exhausted');
    expect(toHex(decodeOscoreOption(travel(b).getOption(9)!).partialIv!)).toBe('ffffffffff');
    expect(unprotectRequest(contextLookup([server]), travel(a)).sequenceNumber).toBe(MAX_SEQUENCE_NUMBER - 1);
    expect(unprotectRequest(contextLookup([server]), travel(b)).sequenceNumber).toBe(MAX_SEQUENCE_NUMBER);
  });
});

function paramsLike() {
  return {
    masterSecret: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
    senderId: Uint8Array.of(1),
    recipientId: new Uint8Array(0),
    crypto: nodeCrypto,
  };
}

describe('protectResponse / unprotectResponse (RFC 8613 §8.3, §8.4)', () => {
  function exchange(options: CoapMessageInit['options'] = []) {
    const { client, server } = c1Pair();
    const sent = protectRequest(client, get(options));
    const received = unprotectRequest(contextLookup([server]), travel(sent.message));
    return { client, server, clientBinding: sent.binding, serverBinding: received.binding };
  }

  function content(payload: string, options: CoapMessageInit['options'] = []): CoapMessageInit {
    return {
      type: MessageType.ACK,
      code: Code.Content,
      messageId: 0x1234,
      token,
      options,
      payload: new TextEncoder().encode(payload),
    };
  }

  it('§4.2: outer code 2.04, the request nonce is reused once (empty OSCORE option)', () => {
    const { client, server, clientBinding, serverBinding } = exchange();
    const outer = protectResponse(server, serverBinding, content('hi'));
    expect(outer.code).toBe(Code.Changed);
    expect(toHex(travel(outer).getOption(9)!)).toBe('');
    expect(server.senderSequenceNumber).toBe(0);
    const r = unprotectResponse(client, clientBinding, travel(outer));
    expect(r.code).toBe(Code.Content);
    expect(utf8Decode(r.payload!)).toBe('hi');
    // a second response to the same request takes a fresh Partial IV: the request nonce is never reused
    const second = protectResponse(server, serverBinding, content('again'));
    expect(toHex(travel(second).getOption(9)!)).toBe('0100');
    // and the client accepts a single response only (§7.4)
    expect(reasonOf(() => unprotectResponse(client, clientBinding, travel(second)))).toBe('replay');
    expect(reasonOf(() => unprotectResponse(client, clientBinding, travel(outer)))).toBe('replay');
  });

  it('§8.4: a tampered or misbound response fails to decrypt', () => {
    const { client, server, serverBinding } = exchange();
    const outer = protectResponse(server, serverBinding, content('hi'));
    // bound to another request: the AAD (request_piv) and nonce differ
    const other = protectRequest(client, get([])).binding;
    expect(reasonOf(() => unprotectResponse(client, other, travel(outer)))).toBe('decryption-failed');
  });

  it('§4.1.3.5.2, §7.4.1: notifications carry a Partial IV, Inner Observe is empty, order is by Partial IV', () => {
    const { client, server, clientBinding, serverBinding } = exchange([
      { number: OptionNumber.Observe, value: 0 },
    ]);
    const n1 = protectResponse(
      server,
      serverBinding,
      content('1', [{ number: OptionNumber.Observe, value: 7 }]),
    );
    const n2 = protectResponse(
      server,
      serverBinding,
      content('2', [{ number: OptionNumber.Observe, value: 8 }]),
    );
    expect(n1.code).toBe(Code.Content);
    expect(numbers(n1)).toEqual([OptionNumber.Observe, OptionNumber.OSCORE]);
    expect(toHex(travel(n1).getOption(9)!)).toBe('0100');
    expect(toHex(travel(n2).getOption(9)!)).toBe('0101');
    // n2 arrives first; n1 is then older than the Notification Number and is rejected
    const r2 = unprotectResponse(client, clientBinding, travel(n2));
    expect(utf8Decode(r2.payload!)).toBe('2');
    expect(r2.options!.find((o) => o.number === OptionNumber.Observe)!.value).toBe(1);
    expect(clientBinding.notificationNumber).toBe(1);
    expect(reasonOf(() => unprotectResponse(client, clientBinding, travel(n1)))).toBe('replay');
    expect(reasonOf(() => unprotectResponse(client, clientBinding, travel(n2)))).toBe('replay');
    // the Outer Observe is not protected and is ignored
    const n3 = protectResponse(
      server,
      serverBinding,
      content('3', [{ number: OptionNumber.Observe, value: 9 }]),
    );
    const forged = { ...n3, options: [{ number: OptionNumber.Observe, value: 999 }, n3.options![1]!] };
    const r3 = unprotectResponse(client, clientBinding, travel(forged));
    expect(r3.options!.find((o) => o.number === OptionNumber.Observe)!.value).toBe(2);
    // the final response of the observation (no Observe) must be newer too, and is accepted once
    const end = protectResponse(server, serverBinding, content('end'));
    expect(unprotectResponse(client, clientBinding, travel(end)).code).toBe(Code.Content);
  });

  it('§8.4.2: an Inner Observe in a response to a non-Observe request is rejected', () => {
    const { client, server, clientBinding, serverBinding } = exchange();
    const outer = protectResponse(
      server,
      serverBinding,
      content('x', [{ number: OptionNumber.Observe, value: 1 }]),
    );
    expect(reasonOf(() => unprotectResponse(client, clientBinding, travel(outer)))).toBe(
      'malformed-plaintext',
    );
  });

  it('Max-Age and Location-Path are Inner; outer Max-Age 0 can be added and is discarded by the client', () => {
    const { client, server, clientBinding, serverBinding } = exchange();
    const res = content('x', [
      { number: OptionNumber.LocationPath, value: 'new' },
      { number: OptionNumber.MaxAge, value: 30 },
    ]);
    const outer = protectResponse(server, serverBinding, res, {
      outerOptions: [{ number: OptionNumber.MaxAge, value: 0 }],
    });
    expect(numbers(outer)).toEqual([OptionNumber.OSCORE, OptionNumber.MaxAge]);
    const r = unprotectResponse(client, clientBinding, travel(outer));
    expect(toHex(encodeMessage(r))).toBe(toHex(encodeMessage(res)));
  });
});

describe('oscoreErrorResponse (RFC 8613 §8.2)', () => {
  const request = decodeMessage(encodeMessage(get([])));
  it.each([
    ['bad-option', Code.BadOption, 'Failed to decode COSE'],
    ['context-not-found', Code.Unauthorized, 'Security context not found'],
    ['decryption-failed', Code.BadRequest, 'Decryption failed'],
    ['replay', Code.Unauthorized, 'Replay detected'],
    ['not-protected', Code.Unauthorized, 'OSCORE required'],
    ['sequence-exhausted', Code.ServiceUnavailable, 'Security context exhausted'],
  ] as const)('%s → unprotected %s with diagnostic "%s" and Outer Max-Age 0', (reason, code, text) => {
    const r = oscoreErrorResponse(new OscoreError(reason), request);
    expect(r.code).toBe(code);
    expect(r.type).toBe(MessageType.ACK);
    expect(r.messageId).toBe(0x1234);
    expect(toHex(r.token!)).toBe('01020304');
    expect(utf8Decode(r.payload!)).toBe(text);
    expect(r.options).toEqual([{ number: OptionNumber.MaxAge, value: 0 }]);
    expect(numbers(r)).not.toContain(OptionNumber.OSCORE);
  });

  it('answers a NON request with NON', () => {
    const non = decodeMessage(encodeMessage({ ...get([]), type: MessageType.NON }));
    expect(oscoreErrorResponse(new OscoreError('replay'), non).type).toBe(MessageType.NON);
  });
});

describe('edge cases', () => {
  it('large payloads round-trip up to the AES-CCM-16 limit of 2^16 − 1 bytes, beyond it a typed error', () => {
    const { client, server } = c1Pair();
    for (const size of [3000, 65000]) {
      const payload = new Uint8Array(size).map((_, i) => i * 7);
      const req: CoapMessageInit = { type: MessageType.CON, code: Code.PUT, messageId: 1, payload };
      const { message } = protectRequest(client, req);
      const { request } = unprotectRequest(contextLookup([server]), travel(message));
      expect(toHex(request.payload!)).toBe(toHex(payload));
    }
    const tooBig: CoapMessageInit = { type: 0, code: Code.PUT, messageId: 1, payload: new Uint8Array(70000) };
    const before = client.senderSequenceNumber;
    expect(reasonOf(() => protectRequest(client, tooBig))).toBe('invalid-message');
    expect(client.senderSequenceNumber).toBe(before); // nothing consumed
  });

  it('§4.1.3.7: a decrypted plaintext with a nested OSCORE option is malformed', () => {
    expect(reasonOf(() => decodePlaintextOf(Uint8Array.of(0x01, 0x90)))).toBe('malformed-plaintext');
    expect(reasonOf(() => decodePlaintextOf(Uint8Array.of(0x01, 0xff)))).toBe('malformed-plaintext');
    expect(reasonOf(() => decodePlaintextOf(new Uint8Array(0)))).toBe('malformed-plaintext');
    expect(decodePlaintextOf(Uint8Array.of(0x45, 0xff, 0x41)).payload).toEqual(Uint8Array.of(0x41));
  });

  it('includeKidContext: false leaves the kid context out (§6.1)', () => {
    const client = contextOf(4);
    const { message } = protectRequest(client, get([]), { includeKidContext: false });
    expect(decodeOscoreOption(travel(message).getOption(9)!).kidContext).toBeUndefined();
    const server = contextOf(5);
    expect(unprotectRequest(contextLookup([server]), travel(message)).request.code).toBe(Code.GET);
  });
});

describe('first notification without Partial IV (RFC 8613 §4.1.3.5.2, §8.4.2)', () => {
  it('is accepted once (request nonce), later ones need a Partial IV', () => {
    const { client, server } = c1Pair();
    const sent = protectRequest(client, get([{ number: OptionNumber.Observe, value: 0 }]));
    const got = unprotectRequest(contextLookup([server]), travel(sent.message));
    // A peer that omits the Partial IV in its first notification: Inner Observe empty, request nonce.
    const plaintext = encodePlaintext(
      Code.Content,
      [{ number: OptionNumber.Observe, value: 0 }],
      Uint8Array.of(1),
    );
    const ciphertext = server.senderAead.encrypt(
      got.binding.nonce,
      buildAad(server.aadAlgorithm, got.binding.kid, got.binding.partialIv),
      plaintext,
    );
    const first: CoapMessageInit = {
      type: MessageType.ACK,
      code: Code.Content,
      messageId: 0x1234,
      token,
      options: [
        { number: OptionNumber.Observe, value: 5 },
        { number: OptionNumber.OSCORE, value: new Uint8Array(0) },
      ],
      payload: ciphertext,
    };
    const r = unprotectResponse(client, sent.binding, travel(first));
    expect(r.options!.find((o) => o.number === OptionNumber.Observe)!.value).toBe(0);
    expect(sent.binding.notificationNumber).toBeUndefined();
    expect(reasonOf(() => unprotectResponse(client, sent.binding, travel(first)))).toBe('replay');
    got.binding.responded = true; // the server's later notifications carry Partial IVs
    const next = protectResponse(server, got.binding, {
      type: MessageType.NON,
      code: Code.Content,
      messageId: 2,
      token,
      options: [{ number: OptionNumber.Observe, value: 6 }],
      payload: Uint8Array.of(2),
    });
    expect(unprotectResponse(client, sent.binding, travel(next)).payload).toEqual(Uint8Array.of(2));
    expect(sent.binding.notificationNumber).toBe(0);
  });
});
