/**
 * Our Lwm2mClient, our Lwm2mBootstrapServer (10.0.0.5) and our Lwm2mServer (10.0.0.1) on an in-memory
 * network with fake time; or a raw CoAP endpoint in the bootstrap server's place, for hand-made requests.
 */
import {
  CoapEndpoint,
  type CoapRequest,
  type CoapResponse,
  Code,
  FakeClock,
  MemoryNetwork,
  type RequestOptions,
  seededRandom,
} from '@thimble/coap-core';
import {
  type BootstrapConfig,
  type BootstrapConfigStore,
  Lwm2mBootstrapServer,
  type Lwm2mBootstrapServerLimits,
  Lwm2mClient,
  type Lwm2mClientOptions,
  Lwm2mServer,
  MemoryBootstrapConfigStore,
  type OperationEvent,
} from '@thimble/lwm2m';

// Fake time, shared by every package's tests (re-exported for the tests that import it from here).
export { drive, until } from '@thimble/test-support';

export const BS = '10.0.0.5';
export const SERVER = '10.0.0.1';
export const DEVICE = '10.0.1.1';
export const BS_URI = `coap://${BS}:5683`;
export const SERVER_URI = `coap://${SERVER}:5683`;

/** A configuration handing out our LwM2M server (NoSec, ssid 101). */
export function serverConfig(extra: Partial<BootstrapConfig> = {}): BootstrapConfig {
  return {
    security: { 1: { uri: SERVER_URI, bootstrapServer: false, securityMode: 'nosec', shortServerId: 101 } },
    servers: { 0: { shortServerId: 101, lifetime: 120, binding: 'U' } },
    ...extra,
  };
}

export interface World {
  clock: FakeClock;
  network: MemoryNetwork;
  lwm2m: Lwm2mServer;
  /** Bound lazily: tests that put a raw endpoint at BS do not create it. */
  bootstrapServer(store?: BootstrapConfigStore, limits?: Lwm2mBootstrapServerLimits): Lwm2mBootstrapServer;
  device(options?: Partial<Lwm2mClientOptions>, bootstrapAccount?: Record<number, unknown>): Device;
  /** A raw endpoint in the bootstrap server's place, answering Bootstrap-Requests with `code`. */
  rawBootstrap(code?: number): RawBootstrap;
}

export interface Device {
  client: Lwm2mClient;
  endpoint: CoapEndpoint;
  ops: OperationEvent[];
  errors: Error[];
}

export interface RawBootstrap {
  endpoint: CoapEndpoint;
  requests: { at: number; query: readonly string[] }[];
  code: number;
  /** A request to the device. */
  send(options: Omit<RequestOptions, 'uri' | 'peer' | 'path'> & { path: string }): Promise<CoapResponse>;
}

export function world(): World {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 11 });
  const lwm2mEndpoint = new CoapEndpoint({
    transport: network.bind(SERVER, 5683),
    clock,
    random: seededRandom(1),
  });
  const lwm2m = new Lwm2mServer({ endpoint: lwm2mEndpoint, clock, random: seededRandom(2) });
  let devices = 0;
  return {
    clock,
    network,
    lwm2m,
    bootstrapServer(store = new MemoryBootstrapConfigStore(), limits = {}) {
      const endpoint = new CoapEndpoint({
        transport: network.bind(BS, 5683),
        clock,
        random: seededRandom(3),
      });
      return new Lwm2mBootstrapServer({
        endpoint,
        store,
        clock,
        limits: { requestTimeout: 10_000, ...limits },
      });
    },
    device(options = {}, bootstrapAccount) {
      devices++;
      const endpoint = new CoapEndpoint({
        transport: network.bind(`10.0.1.${devices}`, 56830),
        clock,
        random: seededRandom(100 + devices),
      });
      const client = new Lwm2mClient({
        endpointName: `dev${devices}`,
        endpoint,
        clock,
        random: seededRandom(200 + devices),
        requestTimeout: 5_000,
        ...options,
      });
      // the bootstrap-server account (Core 1.1 Appendix E.1), NoSec
      client.addInstance(0, 0, {
        0: BS_URI,
        1: true,
        2: 3,
        3: new Uint8Array(0),
        4: new Uint8Array(0),
        5: new Uint8Array(0),
        ...(bootstrapAccount as object),
      });
      client.addInstance(3, 0, { 0: 'Thimble', 1: 'Model B', 11: [0], 16: 'U' });
      client.addInstance(3303, 0, { 5700: 21.5, 5701: 'Cel' });
      const ops: OperationEvent[] = [];
      const errors: Error[] = [];
      client.on('operation', (o) => ops.push(o));
      client.on('error', (e) => errors.push(e));
      return { client, endpoint, ops, errors };
    },
    rawBootstrap(code = Code.Changed) {
      const endpoint = new CoapEndpoint({
        transport: network.bind(BS, 5683),
        clock,
        random: seededRandom(4),
      });
      const raw: RawBootstrap = {
        endpoint,
        requests: [],
        code,
        send(options) {
          const { path, ...rest } = options;
          return endpoint.request({
            ...rest,
            peer: { address: DEVICE, port: 56830 },
            path: path.split('/').filter((p) => p !== ''),
          });
        },
      };
      endpoint.route('POST', '/bs', (req: CoapRequest) => {
        raw.requests.push({ at: clock.now(), query: req.query });
        return { code: raw.code };
      });
      return raw;
    },
  };
}
