import {
  CoapEndpoint,
  type CoapEndpointOptions,
  FakeClock,
  MemoryNetwork,
  type NetworkConditions,
  seededRandom,
} from '../../src/index.js';

// Fake time, shared by every package's tests (re-exported for the tests that import it from here).
export { drive } from '@thimble/test-support';

export interface Harness {
  clock: FakeClock;
  network: MemoryNetwork;
  server: CoapEndpoint;
  client: CoapEndpoint;
  serverUri: string;
}

/** A client and a server on an in-memory network driven by fake time. */
export function harness(
  conditions: NetworkConditions & { seed?: number } = {},
  options: Partial<Omit<CoapEndpointOptions, 'transport'>> = {},
): Harness {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ ...conditions, clock, seed: conditions.seed ?? 7 });
  const server = new CoapEndpoint({
    transport: network.bind('10.0.0.1', 5683),
    clock,
    random: seededRandom(1),
    ...options,
  });
  const client = new CoapEndpoint({
    transport: network.bind('10.0.0.2', 0),
    clock,
    random: seededRandom(2),
    ...options,
  });
  return { clock, network, server, client, serverUri: 'coap://10.0.0.1' };
}
