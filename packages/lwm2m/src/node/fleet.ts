/// <reference types="node" />
/**
 * Fleet mode on UDP (Node adapter): one UDP socket per simulated device, because the LwM2M server sends
 * device-management requests to the address:port each registration came from. A socket is a file
 * descriptor: a fleet of N devices needs N descriptors plus a few (check `ulimit -n`,
 * `fileDescriptorLimit()`), and N ephemeral ports on its bind address (Linux hands out
 * /proc/sys/net/ipv4/ip_local_port_range, about 28,000 by default, per local address: use several
 * loopback addresses, 127.0.0.2, 127.0.0.3…, for larger fleets in several processes).
 */
import { readFileSync } from 'node:fs';
import { CoapEndpoint, type CoapEndpointOptions, cryptoRandom } from '@thimble/coap-core';
import { UdpTransport } from '@thimble/coap-core/node';
import { Fleet, type FleetOptions } from '../fleet/fleet.js';

export interface UdpFleetOptions extends Omit<FleetOptions, 'createEndpoint'> {
  /** Local address every device binds (default 127.0.0.1 for a loopback server, else 0.0.0.0). */
  readonly bindAddress?: string;
  /** Endpoint options for every device (transmission parameters, limits). */
  readonly endpointOptions?: Partial<Omit<CoapEndpointOptions, 'transport'>>;
}

/**
 * Endpoint limits for a device that talks to one server: its message layer keeps state for a handful of
 * peers and deduplication entries only (all of it is allocated lazily anyway).
 */
export const DEVICE_ENDPOINT_LIMITS = {
  maxPeers: 8,
  maxDedupEntries: 256,
  maxDedupPerPeer: 128,
  maxQueuedPerPeer: 32,
} as const;

function defaultBind(serverUri: string): string {
  const host = /^coaps?:\/\/(\[[^\]]+\]|[^:/]+)/.exec(serverUri)?.[1] ?? '';
  if (host === 'localhost' || host.startsWith('127.')) return '127.0.0.1';
  if (host === '[::1]') return '::1';
  return host.startsWith('[') ? '::' : '0.0.0.0';
}

/** A fleet whose devices each bind a UDP socket on `bindAddress` (ephemeral port). */
export function createUdpFleet(options: UdpFleetOptions): Fleet {
  const address = options.bindAddress ?? defaultBind(options.serverUri);
  const endpointOptions = options.endpointOptions ?? {};
  const random = options.random ?? cryptoRandom();
  return new Fleet({
    ...options,
    random,
    createEndpoint: async () => {
      const transport = await UdpTransport.bind({ address, port: 0 });
      return new CoapEndpoint({
        maxPendingRequests: 16,
        ...endpointOptions,
        limits: { ...DEVICE_ENDPOINT_LIMITS, ...endpointOptions.limits },
        transport,
        random,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      });
    },
  });
}

/** The soft limit on open files of this process (Linux `/proc/self/limits`), or undefined elsewhere. */
export function fileDescriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m === null) return undefined;
    return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return undefined;
  }
}
