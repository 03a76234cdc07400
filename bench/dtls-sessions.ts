/**
 * Memory per established DTLS session (issue 14): N (default 10,000) PSK sessions to one in-process
 * `ServerEngine` (in-memory datagrams, real crypto), then the server's heap growth per session after GC.
 * The clients' side is measured separately (their connections are kept, then dropped).
 *
 *   npm run bench:dtls-memory [sessions]
 */
import { utf8 } from '../packages/dtls/src/bytes.js';
import { systemClock } from '../packages/dtls/src/clock.js';
import { Connection } from '../packages/dtls/src/connection.js';
import { nodeCrypto } from '../packages/dtls/src/node/crypto.js';
import { ServerEngine } from '../packages/dtls/src/server.js';

const N = Number(process.argv[2] ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const key = utf8('bench-psk-0123456');
const queue: { to: 'server' | 'client'; index: number; data: Uint8Array }[] = [];
const clients: Connection[] = [];
const addressOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const indexOf = new Map<string, number>();

const engine = new ServerEngine(
  {
    crypto: nodeCrypto,
    clock: systemClock,
    pskLookup: (id) => (id.startsWith('dev-') ? key : undefined),
    maxSessions: N + 10,
    maxHandshakes: N + 10,
    maxResumableSessions: 0,
  },
  {
    send: (data, address) => {
      const index = indexOf.get(address)!;
      queue.push({ to: 'client', index, data });
    },
  },
);

function pump(): void {
  for (;;) {
    const d = queue.shift();
    if (d === undefined) return;
    if (d.to === 'server') engine.receive(d.data, addressOf(d.index), 40000);
    else clients[d.index]!.receive(d.data);
  }
}

const before = heap();
const started = Date.now();
for (let i = 0; i < N; i++) {
  indexOf.set(addressOf(i), i);
  clients.push(
    Connection.client(
      { crypto: nodeCrypto, clock: systemClock, psk: { identity: `dev-${i}`, key } },
      { send: (data) => queue.push({ to: 'server', index: i, data }) },
    ),
  );
  pump();
}
const handshakeMs = Date.now() - started;
const connected = clients.filter((c) => c.connected).length;
const withClients = heap();
clients.length = 0; // drop the client side: what stays is the server's state
const serverOnly = heap();
const stats = engine.stats;
const perSessionServer = (serverOnly - before) / stats.sessions;
const perSessionClient = (withClients - serverOnly) / connected;
console.log(
  JSON.stringify(
    {
      sessions: stats.sessions,
      clientsConnected: connected,
      handshakeMs,
      handshakesPerSecondInProcess: Math.round((N / handshakeMs) * 1000),
      serverBytesPerSession: Math.round(perSessionServer),
      clientBytesPerSession: Math.round(perSessionClient),
      heapUsedMiB: Math.round(serverOnly / 1048576),
    },
    null,
    2,
  ),
);
engine.close();
