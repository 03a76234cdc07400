/**
 * coaps:// throughput of the whole stack (issue 14, wiring): `coap serve`'s shape, a `CoapEndpoint` with a
 * route on `DtlsServerTransport` (@thimble/dtls under coap-core's message layer, matcher and router), against
 * libcoap's `coap-server-openssl`; both in their own process, both driven by the same load generator (our
 * DTLS client, PSK, TLS_PSK_WITH_AES_128_CCM_8, loopback). Full handshakes/s and CoAP GETs answered 2.05/s.
 * (`bench/dtls-throughput.ts` measures the bare `DtlsServer` with a hand-written responder instead.)
 *
 *   npm run bench:coaps [seconds per phase]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { CoapEndpoint, Code } from '../packages/coap-core/src/index.js';
import { DtlsServerTransport } from '../packages/coap-core/src/node.js';
import { utf8 } from '../packages/dtls/src/bytes.js';
import { connect } from '../packages/dtls/src/node.js';

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

/** A loaded machine loses handshakes now and then: three attempts. */
async function retrying<T>(f: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      if (attempt === 3) throw e;
    }
  }
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
      retrying(() =>
        connect({
          host: '127.0.0.1',
          port,
          psk: { identity: `req-${w}`, key: utf8(KEY) },
          timeoutMs: 10_000,
        }),
      ),
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
          c.onData((d) => {
            if (d[1] === 0x45) answered++; // 2.05 Content only
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
  const transport = await DtlsServerTransport.listen({
    address: '127.0.0.1',
    port,
    pskLookup: () => utf8(KEY),
  });
  const endpoint = new CoapEndpoint({ transport });
  const body = 'a'.repeat(32);
  endpoint.route('GET', '/', () => ({ code: Code.Content, payload: body }));
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
