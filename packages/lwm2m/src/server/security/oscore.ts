/**
 * The server's OSCORE contexts (RFC 8613), built lazily from the endpoint credentials of a `SecurityStore`
 * (LwM2M TS Core 1.1 §7.1; TS Transport 1.1 §5.5 "OSCORE") and kept in a bounded cache by 'kid':
 *
 * - Sender sequence numbers are reserved ahead of use in the store's record for the endpoint (Appendix
 *   B.1.1), so neither a restart nor a context dropped from the cache and built again reuses a nonce. Only
 *   the newest context of an endpoint ever protects a message: `clientSecurity` resolves it per request.
 * - A context built here has no replay window to trust (the device may have spoken to an earlier one), so
 *   it starts with the replay state 'lost' and proves freshness with an Echo challenge (Appendix B.1.2,
 *   RFC 9175): one extra round trip per device after a restart or eviction.
 * - Replaced credentials are noticed at the next lookup (the store hands out a new object).
 */
import {
  type ClientSecurity,
  fromHex,
  type OutgoingMessage,
  type Random,
  type SecuredRequest,
  type ServerSecurity,
  toHex,
} from '@thimble/coap-core';
import {
  type CryptoProvider,
  deriveContext,
  oscoreClient,
  oscoreServer,
  type SecurityContext,
} from '@thimble/oscore';
import { MemorySequenceRecords } from './store.js';
import type { EndpointCredentials, SecurityStore } from './types.js';

export interface ServerOscoreOptions {
  /** The crypto implementation (e.g. `nodeCrypto` from `@thimble/oscore/node`). */
  readonly crypto: CryptoProvider;
  /** Most contexts kept built (default 10 000); the least recently used is dropped first. */
  readonly maxContexts?: number;
}

interface Cached {
  readonly credentials: EndpointCredentials;
  readonly context: SecurityContext;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class OscoreContexts {
  private readonly cache = new Map<string, Cached>();
  private readonly maxContexts: number;
  private readonly fallback = new MemorySequenceRecords();
  /** The `ServerSecurity` to install on the server's endpoint (contexts found by 'kid', §8.2). */
  readonly layer: ServerSecurity;

  constructor(
    private readonly store: SecurityStore,
    private readonly options: ServerOscoreOptions,
    private readonly random: Random,
  ) {
    this.maxContexts = Math.max(1, options.maxContexts ?? 10_000);
    this.layer = oscoreServer((kid, kidContext) => {
      const context = this.byKid(toHex(kid));
      if (context === undefined) return undefined;
      if (kidContext !== undefined && !sameBytes(context.idContext, kidContext)) return undefined;
      return context;
    });
  }

  /** Contexts currently built. */
  get size(): number {
    return this.cache.size;
  }

  /** The context for the credentials bound to `kid` (hex), built if needed. */
  byKid(kidHex: string): SecurityContext | undefined {
    const credentials = this.store.getByOscoreKid(kidHex);
    return credentials === undefined ? undefined : this.contextOf(credentials);
  }

  /** The context of an endpoint's OSCORE credentials, built if needed. */
  forEndpoint(endpoint: string): SecurityContext | undefined {
    const credentials = this.store.get(endpoint);
    return credentials?.oscore === undefined ? undefined : this.contextOf(credentials);
  }

  /**
   * Protects requests to `endpoint` with its current context, resolved per request (and per block and
   * renewal): a context dropped from the cache never protects again. Responses verify against the context
   * that protected their request.
   */
  clientSecurity(endpoint: string): ClientSecurity {
    return {
      protectRequest: (request: OutgoingMessage, confirmable: boolean): SecuredRequest => {
        const context = this.forEndpoint(endpoint);
        if (context === undefined) throw new Error(`no OSCORE context for endpoint "${endpoint}"`);
        return oscoreClient(context).protectRequest(request, confirmable);
      },
    };
  }

  private contextOf(credentials: EndpointCredentials): SecurityContext | undefined {
    const o = credentials.oscore;
    if (o === undefined) return undefined;
    const kid = o.recipientId;
    const cached = this.cache.get(kid);
    if (cached !== undefined && cached.credentials === credentials) {
      // least recently used goes first: move to the end
      this.cache.delete(kid);
      this.cache.set(kid, cached);
      return cached.context;
    }
    let context: SecurityContext;
    try {
      context = deriveContext({
        masterSecret: fromHex(o.masterSecret),
        ...(o.masterSalt === undefined ? {} : { masterSalt: fromHex(o.masterSalt) }),
        ...(o.idContext === undefined ? {} : { idContext: fromHex(o.idContext) }),
        senderId: fromHex(o.senderId),
        recipientId: fromHex(kid),
        crypto: this.options.crypto,
        sequenceStore:
          this.store.oscoreSequence?.(credentials.endpoint) ?? this.fallback.record(credentials.endpoint),
        replayState: 'lost',
        random: (n) => this.random.fill(new Uint8Array(n)),
      });
    } catch {
      // credentials that do not make a context (e.g. ids too long for the algorithm) verify nothing
      return undefined;
    }
    this.cache.delete(kid);
    this.cache.set(kid, { credentials, context });
    while (this.cache.size > this.maxContexts) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    return context;
  }
}
