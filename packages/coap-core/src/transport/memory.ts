/**
 * An in-memory datagram network for tests and simulations: many endpoints in one process, with seeded
 * loss, duplication, reordering, delay and an MTU, driven by an injected clock so runs replay exactly.
 */
import { type Clock, systemClock } from '../clock.js';
import { CoapTransportError } from '../errors.js';
import { type Random, randomFloat, seededRandom } from '../random.js';
import {
  type DatagramHandler,
  type DatagramInfo,
  isMulticastAddress,
  type Peer,
  peerKey,
  type Transport,
  type TransportErrorHandler,
} from './types.js';

const MULTICAST: DatagramInfo = { multicast: true };

export interface NetworkConditions {
  /** Probability that a datagram is lost, 0–1. */
  readonly loss?: number;
  /** Probability that a datagram is delivered twice. */
  readonly duplication?: number;
  /** Probability that a datagram is held back by an extra `reorderDelay` so later ones overtake it. */
  readonly reorder?: number;
  /** Base one-way delay in ms. */
  readonly delay?: number;
  /** Random extra delay in ms, uniform in [0, jitter). */
  readonly jitter?: number;
  /** Extra delay for reordered datagrams, ms. */
  readonly reorderDelay?: number;
  /** Datagrams larger than this are dropped, like an IP fragment lost. */
  readonly mtu?: number;
}

export interface MemoryNetworkOptions extends NetworkConditions {
  /** Seed for the network's random decisions. */
  readonly seed?: number;
  readonly clock?: Clock;
  readonly random?: Random;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  tooBig: number;
}

export class MemoryNetwork {
  private readonly endpoints = new Map<string, MemoryTransport>();
  private readonly groups = new Map<string, Set<MemoryTransport>>();
  private readonly clock: Clock;
  private readonly random: Random;
  private nextPort = 40000;
  conditions: NetworkConditions;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, tooBig: 0 };

  constructor(options: MemoryNetworkOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? seededRandom(options.seed ?? 1);
    this.conditions = options;
  }

  /**
   * Attaches a transport at `address:port` (port 0 picks a free one). With `identity`, its datagrams arrive
   * from a peer carrying that `Peer.identity`, as a secure transport (DTLS with a PSK identity) names an
   * authenticated peer: tests of identity checks run on the in-memory network.
   */
  bind(address = '10.0.0.1', port = 0, options: { readonly identity?: string } = {}): MemoryTransport {
    let p = port;
    if (p === 0) {
      do p = this.nextPort++;
      while (this.endpoints.has(peerKey({ address, port: p })));
    }
    const key = peerKey({ address, port: p });
    if (this.endpoints.has(key)) throw new CoapTransportError('address', `address ${address}:${p} is in use`);
    const t = new MemoryTransport(
      this,
      options.identity === undefined
        ? { address, port: p }
        : { address, port: p, identity: options.identity },
    );
    this.endpoints.set(key, t);
    return t;
  }

  /** @internal */
  detach(t: MemoryTransport): void {
    this.endpoints.delete(peerKey(t.local));
    for (const members of this.groups.values()) members.delete(t);
  }

  /** Makes `t` receive datagrams sent to `group` on its port (RFC 7252 §8). */
  joinGroup(t: MemoryTransport, group: string): void {
    if (!isMulticastAddress(group))
      throw new CoapTransportError('address', `${group} is not a multicast address`);
    const key = peerKey({ address: group, port: t.local.port });
    let members = this.groups.get(key);
    if (members === undefined) {
      members = new Set();
      this.groups.set(key, members);
    }
    members.add(t);
  }

  /** @internal */
  transmit(from: Peer, to: Peer, data: Uint8Array): void {
    const c = this.conditions;
    this.stats.sent++;
    if (c.mtu !== undefined && data.length > c.mtu) {
      this.stats.tooBig++;
      return;
    }
    if (c.loss && randomFloat(this.random) < c.loss) {
      this.stats.lost++;
      return;
    }
    // The sender may reuse its buffer: the network owns a copy, as a real NIC would.
    const copy = data.slice();
    let copies = 1;
    if (c.duplication && randomFloat(this.random) < c.duplication) {
      copies = 2;
      this.stats.duplicated++;
    }
    for (let i = 0; i < copies; i++) {
      let delay = (c.delay ?? 0) + (c.jitter ? randomFloat(this.random) * c.jitter : 0);
      if (c.reorder && randomFloat(this.random) < c.reorder) {
        delay += c.reorderDelay ?? 20;
        this.stats.reordered++;
      }
      const deliver = () => {
        const members = this.groups.get(peerKey(to));
        if (members !== undefined) {
          for (const m of members) {
            this.stats.delivered++;
            m.deliver(copy, from, MULTICAST);
          }
          return;
        }
        const target = this.endpoints.get(peerKey(to));
        if (target === undefined) return; // nobody listening: like UDP, silently gone
        this.stats.delivered++;
        target.deliver(copy, from, undefined);
      };
      if (delay <= 0) queueMicrotask(deliver);
      else this.clock.setTimeout(deliver, delay);
    }
  }
}

export class MemoryTransport implements Transport {
  readonly scheme = 'coap';
  readonly maxDatagramSize = 1152;
  private handler: DatagramHandler = () => {};
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    readonly local: Peer,
  ) {}

  send(data: Uint8Array, peer: Peer): void {
    if (!this.closed) this.network.transmit(this.local, peer, data);
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  onError(_handler: TransportErrorHandler): void {}

  /** @internal */
  deliver(data: Uint8Array, from: Peer, info: DatagramInfo | undefined): void {
    if (!this.closed) this.handler(data, from, info);
  }

  /** Joins a multicast group on this transport's port. */
  joinGroup(group: string): void {
    this.network.joinGroup(this, group);
  }

  async resolve(host: string, port: number): Promise<Peer> {
    return { address: host, port };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.network.detach(this);
  }
}
