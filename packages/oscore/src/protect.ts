/**
 * Message protection (RFC 8613 §5, §8): turning a CoAP request or response into an OSCORE message and
 * back. Functions, not a layer object: the CoAP endpoint calls `protectRequest` before sending,
 * `unprotectRequest` on receipt (server), `protectResponse` for the answer and `unprotectResponse` on the
 * client, keeping the `RequestBinding` with the exchange.
 *
 * Outer messages are returned as `CoapMessageInit` (encode with `encodeMessage`); received messages are
 * read from a decoded `CoapMessage` view.
 */
import {
  type CoapMessage,
  type CoapMessageInit,
  type CoapOption,
  type CoapOptionInit,
  Code,
  formatUri,
  isRequestCode,
  isResponseCode,
  OptionNumber,
  type OptionValue,
  parseUri,
  readUint,
  readUtf8,
  UriError,
  utf8Encode,
} from '@thimble/coap-core';
import { buildAad } from './aad.js';
import { optionClass } from './classes.js';
import { decodePartialIv, encodePartialIv, type RequestBinding, type SecurityContext } from './context.js';
import { OscoreEchoRequiredError } from './echo-error.js';
import { OscoreError } from './errors.js';
import { decodeOscoreOption, encodeOscoreOption } from './option.js';
import { decodePlaintext, encodePlaintext, type Plaintext } from './plaintext.js';

export interface ProtectRequestOptions {
  /**
   * Extra Outer (Class U) options, added to the OSCORE message only: e.g. an Outer Block option of a
   * hop-by-hop block-wise layer (§4.1.3.4.2). They are not protected.
   */
  readonly outerOptions?: readonly CoapOptionInit[];
  /**
   * Send the ID Context as 'kid context' (§5.1, §6.1). Default: when the context has an ID Context.
   */
  readonly includeKidContext?: boolean;
  /**
   * Protect Uri-Host and Uri-Port as Class E (§4.1.3.2: SHOULD in deployments without forward proxies,
   * MUST NOT with them). Default false (Class U).
   */
  readonly protectUriHost?: boolean;
}

export interface ProtectedRequest {
  /** The OSCORE message to send (outer code POST, or FETCH with Observe, §4.2). */
  readonly message: CoapMessageInit;
  /** Keep with the exchange (by token) to verify the response(s) (§8). */
  readonly binding: RequestBinding;
}

export interface ProtectResponseOptions {
  /**
   * Use a fresh Partial IV from the sender sequence number instead of the request's nonce (§8.3 step 3).
   * Forced for notifications (§8.3.1) and for any further response to the same request, so the request
   * nonce is never used twice.
   */
  readonly newPartialIv?: boolean;
  /** Extra Outer (Class U) options, e.g. Outer Max-Age 0 or an Outer Block option (§4.1.3). */
  readonly outerOptions?: readonly CoapOptionInit[];
}

export interface UnprotectedRequest {
  /** The decrypted request: inner code, options and payload; type, message ID and token of the outer. */
  readonly request: CoapMessageInit;
  /** The context that verified it (the authenticated peer). */
  readonly context: SecurityContext;
  /** Keep with the exchange to protect the response(s). */
  readonly binding: RequestBinding;
  /** The request's sender sequence number (its Partial IV). */
  readonly sequenceNumber: number;
}

/** Finds the recipient context for a request's 'kid' and 'kid context' (§8.2 step 2). */
export type ContextLookup = (
  kid: Uint8Array,
  kidContext: Uint8Array | undefined,
) => SecurityContext | undefined;

const EMPTY = new Uint8Array(0);

function optionBytes(value: OptionValue): Uint8Array {
  if (typeof value === 'string') return utf8Encode(value);
  if (typeof value === 'number') {
    let n = 0;
    for (let v = value; v > 0; v = Math.floor(v / 256)) n++;
    const out = new Uint8Array(n);
    let v = value;
    for (let i = n - 1; i >= 0; i--) {
      out[i] = v % 256;
      v = Math.floor(v / 256);
    }
    return out;
  }
  return value;
}

function uintValue(value: OptionValue): number {
  if (typeof value === 'number') return value;
  const bytes = typeof value === 'string' ? utf8Encode(value) : value;
  return readUint(bytes, 0, Math.min(bytes.length, 6));
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * §4.1.3.3: splits a Proxy-Uri into Class E Uri-Path / Uri-Query (pushed to `inner`) and returns the Outer
 * Proxy-Uri composed of scheme, host and port (§6.5 of RFC 7252), e.g. "coap://example.com".
 */
function decomposeProxyUri(value: OptionValue, inner: CoapOptionInit[]): string {
  const bytes = typeof value === 'string' ? undefined : optionBytes(value);
  const text = bytes === undefined ? (value as string) : readUtf8(bytes, 0, bytes.length);
  try {
    const uri = parseUri(text);
    for (const segment of uri.path) inner.push({ number: OptionNumber.UriPath, value: segment });
    for (const argument of uri.query) inner.push({ number: OptionNumber.UriQuery, value: argument });
    const base = formatUri({ scheme: uri.scheme, host: uri.host, port: uri.port });
    return base.endsWith('/') ? base.slice(0, -1) : base;
  } catch (e) {
    if (e instanceof UriError)
      throw new OscoreError('invalid-message', `Proxy-Uri: ${e.message}`, undefined, { cause: e });
    throw e;
  }
}

/** Appends `outerOptions` after checking they can travel Outer. */
function addOuterOptions(outer: CoapOptionInit[], extra: readonly CoapOptionInit[] | undefined): void {
  if (extra === undefined) return;
  for (const option of extra) {
    const cls = optionClass(option.number);
    if (cls === 'OSCORE' || cls === 'E') {
      throw new OscoreError('invalid-message', `option ${option.number} cannot be an Outer option (§4.1)`);
    }
    outer.push(option);
  }
}

/**
 * Protects a request (RFC 8613 §8.1): the code, Class E options and payload are encrypted with the Sender
 * Key under a new Partial IV; Class U options stay Outer; Proxy-Uri is decomposed (§4.1.3.3); Observe is
 * both Inner and Outer and makes the outer code FETCH (§4.1.3.5, §4.2).
 *
 * Throws `OscoreError`: 'invalid-message' (not a request, nested OSCORE, unencodable option),
 * 'sequence-exhausted', 'persistence-failed'.
 */
export function protectRequest(
  ctx: SecurityContext,
  request: CoapMessageInit,
  options?: ProtectRequestOptions,
): ProtectedRequest {
  if (!isRequestCode(request.code)) {
    throw new OscoreError('invalid-message', `code ${request.code} is not a request method`);
  }
  const inner: CoapOptionInit[] = [];
  const outer: CoapOptionInit[] = [];
  const protectUriHost = options?.protectUriHost === true;
  let observe: number | undefined;
  const list = request.options ?? [];
  for (let i = 0; i < list.length; i++) {
    const option = list[i]!;
    const number = option.number;
    switch (optionClass(number)) {
      case 'OSCORE':
        throw new OscoreError('invalid-message', 'the message already has an OSCORE option (§4.1.3.7)');
      case 'U':
        if (number === OptionNumber.ProxyUri) {
          outer.push({ number, value: decomposeProxyUri(option.value, inner) });
        } else if (protectUriHost && (number === OptionNumber.UriHost || number === OptionNumber.UriPort)) {
          inner.push(option);
        } else outer.push(option);
        break;
      case 'EU':
        inner.push(option);
        if (number === OptionNumber.Observe) {
          observe = uintValue(option.value);
          outer.push(option); // §4.1.3.5.1: Outer Observe = Inner Observe
        }
        break;
      default:
        inner.push(option);
    }
  }
  addOuterOptions(outer, options?.outerOptions);

  const plaintext = encodePlaintext(request.code, inner, request.payload, ctx.algorithm.maxPlaintextLength);
  const seq = ctx.takeSequenceNumber();
  const piv = encodePartialIv(seq);
  const nonce = ctx.senderNonce(seq);
  const kid = ctx.senderId;
  const ciphertext = ctx.senderAead.encrypt(nonce, buildAad(ctx.aadAlgorithm, kid, piv), plaintext);
  const includeKidContext = options?.includeKidContext ?? ctx.idContext !== undefined;
  outer.push({
    number: OptionNumber.OSCORE,
    value: encodeOscoreOption({
      partialIv: piv,
      kid,
      kidContext: includeKidContext ? ctx.idContext : undefined,
    }),
  });
  const message: CoapMessageInit = {
    type: request.type,
    code: observe === undefined ? Code.POST : Code.FETCH,
    messageId: request.messageId,
    token: request.token,
    options: outer,
    payload: ciphertext,
  };
  return {
    message,
    binding: {
      kid,
      partialIv: piv,
      nonce,
      observe: observe === 0,
      notificationNumber: undefined,
      responded: false,
    },
  };
}

/** The single OSCORE option value of a received message, or the reason it is unusable (one walk). */
function oscoreOptionOf(outer: CoapMessage): Uint8Array {
  let bytes: Uint8Array | undefined;
  let start = 0;
  let end = 0;
  let count = 0;
  outer.forEachOption((number, b, s, e) => {
    if (number !== OptionNumber.OSCORE) return;
    if (count++ === 0) {
      bytes = b;
      start = s;
      end = e;
    }
  });
  if (bytes === undefined) throw new OscoreError('not-protected');
  if (count > 1) throw new OscoreError('bad-option', 'OSCORE option repeated (RFC 7252 §5.4.5)');
  return bytes.subarray(start, end);
}

function findOption(options: readonly CoapOption[], number: number): CoapOption | undefined {
  for (let i = 0; i < options.length; i++) {
    const o = options[i]!;
    if (o.number === number) return o;
    if (o.number > number) return undefined;
  }
  return undefined;
}

function hasOption(options: readonly CoapOption[], number: number): boolean {
  return findOption(options, number) !== undefined;
}

/**
 * Verifies and decrypts a request (RFC 8613 §8.2). `lookup` maps 'kid' / 'kid context' to a context.
 *
 * Throws `OscoreError`:
 * - 'not-protected' (no OSCORE option), 'bad-option' (→ 4.02), 'context-not-found' (→ 4.01),
 * - 'replay' (→ 4.01), 'decryption-failed' (→ 4.00), 'malformed-plaintext' (→ 4.00),
 * - 'echo-required' when the context lost its replay window (Appendix B.1.2): answer with the protected
 *   4.01 + Echo that `oscoreErrorResponse` builds.
 * Map any of them with `oscoreErrorResponse`.
 */
export function unprotectRequest(lookup: ContextLookup, outer: CoapMessage): UnprotectedRequest {
  const value = oscoreOptionOf(outer);
  const header = decodeOscoreOption(value);
  const piv = header.partialIv;
  const kid = header.kid;
  if (piv === undefined) throw new OscoreError('bad-option', 'request without Partial IV (§6.1)');
  if (kid === undefined) throw new OscoreError('bad-option', "request without 'kid' (§6.1)");
  const ctx = lookup(kid, header.kidContext);
  // The nonce is built from the Recipient ID (§5.2): a context for another ID can never verify.
  if (ctx === undefined || !sameBytes(kid, ctx.recipientId)) throw new OscoreError('context-not-found');
  // The kid context is not part of the AAD (§5.4): insist it names this context's ID Context exactly.
  if (header.kidContext !== undefined && !sameBytes(header.kidContext, ctx.idContext)) {
    throw new OscoreError('context-not-found', 'kid context does not match the ID Context');
  }
  const seq = decodePartialIv(piv);
  const recovering = ctx.awaitingFreshness;
  // §8.2 step 3: check the replay window first (cheap); update it only after verification (step 6).
  if (!recovering && !ctx.replayWindow.isFresh(seq)) throw new OscoreError('replay');
  const nonce = ctx.recipientNonce(seq);
  const plain = ctx.recipientAead.decrypt(nonce, buildAad(ctx.aadAlgorithm, kid, piv), outer.payload);
  if (plain === undefined) throw new OscoreError('decryption-failed');

  let parsed: Plaintext;
  try {
    parsed = decodePlaintext(plain);
    if (!isRequestCode(parsed.code))
      throw new OscoreError('malformed-plaintext', 'inner code is not a method');
  } catch (e) {
    // The message was authentic: remember its Partial IV even though its content is unusable.
    if (!recovering) ctx.replayWindow.accept(seq);
    throw e;
  }
  const observeOption = findOption(parsed.options, OptionNumber.Observe);
  const binding: RequestBinding = {
    kid: ctx.recipientId, // equal to 'kid'; owned by the context, unlike the datagram's bytes
    partialIv: piv.slice(), // a copy: the datagram buffer may be reused by the transport
    nonce,
    observe:
      observeOption !== undefined && readUint(observeOption.value, 0, observeOption.value.length) === 0,
    notificationNumber: undefined,
    responded: false,
  };
  let innerOptions = parsed.options;
  if (recovering) {
    const echo = findOption(innerOptions, OptionNumber.Echo);
    if (!ctx.proveFreshness(seq, echo?.value)) {
      throw new OscoreEchoRequiredError({
        context: ctx,
        binding,
        echo: ctx.pendingEchoValue!,
      });
    }
    // The Echo was consumed by this layer (RFC 9175 §2.4 item 3); the application sees the original request.
    innerOptions = innerOptions.filter((o) => o.number !== OptionNumber.Echo);
  } else {
    ctx.replayWindow.accept(seq);
  }

  const options: CoapOptionInit[] = innerOptions.slice();
  let outerProxyUri: string | undefined;
  outer.forEachOption((number, bytes, start, end) => {
    if (optionClass(number) !== 'U') return; // §8.2 step 1: discard Outer options that may be Class E
    if (number === OptionNumber.ProxyUri) {
      outerProxyUri = readUtf8(bytes, start, end);
      return;
    }
    if (hasOption(innerOptions, number)) return; // an Inner (Class E) Uri-Host / Uri-Port wins, §4.1.3.2
    options.push({ number, value: bytes.subarray(start, end) });
  });
  if (outerProxyUri !== undefined) options.push(...recomposeProxyUri(outerProxyUri, options));
  const request: CoapMessageInit = {
    type: outer.type,
    code: parsed.code,
    messageId: outer.messageId,
    token: outer.token,
    options: outerProxyUri === undefined ? options : options.filter(isNotUriPathOrQuery),
    payload: parsed.payload,
  };
  return { request, context: ctx, binding, sequenceNumber: seq };
}

function isNotUriPathOrQuery(o: CoapOptionInit): boolean {
  return o.number !== OptionNumber.UriPath && o.number !== OptionNumber.UriQuery;
}

/**
 * Inverse of §4.1.3.3 on the receiving side: the Outer Proxy-Uri (scheme, host, port) joined with the
 * decrypted Uri-Path / Uri-Query gives the original Proxy-Uri back. If the Outer value is not a URI it is
 * passed through unchanged.
 */
function recomposeProxyUri(outerValue: string, options: readonly CoapOptionInit[]): CoapOptionInit[] {
  const path: string[] = [];
  const query: string[] = [];
  for (const o of options) {
    const v = o.value;
    const text = typeof v === 'string' ? v : v instanceof Uint8Array ? readUtf8(v, 0, v.length) : String(v);
    if (o.number === OptionNumber.UriPath) path.push(text);
    else if (o.number === OptionNumber.UriQuery) query.push(text);
  }
  try {
    const base = parseUri(outerValue);
    return [
      {
        number: OptionNumber.ProxyUri,
        value: formatUri({ scheme: base.scheme, host: base.host, port: base.port, path, query }),
      },
    ];
  } catch {
    return [{ number: OptionNumber.ProxyUri, value: outerValue }];
  }
}

/**
 * Protects a response (RFC 8613 §8.3) to the request described by `binding`. Without a new Partial IV the
 * request's nonce is reused and the OSCORE option is empty; with one (notifications, §8.3.1, or on
 * request) the server's own sequence number is used and sent. Observe becomes an empty Inner option and an
 * Outer option with the value, with outer code 2.05 (§4.1.3.5.2, §4.2); otherwise the outer code is 2.04.
 *
 * Throws `OscoreError`: 'invalid-message', 'sequence-exhausted', 'persistence-failed'.
 */
export function protectResponse(
  ctx: SecurityContext,
  binding: RequestBinding,
  response: CoapMessageInit,
  options?: ProtectResponseOptions,
): CoapMessageInit {
  if (!isResponseCode(response.code)) {
    throw new OscoreError('invalid-message', `code ${response.code} is not a response code`);
  }
  const inner: CoapOptionInit[] = [];
  const outer: CoapOptionInit[] = [];
  let observe = false;
  const list = response.options ?? [];
  for (let i = 0; i < list.length; i++) {
    const option = list[i]!;
    const number = option.number;
    switch (optionClass(number)) {
      case 'OSCORE':
        throw new OscoreError('invalid-message', 'the message already has an OSCORE option (§4.1.3.7)');
      case 'U':
        outer.push(option);
        break;
      case 'EU':
        if (number === OptionNumber.Observe) {
          observe = true;
          inner.push({ number, value: EMPTY }); // §4.1.3.5.2: the Inner Observe of a notification is empty
          outer.push(option);
        } else inner.push(option);
        break;
      default:
        inner.push(option);
    }
  }
  addOuterOptions(outer, options?.outerOptions);
  const plaintext = encodePlaintext(response.code, inner, response.payload, ctx.algorithm.maxPlaintextLength);
  // Never use the request nonce twice (§5.2 / §7.2.1): any response after the first takes a new Partial IV.
  const fresh = options?.newPartialIv === true || observe || binding.responded;
  let nonce: Uint8Array;
  let optionValue: Uint8Array;
  if (fresh) {
    const seq = ctx.takeSequenceNumber();
    nonce = ctx.senderNonce(seq);
    optionValue = encodeOscoreOption({ partialIv: encodePartialIv(seq) });
  } else {
    nonce = binding.nonce;
    optionValue = EMPTY;
  }
  binding.responded = true;
  const ciphertext = ctx.senderAead.encrypt(
    nonce,
    buildAad(ctx.aadAlgorithm, binding.kid, binding.partialIv),
    plaintext,
  );
  outer.push({ number: OptionNumber.OSCORE, value: optionValue });
  return {
    type: response.type,
    code: observe ? Code.Content : Code.Changed,
    messageId: response.messageId,
    token: response.token,
    options: outer,
    payload: ciphertext,
  };
}

/**
 * Verifies and decrypts a response (RFC 8613 §8.4) to the request described by `binding`, with the
 * context the request was protected with. Notifications (§8.4.2) must carry a Partial IV greater than the
 * binding's Notification Number (§7.4.1), which is then updated; the returned Observe value is the three
 * least significant bytes of the Partial IV (§4.1.3.5.2), the Outer Observe is ignored.
 *
 * Throws `OscoreError`: 'not-protected', 'bad-option', 'decryption-failed', 'malformed-plaintext',
 * 'replay'. The client stops processing the response in every case (§8.4 step 8).
 */
export function unprotectResponse(
  ctx: SecurityContext,
  binding: RequestBinding,
  outer: CoapMessage,
): CoapMessageInit {
  const header = decodeOscoreOption(oscoreOptionOf(outer));
  const piv = header.partialIv;
  let seq: number | undefined;
  let nonce: Uint8Array;
  if (piv === undefined) {
    // Only the first response may reuse the request nonce (§8.3 step 3, §8.4.2).
    if (binding.responded) throw new OscoreError('replay', 'a second response without Partial IV');
    nonce = binding.nonce;
  } else {
    seq = decodePartialIv(piv);
    nonce = ctx.recipientNonce(seq);
  }
  const plain = ctx.recipientAead.decrypt(
    nonce,
    buildAad(ctx.aadAlgorithm, binding.kid, binding.partialIv),
    outer.payload,
  );
  if (plain === undefined) throw new OscoreError('decryption-failed');
  const parsed = decodePlaintext(plain);
  if (!isResponseCode(parsed.code))
    throw new OscoreError('malformed-plaintext', 'inner code is not a response');
  let options: CoapOptionInit[] = parsed.options;
  const observe = findOption(parsed.options, OptionNumber.Observe);
  // §8.4.2 step C: an Inner Observe is only acceptable in answer to a registration
  if (observe !== undefined && !binding.observe) {
    throw new OscoreError('malformed-plaintext', 'Inner Observe in a response to a non-Observe request');
  }
  if (binding.observe && (observe !== undefined || binding.notificationNumber !== undefined)) {
    // A notification, or the final response of an active observation (§8.4.2 step B, §7.4.1)
    if (seq === undefined) {
      if (binding.responded)
        throw new OscoreError('replay', 'notification without Partial IV after the first response');
    } else {
      if (binding.notificationNumber !== undefined && seq <= binding.notificationNumber) {
        throw new OscoreError('replay', 'notification not newer than the Notification Number (§7.4.1)');
      }
      binding.notificationNumber = seq;
    }
    if (observe !== undefined) {
      // §4.1.3.5.2: order by Partial IV; the Observe value given to the application is its 3 low bytes
      const value = seq === undefined ? 0 : seq % 0x1000000;
      options = options.map((o) => (o.number === OptionNumber.Observe ? { number: o.number, value } : o));
    }
  } else if (binding.responded) {
    // §7.4: a request gets a single response, bound to it
    throw new OscoreError('replay', 'a second response to the same request');
  }
  binding.responded = true;
  return {
    type: outer.type,
    code: parsed.code,
    messageId: outer.messageId,
    token: outer.token,
    options,
    payload: parsed.payload,
  };
}

/**
 * A `ContextLookup` over a list of contexts (§8.2 step 2): 'kid' must equal the Recipient ID and, when a
 * 'kid context' is sent, it must equal the context's ID Context.
 */
export function contextLookup(contexts: readonly SecurityContext[]): ContextLookup {
  return (kid, kidContext) => {
    for (const ctx of contexts) {
      if (!sameBytes(ctx.recipientId, kid)) continue;
      if (kidContext !== undefined && !sameBytes(ctx.idContext, kidContext)) continue;
      return ctx;
    }
    return undefined;
  };
}
