/**
 * The endpoint's stack, built once at construction (docs/ARCHITECTURE.md, coap-core). One column for
 * each role above the fork, one shared column below it:
 *
 *                        CoapEndpoint (endpoint/endpoint.ts, the façade)
 *            client role                              server role
 *   ┌──────────────────────────────┐   ┌──────────────────────────────────────────┐
 *   │ observe/client.ts   Observe  │   │ server/dispatch.ts  routes, 4.0x, RFC 6690│
 *   │ client/requests.ts  requests │   │ observe/server.ts   Observe registrations │
 *   │ blockwise/client.ts Block1/2 │   │ blockwise/server.ts Block1/2, snapshots   │
 *   └──────────────┬───────────────┘   └─────────────────────┬────────────────────┘
 *                  └──────────────── Fork ───────────────────┘
 *                     security/amplification.ts   responses to unverified peers ≤ 3× (RFC 9175 §2.4)
 *                     security/layer.ts           OSCORE hooks: protect / unprotect
 *                     security/outer-blockwise.ts Outer Block-wise (RFC 8613 §4.1.3.4.2)
 *                     stack/matcher.ts            tokens, pending requests (RFC 7252 §5.3.2)
 *                     messaging/message-layer.ts  CON/ACK/RST, retransmission, deduplication
 *                     transport                   UDP | DTLS | memory
 *
 * Requests from peers and responses to ours travel up; requests of ours and the responses to peers
 * travel down (see `layer.ts`). The layers below the fork are `AbstractLayer`s listed bottom first in
 * `buildStack`; the security and Outer Block-wise layers pass messages through unchanged when there is
 * no security for them.
 */
import { BlockwiseServer } from '../blockwise/server.js';
import { type BlockwiseLimits, DEFAULT_BLOCKWISE_LIMITS, TransferStore } from '../blockwise/store.js';
import { ClientRequests } from '../client/requests.js';
import type { Clock } from '../clock.js';
import type { CoapMessage } from '../message/decode.js';
import { OptionNumber } from '../message/options.js';
import type { InboundExchange, MessageLayerOptions } from '../messaging/message-layer.js';
import { exchangeLifetime } from '../messaging/parameters.js';
import { ObserveClient } from '../observe/client.js';
import { ObserveServer, type ObserveServerOptions } from '../observe/server.js';
import type { Random } from '../random.js';
import { AmplificationLayer, type AmplificationOptions } from '../security/amplification.js';
import { SecurityLayer } from '../security/layer.js';
import { OuterBlockwiseLayer, type OuterBlockwiseOptions } from '../security/outer-blockwise.js';
import type { ClientSecurity, ServerSecurity } from '../security/types.js';
import { ServerDispatch } from '../server/dispatch.js';
import { Responder } from '../server/responder.js';
import type { Peer, Transport } from '../transport/types.js';
import type { ClientExchange } from './exchange.js';
import { AbstractLayer, connectLayers, type StackState } from './layer.js';
import { Matcher } from './matcher.js';

export interface StackOptions {
  readonly transport: Transport;
  readonly messageLayer: MessageLayerOptions;
  readonly clock: Clock;
  readonly random: Random;
  readonly tokenRange: readonly [number, number];
  readonly maxPendingRequests: number;
  readonly blockSize: number;
  readonly blockwise: Partial<BlockwiseLimits> | undefined;
  readonly observe: ObserveServerOptions | undefined;
  readonly clientSecurity: ClientSecurity | undefined;
  readonly serverSecurity: ServerSecurity | undefined;
  readonly outerBlockwise: OuterBlockwiseOptions | undefined;
  readonly amplification: AmplificationOptions | undefined;
}

/** Where the columns meet: requests go up the server column, responses end at their client exchange. */
class Fork extends AbstractLayer {
  constructor(
    private readonly server: BlockwiseServer,
    private readonly matcher: Matcher,
  ) {
    super();
  }
  override receiveRequest(ex: InboundExchange): void {
    this.server.receiveRequest(ex);
  }
  override receiveResponse(x: ClientExchange, message: CoapMessage, peer: Peer): void {
    this.matcher.complete(x, message, peer);
  }
}

export interface Stack {
  readonly state: StackState;
  readonly matcher: Matcher;
  readonly transfers: TransferStore;
  readonly security: SecurityLayer;
  readonly amplification: AmplificationLayer;
  readonly requests: ClientRequests;
  readonly observeClient: ObserveClient;
  readonly dispatch: ServerDispatch;
  readonly observeServer: ObserveServer;
  readonly blockwiseServer: BlockwiseServer;
}

export function buildStack(options: StackOptions): Stack {
  const { clock, random, blockSize } = options;
  const state: StackState = { closed: false };
  const matcher = new Matcher(
    options.transport,
    options.messageLayer,
    clock,
    random,
    options.tokenRange,
    options.maxPendingRequests,
    state,
  );
  const messaging = matcher.messaging;
  // A transfer must outlive the slowest block exchange: EXCHANGE_LIFETIME unless configured.
  const transfers = new TransferStore({
    ...DEFAULT_BLOCKWISE_LIMITS,
    transferTimeout: exchangeLifetime(messaging.parameters),
    ...options.blockwise,
  });
  const outer = new OuterBlockwiseLayer(
    options.serverSecurity,
    transfers,
    clock,
    options.outerBlockwise,
    matcher,
    state,
  );
  const security = new SecurityLayer(options.serverSecurity, matcher);

  const responder = new Responder(clock, random, messaging.parameters.defaultLeisure, state);
  const dispatch = new ServerDispatch(responder);
  const observeServer = new ObserveServer(options.observe, messaging, clock, blockSize, state);
  const blockwiseServer = new BlockwiseServer(transfers, clock, blockSize, responder);
  blockwiseServer.observe = observeServer;
  blockwiseServer.dispatch = dispatch;
  observeServer.dispatch = dispatch;
  observeServer.blockwise = blockwiseServer;
  dispatch.observe = observeServer;
  dispatch.blockwise = blockwiseServer;
  // RFC 8613 §2: the OSCORE option is critical; a server without a security layer answers 4.02
  if (options.serverSecurity !== undefined) dispatch.understandOption(OptionNumber.OSCORE);

  const amplification = new AmplificationLayer(options.amplification, clock, random);
  amplification.listener = { limited: (ex) => observeServer.forget(ex) };

  const fork = new Fork(blockwiseServer, matcher);
  connectLayers([matcher, outer, security, amplification, fork]);

  const requests = new ClientRequests(
    options.transport,
    matcher,
    security,
    messaging,
    blockSize,
    options.clientSecurity,
    random,
    state,
  );
  const observeClient = new ObserveClient(requests, matcher, messaging, clock, random, state);
  return {
    state,
    matcher,
    transfers,
    security,
    amplification,
    requests,
    observeClient,
    dispatch,
    observeServer,
    blockwiseServer,
  };
}
