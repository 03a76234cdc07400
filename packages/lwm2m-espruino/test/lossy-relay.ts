/**
 * A lossy UDP relay on loopback for the loss tests: the device sends to the relay, which forwards to the
 * server from one socket per device address and sends the answers back, dropping each datagram with
 * probability `loss` in each direction (seeded, so a run can be repeated).
 */
import { createSocket, type Socket } from 'node:dgram';

/** mulberry32: a small seeded generator, enough to pick which datagrams are lost. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LossyRelay {
  readonly port: number;
  readonly stats: { forwarded: number; dropped: number };
  close(): void;
}

export async function startLossyRelay(target: number, loss: number, seed: number): Promise<LossyRelay> {
  const random = seeded(seed);
  const front = createSocket('udp4');
  const backs = new Map<string, Socket>();
  const stats = { forwarded: 0, dropped: 0 };
  const pass = () => {
    if (random() < loss) {
      stats.dropped++;
      return false;
    }
    stats.forwarded++;
    return true;
  };
  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let back = backs.get(key);
    if (back === undefined) {
      const b = createSocket('udp4');
      b.on('message', (answer) => {
        if (pass()) front.send(answer, rinfo.port, rinfo.address);
      });
      b.bind(0, '127.0.0.1');
      backs.set(key, b);
      back = b;
    }
    if (pass()) back.send(msg, target, '127.0.0.1');
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  return {
    port: front.address().port,
    stats,
    close: () => {
      front.close();
      for (const b of backs.values()) b.close();
    },
  };
}
