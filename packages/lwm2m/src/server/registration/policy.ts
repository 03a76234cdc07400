/**
 * What the registration interface accepts from whom, beyond credentials (issue 15; LwM2M TS Core 1.1
 * §6.2, TS Transport 1.1 §6.2): NoSec ownership of a registration, Register rate limits per source.
 * A NoSec device is known only by its address: see SECURITY.md for what that can and cannot protect.
 */
import type { Clock } from '@thimble/coap-core';

export interface RegisterRateLimit {
  /** Registers accepted from one source address per window. */
  readonly max: number;
  /** The window, ms. */
  readonly windowMs: number;
}

export interface RegistrationPolicyOptions {
  /**
   * Refuse every Register, Update, De-register and Send that came without credentials from the security
   * store (NoSec) with 4.03 Forbidden (`lwm2m server --require-security`). Default false.
   */
  readonly requireSecurity?: boolean;
  /**
   * Let a NoSec Register from another IP address replace a live registration of the same endpoint name
   * (default false: 4.03 Forbidden until the old registration expired or was de-registered). A device on
   * the same IP address (a new port after a restart or NAT rebinding) may always register again.
   */
  readonly allowNoSecTakeover?: boolean;
  /**
   * Registers accepted per source IP address and window (default 30 per 60 s), or `false` for no limit.
   * More are answered 4.29 Too Many Requests with Max-Age = seconds until the window ends (RFC 8516).
   */
  readonly registerRate?: RegisterRateLimit | false;
  /** Most live NoSec registrations from one IP address (default 1000); more → 4.03. */
  readonly maxNoSecPerAddress?: number;
  /** Most source addresses the rate limiter tracks at once (default 10000; the oldest window is dropped). */
  readonly maxTrackedSources?: number;
}

export type ResolvedRegistrationPolicy = Required<RegistrationPolicyOptions>;

export function resolveRegistrationPolicy(o: RegistrationPolicyOptions = {}): ResolvedRegistrationPolicy {
  return {
    requireSecurity: o.requireSecurity ?? false,
    allowNoSecTakeover: o.allowNoSecTakeover ?? false,
    registerRate: o.registerRate ?? { max: 30, windowMs: 60_000 },
    maxNoSecPerAddress: o.maxNoSecPerAddress ?? 1000,
    maxTrackedSources: o.maxTrackedSources ?? 10_000,
  };
}

/**
 * A fixed-window counter per source address, bounded: past `maxSources` the oldest window is forgotten.
 * `take` returns undefined when accepted, else the seconds until the source may try again.
 */
export class RegisterRateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: RegisterRateLimit | false,
    private readonly maxSources: number,
    private readonly clock: Clock,
  ) {}

  take(source: string): number | undefined {
    if (this.limit === false) return undefined;
    const now = this.clock.now();
    let w = this.windows.get(source);
    if (w === undefined || now - w.start >= this.limit.windowMs) {
      if (w !== undefined) this.windows.delete(source);
      while (this.windows.size >= this.maxSources) {
        const oldest = this.windows.keys().next().value;
        if (oldest === undefined) break;
        this.windows.delete(oldest);
      }
      w = { start: now, count: 0 };
      this.windows.set(source, w);
    }
    if (w.count >= this.limit.max)
      return Math.max(1, Math.ceil((w.start + this.limit.windowMs - now) / 1000));
    w.count++;
    return undefined;
  }

  /** Sources tracked now (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }
}
