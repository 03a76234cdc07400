/**
 * Observe, client side (RFC 7641 §3; docs/ARCHITECTURE.md, coap-core): registers an observation, takes its
 * notifications (newest first, reordered ones dropped, §3.4), renews it when Max-Age runs out (§3.3.1),
 * fetches the rest of a large notification (RFC 7959 §3.4) and deregisters on cancel (§3.6).
 */
import type { Prepared, RequestOptions } from '../client/options.js';
import { type ClientRequests, echoChallenge } from '../client/requests.js';
import type { Clock, TimerHandle } from '../clock.js';
import { CoapRequestError } from '../errors.js';
import { decodeBlock } from '../message/block.js';
import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import { CoapResponse } from '../message/response.js';
import type { CoapOptionInit } from '../message/types.js';
import type { MessageLayer, OutgoingMessage } from '../messaging/message-layer.js';
import { type Random, randomInt } from '../random.js';
import { ClientExchange } from '../stack/exchange.js';
import type { StackState } from '../stack/layer.js';
import { type Matcher, tokenKey } from '../stack/matcher.js';
import type { Peer } from '../transport/types.js';
import { Observation } from './observation.js';
import { isFresher } from './sequence.js';

export class ObserveClient {
  constructor(
    private readonly requests: ClientRequests,
    private readonly matcher: Matcher,
    private readonly messaging: MessageLayer,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly state: StackState,
  ) {}

  /**
   * Observes a resource (RFC 7641): resolves once the first response arrived. Notifications come newest
   * first through the async iterator and as `notification` events; reordered ones are dropped (§3.4).
   * The registration is renewed when Max-Age runs out without a notification (§3.3.1). FETCH observes a
   * query in the payload (RFC 8132 §2.4); its cancellation repeats the payload.
   */
  async observe(
    uriOrOptions: string | RequestOptions,
    options: Omit<RequestOptions, 'uri'> = {},
  ): Promise<Observation> {
    const req = typeof uriOrOptions === 'string' ? { ...options, uri: uriOrOptions } : uriOrOptions;
    const p = await this.requests.prepare({ ...req, method: req.method ?? 'GET' });
    const token = this.matcher.newToken();
    const key = tokenKey(token);
    let first: ((r: CoapResponse) => void) | undefined;
    const firstResponse = new Promise<CoapResponse>((resolve) => {
      first = resolve;
    });
    const { observation, onMessage, register } = this.observationOf(p, token, (r) => {
      const f = first;
      first = undefined;
      f?.(r);
    });
    const registration = this.requests.exchange(
      { code: p.code, token, options: register, payload: p.payload },
      p.peer,
      p.confirmable,
      p.timeout,
      p.signal,
      onMessage,
      undefined,
      p.security,
    );
    // The entry stays in `pending`; the exchange promise only settles on failure.
    registration.catch((e: unknown) => observation.fail(e as Error));
    await Promise.race([firstResponse, registration]);
    const entry = this.matcher.get(key);
    if (entry?.timer !== undefined) {
      this.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    return observation;
  }

  /**
   * Takes up an observation this endpoint (or an earlier run of it) registered with `token`, without
   * sending anything: notifications from `peer` with that token are delivered again, e.g. after a server
   * restarted and reloaded its observations from a store (RFC 7641 §3.3.1: the registration is renewed with
   * the same token when Max-Age runs out). `options` are those of the original request (method, path,
   * query, Accept, payload), used for the renewal and the cancellation. Secured observations cannot be
   * resumed (their responses verify against the lost request binding, RFC 8613 §8.4). Aborting `signal`
   * forgets the token without a message (late notifications then get RST).
   */
  resumeObservation(options: Omit<RequestOptions, 'uri'> & { readonly token: Uint8Array }): Observation {
    if (this.state.closed) throw new CoapRequestError('closed', 'endpoint is closed');
    const p = this.requests.prepareFor({ ...options, method: options.method ?? 'GET' }, undefined);
    if (p.security !== undefined)
      throw new CoapRequestError('invalid-request', 'a secured observation cannot be resumed');
    const token = options.token;
    if (token.length < 1 || token.length > 8)
      throw new CoapRequestError('invalid-request', 'a token has 1-8 bytes');
    const key = tokenKey(token);
    if (this.matcher.has(key)) throw new CoapRequestError('invalid-request', 'the token is in use');
    if (this.matcher.size >= this.matcher.maxPending)
      throw new CoapRequestError('queue-full', `more than ${this.matcher.maxPending} requests pending`);
    if (p.signal?.aborted)
      throw new CoapRequestError('aborted', 'request aborted', { cause: p.signal.reason });
    const { observation, onMessage } = this.observationOf(p, token.slice(), undefined);
    const entry = new ClientExchange(
      key,
      p.peer,
      p.confirmable,
      p.timeout,
      () => undefined,
      (e) => observation.fail(e),
      p.signal,
      onMessage,
      undefined,
      undefined,
      this.matcher,
    );
    entry.received = 1;
    this.matcher.adopt(entry);
    return observation;
  }

  /**
   * The client side of one observation (RFC 7641 §3): the `Observation`, the handler of every response
   * with its token, and the registration options. `first` receives the first response, if wanted.
   */
  private observationOf(
    p: Prepared,
    token: Uint8Array,
    first: ((r: CoapResponse) => void) | undefined,
  ): {
    observation: Observation;
    onMessage: (message: CoapMessage, peer: Peer) => void;
    register: CoapOptionInit[];
  } {
    const key = tokenKey(token);
    const register = [...p.options, { number: OptionNumber.Observe, value: 0 }];
    let last: { seq: number; time: number } | undefined;
    let renewTimer: TimerHandle | undefined;
    let waitingFirst = first !== undefined;
    let ended = false;
    const endObservation = () => {
      ended = true;
      if (renewTimer !== undefined) this.clock.clearTimeout(renewTimer);
      const entry = this.matcher.get(key);
      if (entry !== undefined) this.matcher.settle(entry);
    };
    const observation: Observation = new Observation(async () => {
      if (ended) return;
      endObservation();
      // §3.6: deregister with Observe = 1 (same token, and the same payload for FETCH, RFC 8132 §2.4);
      // late notifications then get RST
      await this.requests
        .exchange(
          {
            code: p.code,
            token,
            options: [...p.options, { number: OptionNumber.Observe, value: 1 }],
            payload: p.payload,
          },
          p.peer,
          p.confirmable,
          Math.min(p.timeout, 10_000),
          undefined,
          undefined,
          undefined,
          p.security,
        )
        .catch(() => undefined);
    }, token);
    const renew = (maxAge: number) => {
      if (renewTimer !== undefined) this.clock.clearTimeout(renewTimer);
      renewTimer = this.clock.setTimeout(
        () => {
          renewTimer = undefined;
          if (ended) return;
          // §3.3.1: Max-Age passed without a notification: register again with the same token
          const entry = this.matcher.get(key);
          if (entry === undefined) return;
          const outgoing = this.protectAgain(entry, p, {
            code: p.code,
            token,
            options: register,
            payload: p.payload,
          });
          if (outgoing === undefined) {
            endObservation();
            observation.fail(new CoapRequestError('security', 'cannot protect the re-registration'));
            return;
          }
          entry.tx = this.messaging.send(outgoing, p.peer, true, {
            onTimeout: () => {
              endObservation();
              observation.fail(
                new CoapRequestError('timeout', 'observation lost: re-registration unanswered'),
              );
            },
            onReset: () => {
              endObservation();
              observation.fail(new CoapRequestError('reset', 'the server rejected the re-registration'));
            },
          });
          renew(maxAge);
        },
        maxAge * 1000 + 2_000 + randomInt(this.random, 0, 1000),
      );
    };
    let echoed = false;
    const onMessage = (message: CoapMessage, peer: Peer) => {
      const echo = waitingFirst && !echoed ? echoChallenge(message) : undefined;
      const entry = this.matcher.get(key);
      if (echo !== undefined && entry !== undefined) {
        // RFC 9175 §2.4: register again (same token, protected anew) with the server's Echo value
        echoed = true;
        const outgoing = this.protectAgain(entry, p, {
          code: p.code,
          token,
          options: [...register, { number: OptionNumber.Echo, value: echo.slice() }],
          payload: p.payload,
        });
        if (outgoing !== undefined) {
          entry.received = 0;
          entry.tx = this.messaging.send(outgoing, p.peer, p.confirmable, {
            onReset: () =>
              this.matcher.fail(entry, new CoapRequestError('reset', 'the peer rejected the request (RST)')),
            onTimeout: () => this.matcher.fail(entry, new CoapRequestError('timeout', 'no acknowledgement')),
          });
          return;
        }
      }
      const seq = message.getUint(OptionNumber.Observe);
      const now = this.clock.now();
      let response = new CoapResponse(message, peer);
      const deliver = (r: CoapResponse) => {
        if (waitingFirst) {
          waitingFirst = false;
          first?.(r);
        }
        observation.deliver(r);
      };
      if (seq === undefined || !response.ok) {
        // not (or no longer) observed: this is the last response (§3.2)
        endObservation();
        const block = response.ok ? message.getUint(OptionNumber.Block2) : undefined;
        if (block !== undefined && decodeBlock(block).more) {
          // a first block only (e.g. an amplification-limited answer, RFC 9175 §2.4): the rest with plain
          // GETs (RFC 7959 §2.4), then the observation ends with the whole representation
          this.requests.blockwise.download({ ...p, options: p.options }, response).then(
            (full) => {
              deliver(full);
              observation.end();
            },
            (e: unknown) => observation.fail(e as Error),
          );
          return;
        }
        deliver(response);
        observation.end();
        return;
      }
      // Reordered notifications are dropped (§3.4). A secured exchange orders them itself: OSCORE accepts a
      // notification only with a Partial IV above the last one (RFC 8613 §7.4.1), and the Observe values
      // it hands up may not compare (a first response without Partial IV reads as 0, like Partial IV 0).
      const secured = entry?.secured !== undefined;
      if (!secured && last !== undefined && !isFresher(last.seq, last.time, seq, now)) return;
      last = { seq, time: now };
      renew(message.getUint(OptionNumber.MaxAge) ?? 60);
      const block = message.getUint(OptionNumber.Block2);
      if (block !== undefined && decodeBlock(block).more) {
        // RFC 7959 §3.4: fetch the rest of a large notification with plain GETs
        const plain: Prepared = { ...p, options: p.options };
        this.requests.blockwise.download(plain, response).then(
          (full) => {
            if (!ended && last?.seq === seq) deliver(full);
          },
          () => undefined,
        );
        return;
      }
      response = new CoapResponse(message, peer);
      deliver(response);
    };
    return { observation, onMessage, register };
  }

  /**
   * The message to send for a new request on an existing exchange (same token): protected anew, with a
   * new binding for its responses, when the exchange is secured. Undefined if protection fails.
   */
  private protectAgain(
    entry: ClientExchange,
    p: Prepared,
    message: OutgoingMessage,
  ): OutgoingMessage | undefined {
    if (p.security === undefined) return message;
    try {
      entry.secured = p.security.protectRequest(message, true);
      return entry.secured.message;
    } catch {
      return undefined;
    }
  }
}
