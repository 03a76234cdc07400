/**
 * Our `Lwm2mServer` and `Lwm2mClient` devices on an in-memory network with fake time.
 */
import {
  CoapEndpoint,
  type CoapEndpointOptions,
  type CoapResponse,
  FakeClock,
  MemoryNetwork,
  type RequestOptions,
  seededRandom,
} from '@thimble/coap-core';
import {
  Lwm2mClient,
  type Lwm2mClientOptions,
  Lwm2mServer,
  type Lwm2mServerLimits,
  type Lwm2mServerOptions,
  type Registration,
  type RegistrationStore,
} from '@thimble/lwm2m';
import { drive, until } from '@thimble/test-support';

// Fake time, shared by every package's tests (re-exported for the tests that import it from here).
export { drive, until };

/** How a device's CoAP endpoint is set up: security layers, the identity a secure transport gives it. */
export type DeviceEndpointOptions = Partial<
  Pick<CoapEndpointOptions, 'clientSecurity' | 'serverSecurity' | 'trace'>
> & {
  readonly identity?: string;
};

export const SERVER = '10.0.0.1';

export interface EventLog {
  registered: Registration[];
  updated: Registration[];
  deregistered: Registration[];
  expired: Registration[];
}

export interface ServerSetup {
  clock: FakeClock;
  network: MemoryNetwork;
  serverEndpoint: CoapEndpoint;
  server: Lwm2mServer;
  events: EventLog;
  /** Starts a device at 10.0.1.<n> (Device object, Server object, a temperature sensor). */
  device(n: number, options?: Partial<Lwm2mClientOptions>, endpoint?: DeviceEndpointOptions): Lwm2mClient;
  /** A raw CoAP endpoint (for malformed requests), at 10.0.2.1. */
  raw(): CoapEndpoint;
  /** Sends a raw request to the server. */
  toServer(options: Omit<RequestOptions, 'uri' | 'peer'>): Promise<CoapResponse>;
}

export function serverSetup(
  options: {
    limits?: Lwm2mServerLimits;
    store?: RegistrationStore;
    seed?: number;
    /** More server options (security, oscore, observationStore). */
    server?: Partial<
      Omit<Lwm2mServerOptions, 'endpoint' | 'transport' | 'endpointOptions' | 'clock' | 'random'>
    >;
    /** Run on this clock and network (a restarted server joins the network of the first). */
    clock?: FakeClock;
    network?: MemoryNetwork;
  } = {},
): ServerSetup {
  const clock = options.clock ?? new FakeClock();
  const network = options.network ?? new MemoryNetwork({ clock, seed: options.seed ?? 3 });
  const serverOptions = {
    clock,
    random: seededRandom(7),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.store === undefined ? {} : { store: options.store }),
    ...options.server,
  };
  // with OSCORE the server builds its endpoint (the OSCORE layer is set when the endpoint is made)
  const server =
    options.server?.oscore === undefined
      ? new Lwm2mServer({
          endpoint: new CoapEndpoint({
            transport: network.bind(SERVER, 5683),
            clock,
            random: seededRandom(1),
          }),
          ...serverOptions,
        })
      : new Lwm2mServer({
          transport: network.bind(SERVER, 5683),
          endpointOptions: { clock, random: seededRandom(1) },
          ...serverOptions,
        });
  const serverEndpoint = server.endpoint;
  const events: EventLog = { registered: [], updated: [], deregistered: [], expired: [] };
  server.on('registered', (r) => events.registered.push(r));
  server.on('updated', (r) => events.updated.push(r));
  server.on('deregistered', (r) => events.deregistered.push(r));
  server.on('expired', (r) => events.expired.push(r));
  let rawEndpoint: CoapEndpoint | undefined;
  const raw = () => {
    rawEndpoint ??= new CoapEndpoint({
      transport: network.bind('10.0.2.1', 5683),
      clock,
      random: seededRandom(5),
    });
    return rawEndpoint;
  };
  return {
    clock,
    network,
    serverEndpoint,
    server,
    events,
    device(n, deviceOptions = {}, endpointOptions = {}) {
      const { identity, ...layers } = endpointOptions;
      const endpoint = new CoapEndpoint({
        transport: network.bind(`10.0.1.${n}`, 56830, identity === undefined ? {} : { identity }),
        clock,
        random: seededRandom(100 + n),
        ...layers,
      });
      const client = new Lwm2mClient({
        endpointName: `dev${n}`,
        endpoint,
        serverUri: `coap://${SERVER}:5683`,
        lifetime: 300,
        version: '1.1',
        clock,
        random: seededRandom(200 + n),
        ...deviceOptions,
      });
      client.addInstance(1, 0, { 0: 1, 1: deviceOptions.lifetime ?? 300, 6: false, 7: 'U' });
      client.addInstance(3, 0, {
        0: 'Thimble',
        1: 'Model T',
        2: 'SN-1',
        3: '1.0.0',
        11: [0, 3],
        13: 1_700_000_000,
        16: 'U',
      });
      client.addInstance(3303, 0, { 5700: 21.5, 5701: 'Cel' });
      return client;
    },
    raw,
    toServer(o) {
      return drive(clock, raw().request({ ...o, peer: { address: SERVER, port: 5683 } }));
    },
  };
}

/** Starts a device and waits until the server has its registration. */
export async function registered(s: ServerSetup, client: Lwm2mClient): Promise<Registration> {
  client.start();
  await until(s.clock, () => client.registrationState === 'registered');
  const r = s.server.registration(client.endpointName);
  if (r === undefined) throw new Error('not in the store');
  return r;
}
