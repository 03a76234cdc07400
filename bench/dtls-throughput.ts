/**
 * DTLS handshakes/s and request/response round trips/s (issue 14): our `DtlsServer` (with a minimal CoAP
 * responder on top) against libcoap's `coap-server-openssl`, both driven by the same load generator (our
 * DTLS client, PSK, TLS_PSK_WITH_AES_128_CCM_8) over loopback. The ratio is what counts; the client's own
 * cost is in both numbers.
 *
 *   npm run bench:dtls [seconds per phase]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { utf8 } from '../packages/dtls/src/bytes.js';
import { connect, DtlsServer } from '../packages/dtls/src/node.js';

const SECONDS = process.argv[2] === '--serve' ? 0 : Number(process.argv[2] ?? 10);
const KEY = 'bench-psk-0123456';
const CONCURRENCY = 8;
/** Failed handshakes per measured server, in order (libcoap, thimble). */
const failures: number[] = [];
const WINDOW = 16;

async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const ok = await Promise.all(
      [port, port + 1].map(
        (p) =>
          new Promise<boolean>((resolve) => {
            const s = createSocket('udp4');
            s.once('error', () => resolve(false));
            s.bind(p, '127.0.0.1', () => s.close(() => resolve(true)));
          }),
      ),
    );
    if (ok.every(Boolean)) return port;
  }
}

/** CoAP CON GET / (RFC 7252 §3) with a message ID. */
function get(mid: number): Uint8Array {
  return Uint8Array.of(0x40, 0x01, mid >> 8, mid & 0xff);
}

/** Waits until the server completes a handshake (a server starting under load may take seconds). */
async function ready(port: number): Promise<void> {
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      const c = await connect({
        host: '127.0.0.1',
        port,
        psk: { identity: 'probe', key: utf8(KEY) },
        timeoutMs: 1000,
      });
      await c.close();
      return;
    } catch {
      // not up yet
    }
  }
  throw new Error(`no DTLS server on port ${port}`);
}

async function handshakes(port: number): Promise<number> {
  await ready(port);
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (Date.now() < end) {
        try {
          const c = await connect({
            host: '127.0.0.1',
            port,
            psk: { identity: `bench-${w}`, key: utf8(KEY) },
            timeoutMs: 5000,
          });
          done++;
          await c.close();
        } catch {
          failed++;
        }
      }
    }),
  );
  failures.push(failed);
  return done / SECONDS;
}

async function requests(port: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: 4 }, (_, w) =>
      connect({ host: '127.0.0.1', port, psk: { identity: `req-${w}`, key: utf8(KEY) }, timeoutMs: 5000 }),
    ),
  );
  const end = Date.now() + SECONDS * 1000;
  let answered = 0;
  await Promise.all(
    clients.map(
      (c, w) =>
        new Promise<void>((resolve) => {
          let mid = w * 10000;
          let inFlight = 0;
          const sendOne = () => {
            mid = (mid + 1) & 0xffff;
            inFlight++;
            c.send(get(mid));
          };
          c.onData(() => {
            answered++;
            inFlight--;
            if (Date.now() < end) sendOne();
            else if (inFlight === 0) resolve();
          });
          for (let i = 0; i < WINDOW; i++) sendOne();
          // lost datagrams would stall the window: refill it once a second
          const refill = setInterval(() => {
            if (Date.now() >= end) {
              clearInterval(refill);
              resolve();
              return;
            }
            while (inFlight < WINDOW) sendOne();
          }, 1000);
        }),
    ),
  );
  for (const c of clients) await c.close();
  return answered / SECONDS;
}

/** Our server, in a child process of its own (as libcoap's is): `--serve PORT`. */
async function serve(port: number): Promise<void> {
  const server = await DtlsServer.listen({ address: '127.0.0.1', port, pskLookup: () => utf8(KEY) });
  server.onData((d, peer) => {
    const tkl = d[0]! & 0x0f;
    const out = new Uint8Array(4 + tkl + 1 + 32).fill(0x61);
    out[0] = 0x60 | tkl;
    out[1] = 0x45;
    out[2] = d[2]!;
    out[3] = d[3]!;
    out.set(d.subarray(4, 4 + tkl), 4);
    out[4 + tkl] = 0xff;
    server.send(peer, out);
  });
  process.stdout.write('ready\n');
}

async function ours(): Promise<{ hs: number; rps: number }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  try {
    const hs = await handshakes(port);
    const rps = await requests(port);
    return { hs, rps };
  } finally {
    child.kill('SIGKILL');
  }
}

async function libcoap(): Promise<{ hs: number; rps: number }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'coap-server-openssl',
    ['-A', '127.0.0.1', '-p', String(port), '-k', KEY],
    { stdio: 'ignore' },
  );
  await new Promise((r) => setTimeout(r, 500));
  try {
    const hs = await handshakes(port + 1);
    const rps = await requests(port + 1);
    return { hs, rps };
  } finally {
    child.kill('SIGKILL');
  }
}

if (process.argv[2] === '--serve') {
  await serve(Number(process.argv[3]));
  await new Promise(() => {});
}

const theirs = await libcoap();
const mine = await ours();
console.log(
  JSON.stringify(
    {
      seconds: SECONDS,
      libcoap: { handshakesPerSecond: Math.round(theirs.hs), requestsPerSecond: Math.round(theirs.rps) },
      thimble: { handshakesPerSecond: Math.round(mine.hs), requestsPerSecond: Math.round(mine.rps) },
      failedHandshakes: { libcoap: failures[0], thimble: failures[1] },
      ratio: { handshakes: +(mine.hs / theirs.hs).toFixed(2), requests: +(mine.rps / theirs.rps).toFixed(2) },
    },
    null,
    2,
  ),
);
process.exit(0);
