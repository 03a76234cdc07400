/**
 * The Registration interface (`/rd`, LwM2M TS Core 1.1 §6.2, TS Transport 1.1 §6.2): Register, Update,
 * De-register and expiry, on a `RegistrationStore`. What happens next (events, queue mode, observations)
 * is the `RegistrationListener`'s: the server wires it (docs/ARCHITECTURE.md, "lwm2m").
 */
import {
  type Clock,
  type CoapRequest,
  Code,
  OptionNumber,
  type Peer,
  type Random,
  type ResponseInit,
} from '@thimble/coap-core';
import type { Authentication, RegistrationAuthorizer } from './authorizer.js';
import {
  parseLinksPayload,
  parseRegisterQuery,
  parseUpdateQuery,
  RegistrationError,
  type RegistrationLimits,
} from './parse.js';
import { RegisterRateLimiter, type ResolvedRegistrationPolicy, resolveRegistrationPolicy } from './policy.js';
import type { Registration, RegistrationStore } from './store.js';

/** What the registration handler tells the rest of the server, after the store has changed. */
export interface RegistrationListener {
  registered(registration: Registration, replaced: Registration | undefined): void;
  updated(registration: Registration, previous: Registration): void;
  deregistered(registration: Registration): void;
  expired(registration: Registration): void;
}

/** The limits the handler reads (the server's `Lwm2mServerLimits`, defaults filled in). */
export interface RegistrationHandlerLimits extends Required<RegistrationLimits> {
  /** Seconds a registration outlives its lifetime before it expires. */
  readonly expiryGrace: number;
  /** Milliseconds between expiry sweeps. */
  readonly sweepInterval: number;
}

const peerKey = (p: Peer): string => `${p.address}|${p.port}`;

/** The peer a request came from, as plain data (with the identity a secure transport authenticated). */
function peerOf(req: CoapRequest): Peer {
  const p = req.peer;
  return p.identity === undefined
    ? { address: p.address, port: p.port }
    : { address: p.address, port: p.port, identity: p.identity };
}

/**
 * Whether `req` comes from the identity that made `r` (issue 15, as Leshan does): the secure transport's
 * identity or the OSCORE credential it registered with, or for NoSec the same address and port. A device
 * whose address changed gets 4.04 and registers again (Core §6.2.2).
 */
function sameIdentity(req: CoapRequest, by: Authentication, r: Registration): boolean {
  if (r.peer.identity !== undefined) return req.peer.identity === r.peer.identity;
  if (r.authentication !== undefined) return by === r.authentication;
  if (by !== undefined) return true; // now authenticated by credentials bound to this endpoint
  return req.peer.address === r.peer.address && req.peer.port === r.peer.port;
}

const NOT_YOURS: ResponseInit = { code: Code.NotFound, payload: 'no such registration' };

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export class RegistrationHandler {
  /** Peer address → registration id, for Send (which names no registration). */
  private readonly byPeer = new Map<string, string>();
  /** Live NoSec registrations per IP address (the bound of `maxNoSecPerAddress`, kept without a scan). */
  private readonly noSecByAddress = new Map<string, number>();
  private sweepTimer: ReturnType<Clock['setTimeout']> | undefined;
  private closed = false;
  private readonly policy: ResolvedRegistrationPolicy;
  private readonly rate: RegisterRateLimiter;

  constructor(
    private readonly store: RegistrationStore,
    private readonly authorizer: RegistrationAuthorizer,
    private readonly listener: RegistrationListener,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly limits: RegistrationHandlerLimits,
    policy: ResolvedRegistrationPolicy = resolveRegistrationPolicy(),
  ) {
    this.policy = policy;
    this.rate = new RegisterRateLimiter(policy.registerRate, policy.maxTrackedSources, clock);
    // a persistent store may come back with registrations: index them and let expiry run
    for (const r of store.list()) this.index(r);
    this.armSweep();
  }

  /** The registration of the device at `peer` (Send names no registration, Core §6.4.6). */
  registrationAt(peer: Peer): Registration | undefined {
    const id = this.byPeer.get(peerKey(peer));
    return id === undefined ? undefined : this.store.get(id);
  }

  /** Stops expiry. */
  close(): void {
    this.closed = true;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Register (Core §6.2.1): 2.01 Created with Location-Path `rd/<id>`. */
  register(req: CoapRequest): ResponseInit {
    const params = parseRegisterQuery(req.query, this.limits);
    const auth = this.authorizer.authorize(req, params.endpoint);
    if (auth.refused !== undefined) return auth.refused;
    if (req.payload.length === 0) throw new RegistrationError('Register needs the object links');
    const links = parseLinksPayload(req.payload, req.contentFormat, this.limits);
    const now = this.clock.now();
    if (auth.by === undefined) {
      const refused = this.noSecRegister(req, params.endpoint, now);
      if (refused !== undefined) return refused;
    }
    const registration: Registration = {
      id: this.newId(),
      endpoint: params.endpoint,
      lifetime: params.lifetime,
      version: params.version,
      binding: params.binding,
      queueMode: params.queueMode,
      ...(params.sms === undefined ? {} : { sms: params.sms }),
      peer: peerOf(req),
      ...(auth.by === undefined ? {} : { authentication: auth.by }),
      rootPath: links.rootPath,
      contentFormats: links.contentFormats,
      objects: links.objects,
      registeredAt: now,
      updatedAt: now,
      expiresAt: this.expiry(params.lifetime, now),
    };
    const replaced = this.store.put(registration);
    if (replaced !== undefined) this.unindex(replaced);
    this.index(registration);
    this.armSweep();
    this.listener.registered(registration, replaced);
    return {
      code: Code.Created,
      options: [
        { number: OptionNumber.LocationPath, value: 'rd' },
        { number: OptionNumber.LocationPath, value: registration.id },
      ],
    };
  }

  /** Update (Core §6.2.2): 2.04, or 4.04 for an unknown registration. */
  update(req: CoapRequest): ResponseInit {
    const id = req.params.id ?? '';
    const previous = this.store.get(id);
    if (previous === undefined) return { code: Code.NotFound, payload: 'no such registration' };
    const auth = this.authorizer.authorize(req, previous.endpoint);
    if (auth.refused !== undefined) return auth.refused;
    if (!sameIdentity(req, auth.by, previous)) return NOT_YOURS;
    const params = parseUpdateQuery(req.query);
    const links =
      req.payload.length > 0 ? parseLinksPayload(req.payload, req.contentFormat, this.limits) : undefined;
    const now = this.clock.now();
    const lifetime = params.lifetime ?? previous.lifetime;
    const sms = params.sms ?? previous.sms;
    const { sms: _drop, authentication: _was, ...rest } = previous;
    const registration: Registration = {
      ...rest,
      ...(sms === undefined ? {} : { sms }),
      ...(auth.by === undefined ? {} : { authentication: auth.by }),
      lifetime,
      binding: params.binding ?? previous.binding,
      // 1.0 says queue mode in the binding (UQ); 1.1+ with Q (Core 1.1 §6.2.1.1)
      queueMode:
        previous.version === '1.0' && params.binding !== undefined
          ? params.binding.includes('Q')
          : (params.queueMode ?? previous.queueMode),
      peer: peerOf(req),
      ...(links === undefined
        ? {}
        : { rootPath: links.rootPath, contentFormats: links.contentFormats, objects: links.objects }),
      updatedAt: now,
      expiresAt: this.expiry(lifetime, now),
    };
    this.store.put(registration);
    this.unindex(previous);
    this.index(registration);
    this.listener.updated(registration, previous);
    return { code: Code.Changed };
  }

  /** De-register (Core §6.2.3): 2.02 Deleted. */
  deregister(req: CoapRequest): ResponseInit {
    const id = req.params.id ?? '';
    const existing = this.store.get(id);
    if (existing === undefined) return { code: Code.NotFound, payload: 'no such registration' };
    const auth = this.authorizer.authorize(req, existing.endpoint);
    if (auth.refused !== undefined) return auth.refused;
    if (!sameIdentity(req, auth.by, existing)) return NOT_YOURS;
    const removed = this.store.remove(id) ?? existing;
    this.unindex(removed);
    this.listener.deregistered(removed);
    return { code: Code.Deleted };
  }

  /**
   * A NoSec Register (issue 15): rate-limited per source address (4.29 with Max-Age, RFC 8516: the
   * client may retry after that many seconds), at most `maxNoSecPerAddress` live registrations per
   * address, and no takeover of a live registration made from another IP address (4.03) unless the
   * operator allows it. Returns the refusal, if any.
   */
  private noSecRegister(req: CoapRequest, endpoint: string, now: number): ResponseInit | undefined {
    const address = req.peer.address;
    const existing = this.store.getByEndpoint(endpoint);
    const live = existing !== undefined && existing.expiresAt > now;
    if (
      live &&
      !this.policy.allowNoSecTakeover &&
      (existing.authentication !== undefined || existing.peer.address !== address)
    ) {
      return { code: Code.Forbidden, payload: 'endpoint registered from another address' };
    }
    // the host itself (a local fleet, tests, a UDP proxy or balancer on this host) is not limited: loopback
    // sources cannot be spoofed from the network, and a local proxy would make every device one source
    if (isLoopbackAddress(address)) return undefined;
    const retryAfter = this.rate.take(address);
    if (retryAfter !== undefined)
      return { code: Code.TooManyRequests, maxAge: retryAfter, payload: 'too many registrations' };
    if (!live || existing.peer.address !== address) {
      if ((this.noSecByAddress.get(address) ?? 0) >= this.policy.maxNoSecPerAddress)
        return { code: Code.Forbidden, payload: 'too many registrations from this address' };
    }
    return undefined;
  }

  private newId(): string {
    for (;;) {
      let id = '';
      for (let i = 0; i < 10; i++) id += ID_ALPHABET[this.random.nextUint32() % ID_ALPHABET.length];
      if (this.store.get(id) === undefined) return id;
    }
  }

  private expiry(lifetime: number, now: number): number {
    return now + (lifetime + this.limits.expiryGrace) * 1000;
  }

  private index(r: Registration): void {
    this.byPeer.set(peerKey(r.peer), r.id);
    if (r.authentication === undefined)
      this.noSecByAddress.set(r.peer.address, (this.noSecByAddress.get(r.peer.address) ?? 0) + 1);
  }

  private unindex(r: Registration): void {
    const key = peerKey(r.peer);
    if (this.byPeer.get(key) === r.id) this.byPeer.delete(key);
    if (r.authentication === undefined) {
      const n = (this.noSecByAddress.get(r.peer.address) ?? 1) - 1;
      if (n <= 0) this.noSecByAddress.delete(r.peer.address);
      else this.noSecByAddress.set(r.peer.address, n);
    }
  }

  /** Expiry: a periodic sweep on the injected clock, armed only while there are registrations. */
  private armSweep(): void {
    if (this.closed || this.sweepTimer !== undefined || this.store.size === 0) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep();
      this.armSweep();
    }, this.limits.sweepInterval);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const r of this.store.list()) {
      if (r.expiresAt > now) continue;
      this.store.remove(r.id);
      this.unindex(r);
      this.listener.expired(r);
    }
  }
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms: the host itself. */
function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}
