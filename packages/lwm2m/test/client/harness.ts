/**
 * A tiny fake LwM2M server on an in-memory network with fake time: it accepts Register / Update /
 * De-register under `/rd` and Send under `/dp`, records them, and talks to the client's endpoint.
 */
import {
  CoapEndpoint,
  type CoapEndpointOptions,
  type CoapRequest,
  type CoapResponse,
  Code,
  FakeClock,
  MemoryNetwork,
  type RequestOptions,
  type ResponseInit,
  seededRandom,
  utf8Decode,
} from '@thimble/coap-core';
import { Lwm2mClient, type Lwm2mClientOptions } from '@thimble/lwm2m';

// Fake time, shared by every package's tests (re-exported for the tests that import it from here).
export { drive, until } from '@thimble/test-support';

export const SERVER = '10.0.0.1';
export const CLIENT = '10.0.0.2';
export const CLIENT_PORT = 56830;

export interface Recorded {
  readonly method: number;
  readonly path: string;
  readonly query: readonly string[];
  readonly payload: string;
  readonly bytes: Uint8Array;
  readonly contentFormat: number | undefined;
  readonly at: number;
}

export class FakeServer {
  readonly requests: Recorded[] = [];
  endpoint: CoapEndpoint | undefined;
  private next = 1;
  /** Answer Updates with this code (2.04 by default). */
  updateCode: number = Code.Changed;
  /** Answers a Register instead of accepting it, when it returns a response (version fallback tests). */
  registerHook: ((req: CoapRequest) => ResponseInit | undefined) | undefined;

  constructor(
    readonly network: MemoryNetwork,
    readonly clock: FakeClock,
    readonly address = SERVER,
    readonly options: Omit<CoapEndpointOptions, 'transport'> = {},
  ) {}

  /** Binds the server (it is "down" until then: datagrams to it are lost). */
  up(): this {
    const ep = new CoapEndpoint({
      transport: this.network.bind(this.address, 5683),
      clock: this.clock,
      random: seededRandom(1),
      ...this.options,
    });
    const record = (req: CoapRequest) =>
      this.requests.push({
        method: req.method,
        path: `/${req.path.join('/')}`,
        query: req.query,
        payload: utf8Decode(req.payload),
        bytes: req.payload.slice(),
        contentFormat: req.contentFormat,
        at: this.clock.now(),
      });
    ep.route('POST', '/rd', (req) => {
      record(req);
      const hooked = this.registerHook?.(req);
      if (hooked !== undefined) return hooked;
      const id = `r${this.next++}`;
      return {
        code: Code.Created,
        options: [
          { number: 8, value: 'rd' },
          { number: 8, value: id },
        ],
      };
    });
    ep.route(['POST', 'DELETE'], '/rd/:id', (req) => {
      record(req);
      if (req.method === Code.DELETE) return { code: Code.Deleted };
      return { code: this.updateCode };
    });
    ep.route('POST', '/dp', (req) => {
      record(req);
      return { code: Code.Changed };
    });
    this.endpoint = ep;
    return this;
  }

  registers(): Recorded[] {
    return this.requests.filter((r) => r.method === Code.POST && r.path === '/rd');
  }
  updates(): Recorded[] {
    return this.requests.filter((r) => r.method === Code.POST && r.path.startsWith('/rd/'));
  }
  deletes(): Recorded[] {
    return this.requests.filter((r) => r.method === Code.DELETE);
  }

  /** Takes the server down (datagrams to it are lost from now on). */
  async down(): Promise<void> {
    await this.endpoint?.close();
    this.endpoint = undefined;
  }

  /** A request to the client (device management). */
  send(
    options: Omit<RequestOptions, 'uri' | 'path'> & { path: string | readonly string[] },
  ): Promise<CoapResponse> {
    const { path, ...rest } = options;
    // Uri-Path and Uri-Query options as given (no URI parsing), so tests can send odd ones
    const segments = typeof path === 'string' ? path.split('/').filter((p) => p !== '') : path;
    return this.endpoint!.request({ ...rest, peer: { address: CLIENT, port: CLIENT_PORT }, path: segments });
  }
}

export interface Setup {
  clock: FakeClock;
  network: MemoryNetwork;
  server: FakeServer;
  client: Lwm2mClient;
  clientEndpoint: CoapEndpoint;
}

/** A client (Device and a temperature sensor) and a fake server, not started. */
export function setup(options: Partial<Lwm2mClientOptions> = {}, serverUp = true): Setup {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 3 });
  const server = new FakeServer(network, clock);
  if (serverUp) server.up();
  const clientEndpoint = new CoapEndpoint({
    transport: network.bind(CLIENT, CLIENT_PORT),
    clock,
    random: seededRandom(2),
  });
  const client = new Lwm2mClient({
    endpointName: 'dev1',
    endpoint: clientEndpoint,
    serverUri: `coap://${SERVER}:5683`,
    lifetime: 300,
    clock,
    random: seededRandom(9),
    ...options,
  });
  client.addInstance(1, 0, { 0: 1, 1: options.lifetime ?? 300, 6: false, 7: 'U' });
  client.addInstance(3, 0, {
    0: 'Thimble',
    1: 'Model T',
    2: 'SN-1',
    3: '1.0.0',
    11: [0],
    13: 1_700_000_000,
    16: 'U',
  });
  client.addInstance(3303, 0, { 5700: 21.5, 5701: 'Cel' });
  return { clock, network, server, client, clientEndpoint };
}
