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

/** A one-line summary of a CoAP datagram (RFC 7252 §3 header, Block1/Block2 options) for the relay log. */
export function describeCoap(d: Uint8Array): string {
  if (d.length < 4) return `short ${d.length}`;
  const t = ['CON', 'NON', 'ACK', 'RST'][(d[0]! >> 4) & 3];
  const code = `${d[1]! >> 5}.${String(d[1]! & 31).padStart(2, '0')}`;
  const mid = (d[2]! << 8) | d[3]!;
  let i = 4 + (d[0]! & 15);
  let n = 0;
  const blocks: string[] = [];
  while (i < d.length && d[i] !== 255) {
    let delta = d[i]! >> 4;
    let len = d[i]! & 15;
    i++;
    if (delta === 13) delta = d[i++]! + 13;
    else if (delta === 14) {
      delta = ((d[i]! << 8) | d[i + 1]!) + 269;
      i += 2;
    }
    if (len === 13) len = d[i++]! + 13;
    else if (len === 14) {
      len = ((d[i]! << 8) | d[i + 1]!) + 269;
      i += 2;
    }
    n += delta;
    if (n === 27 || n === 23) {
      let v = 0;
      for (let j = 0; j < len; j++) v = v * 256 + d[i + j]!;
      blocks.push(`${n === 27 ? 'B1' : 'B2'}:${v >> 4}${v & 8 ? '+' : ''}`);
    }
    i += len;
  }
  return `${t} ${code} mid=${mid} ${blocks.join(' ')} ${d.length}B`;
}

export async function startLossyRelay(
  target: number,
  loss: number,
  seed: number,
  log?: (line: string) => void,
): Promise<LossyRelay> {
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
        const ok = pass();
        log?.(`${ok ? '<-' : '<x'} ${describeCoap(answer)}`);
        if (ok) front.send(answer, rinfo.port, rinfo.address);
      });
      b.bind(0, '127.0.0.1');
      backs.set(key, b);
      back = b;
    }
    const ok = pass();
    log?.(`${ok ? '->' : 'x>'} ${describeCoap(msg)}`);
    if (ok) back.send(msg, target, '127.0.0.1');
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
