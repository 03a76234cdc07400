/**
 * The CoAP endpoint towards one LwM2M Server account (LwM2M TS Core 1.1 §7.1, Appendix E.1, E.5): NoSec
 * shares the application's endpoint (or gets a plain transport), Security Mode PSK gets a `coaps://`
 * transport with the account's identity and key, and an account whose /0/x/17 links an OSCORE (21)
 * instance gets the OSCORE layer of `@thimble/oscore` (RFC 8613 §8) on its endpoint, both ways: the
 * client's requests are protected, and the server's requests must be.
 */
import {
  type ClientSecurity,
  type Clock,
  CoapEndpoint,
  type Random,
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
import { Lwm2mClientError } from '../errors.js';
import type { ClientStateStore } from '../state/state.js';
import { SecurityMode, type ServerAccount, type ServerTransportFactory, uriHostPort } from './servers.js';

export interface EndpointContext {
  /** Shared by NoSec accounts when given. */
  readonly endpoint: CoapEndpoint | undefined;
  readonly transports: ServerTransportFactory | undefined;
  readonly oscoreCrypto: CryptoProvider | undefined;
  readonly stateStore: ClientStateStore | undefined;
  readonly clock: Clock;
  readonly random: Random;
}

function refuse(account: ServerAccount, what: string): never {
  throw new Lwm2mClientError('security', '5.00', `server ${account.shortServerId}: ${what}`);
}

/**
 * The endpoint towards one server: the shared `endpoint` for NoSec, else a new endpoint over a transport
 * from `transports` (DTLS for Security Mode PSK), with OSCORE layered on when /0/x/17 links an object 21
 * instance. `owned`: the caller closes it when done. DTLS for Security Modes PSK, RPK and Certificate.
 */
export async function openServerEndpoint(
  account: ServerAccount,
  ctx: EndpointContext,
): Promise<{ endpoint: CoapEndpoint; owned: boolean }> {
  const { scheme, host, port } = uriHostPort(account.uri);
  const mode = account.securityMode;
  if (
    mode !== SecurityMode.NoSec &&
    mode !== SecurityMode.PreSharedKey &&
    mode !== SecurityMode.RawPublicKey &&
    mode !== SecurityMode.Certificate
  )
    refuse(account, `Security Mode ${mode} (certificates with EST) is not supported`);
  const dtls = mode !== SecurityMode.NoSec;
  if (mode === SecurityMode.PreSharedKey && account.psk === undefined)
    refuse(account, 'PSK mode without identity (/0/x/3) and key (/0/x/5)');
  if (mode !== SecurityMode.NoSec && mode !== SecurityMode.PreSharedKey && account.keys === undefined)
    refuse(account, `Security Mode ${mode} without /0/x/3, /0/x/4 and /0/x/5`);
  if ((scheme === 'coaps') !== dtls) refuse(account, `${scheme}:// does not match Security Mode ${mode}`);
  if (!dtls && account.oscore === undefined && ctx.endpoint !== undefined)
    return { endpoint: ctx.endpoint, owned: false };
  const factory = ctx.transports;
  if (factory === undefined) refuse(account, `no transport factory (option transports) for ${account.uri}`);
  let clientSecurity: ClientSecurity | undefined;
  let serverSecurity: ServerSecurity | undefined;
  if (account.oscore !== undefined) {
    const context = oscoreContext(account, ctx);
    clientSecurity = oscoreClient(context);
    serverSecurity = oscoreServer([context]);
  }
  const transport = await factory({
    account,
    scheme,
    host,
    port,
    psk: mode === SecurityMode.PreSharedKey ? account.psk : undefined,
    securityMode: mode,
    keys: dtls ? account.keys : undefined,
  });
  return {
    endpoint: new CoapEndpoint({
      transport,
      clock: ctx.clock,
      random: ctx.random,
      clientSecurity,
      serverSecurity,
    }),
    owned: true,
  };
}

/** The OSCORE context of an account (RFC 8613 §3.2), its sequence numbers kept in the state store. */
export function oscoreContext(account: ServerAccount, ctx: EndpointContext): SecurityContext {
  const o = account.oscore!;
  const crypto = ctx.oscoreCrypto;
  if (crypto === undefined)
    refuse(account, 'OSCORE needs oscoreCrypto (nodeCrypto from @thimble/oscore/node)');
  // HKDF SHA-256 is the only KDF (COSE -10; object 21 1.0 wrote the HMAC 256/256 id 5)
  if (o.hmacAlgorithm !== -10 && o.hmacAlgorithm !== 5)
    refuse(account, `OSCORE HMAC algorithm ${o.hmacAlgorithm} is not supported`);
  const name = `oscore-${toHex(o.senderId) || 'empty'}-${toHex(o.recipientId) || 'empty'}`.slice(0, 80);
  const store = ctx.stateStore?.sequenceStore(name);
  // a context used before lost its replay window: requests from the server first get an Echo (B.1.2)
  const restarted = store !== undefined && store.load() > 0;
  return deriveContext({
    masterSecret: o.masterSecret,
    masterSalt: o.masterSalt,
    idContext: o.idContext,
    senderId: o.senderId,
    recipientId: o.recipientId,
    algorithm: o.aeadAlgorithm,
    crypto,
    sequenceStore: store,
    replayState: restarted ? 'lost' : 'fresh',
    random: (n) => ctx.random.fill(new Uint8Array(n)),
  });
}
