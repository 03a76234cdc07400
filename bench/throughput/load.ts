/**
 * Neutral CoAP load generator for the server-throughput benchmark (a child process; not our client).
 *
 * Raw node:dgram sockets (connected to the server) send pre-encoded CON GET /hello requests, each with a unique message ID and
 * token, keep `inflight` requests outstanding per socket and match responses by token and message ID.
 * The token carries the in-flight slot (2 bytes) and the slot's generation (2 bytes), so matching needs
 * no map. Latencies go into a fixed 1 µs histogram. Everything is bounded: a total request budget, a
 * wall-clock limit, and a per-request timeout after which the slot sends a fresh request.
 *
 * Started by bench/server-throughput.ts with one JSON argument (LoadConfig); reports a LoadResult over IPC.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface LoadConfig {
  readonly port: number;
  /** Number of client sockets (source ports). */
  readonly sockets: number;
  /** Requests in flight per socket. */
  readonly inflight: number;
  /** Warm-up before measuring (ms). */
  readonly warmupMs: number;
  /** Measurement window (ms); 0 means: run until `totalRequests` responses, measuring all of them. */
  readonly durationMs: number;
  /** Stop sending after this many requests in total (0 = unbounded, then durationMs must be set). */
  readonly totalRequests: number;
  /** Hard wall-clock limit (ms). */
  readonly maxMs: number;
  /** A request unanswered for this long counts as lost and its slot sends a new one (ms). */
  readonly requestTimeoutMs: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly responses: number;
  readonly measuredResponses: number;
  readonly measuredMs: number;
  readonly requestsPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly timeouts: number;
  readonly unexpected: number;
  readonly sendErrors: number;
}

const PATH = 'hello';
const HIST_SIZE = 1_000_000; // 1 µs buckets up to 1 s; slower answers land in the last bucket

interface Client {
  readonly socket: Socket;
  nextMessageId: number;
  /** Per slot: generation (token bytes 2-3), message ID sent, send time (ns), busy flag. */
  readonly generation: Uint16Array;
  readonly messageId: Int32Array;
  readonly sentAt: Float64Array;
  readonly busy: Uint8Array;
  /** One request buffer per slot: reused only after that slot's previous request was answered. */
  readonly buffers: Buffer[];
}

function run(config: LoadConfig): Promise<LoadResult> {
  const hist = new Uint32Array(HIST_SIZE);
  const clients: Client[] = [];
  let requests = 0;
  let responses = 0;
  let measuredResponses = 0;
  let timeouts = 0;
  let unexpected = 0;
  let sendErrors = 0;
  let measuring = config.durationMs === 0 && config.warmupMs === 0;
  let stopping = false;
  let measureStart = measuring ? process.hrtime.bigint() : 0n;
  let measureEnd = 0n;
  let maxNs = 0;
  const limit = config.totalRequests > 0 ? config.totalRequests : Number.POSITIVE_INFINITY;

  const template = Buffer.from([0x44, 0x01, 0, 0, 0, 0, 0, 0, 0xb0 | PATH.length, ...Buffer.from(PATH)]);

  function send(c: Client, slot: number): void {
    if (stopping || requests >= limit) {
      c.busy[slot] = 0;
      return;
    }
    requests++;
    const b = c.buffers[slot]!;
    const mid = c.nextMessageId;
    c.nextMessageId = (mid + 1) & 0xffff;
    const gen = (c.generation[slot]! + 1) & 0xffff;
    c.generation[slot] = gen;
    c.messageId[slot] = mid;
    b[2] = mid >>> 8;
    b[3] = mid & 0xff;
    b[4] = slot >>> 8;
    b[5] = slot & 0xff;
    b[6] = gen >>> 8;
    b[7] = gen & 0xff;
    c.busy[slot] = 1;
    c.sentAt[slot] = Number(process.hrtime.bigint());
    c.socket.send(b);
  }

  return new Promise<LoadResult>((resolve) => {
    let bound = 0;
    const startAll = () => {
      for (const c of clients) for (let s = 0; s < config.inflight; s++) send(c, s);
    };
    for (let i = 0; i < config.sockets; i++) {
      const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
      const c: Client = {
        socket,
        nextMessageId: (i * 7919) & 0xffff,
        generation: new Uint16Array(config.inflight),
        messageId: new Int32Array(config.inflight),
        sentAt: new Float64Array(config.inflight),
        busy: new Uint8Array(config.inflight),
        buffers: Array.from({ length: config.inflight }, () => Buffer.from(template)),
      };
      clients.push(c);
      socket.on('error', () => {
        sendErrors++;
      });
      socket.on('message', (msg: Buffer) => {
        const now = Number(process.hrtime.bigint());
        // Expect a 2.05 response with our 4-byte token: piggybacked ACK, or CON/NON (separate response).
        if (msg.length < 8 || (msg[0]! & 0x0f) !== 4 || msg[1] !== 0x45) {
          unexpected++;
          return;
        }
        const type = (msg[0]! >>> 4) & 3;
        const slot = (msg[4]! << 8) | msg[5]!;
        const gen = (msg[6]! << 8) | msg[7]!;
        const mid = (msg[2]! << 8) | msg[3]!;
        if (type === 0) {
          // separate CON response: acknowledge it (RFC 7252 §5.2.2)
          socket.send(Buffer.from([0x60, 0, msg[2]!, msg[3]!]));
        }
        if (
          slot >= config.inflight ||
          c.busy[slot] !== 1 ||
          c.generation[slot] !== gen ||
          (type === 2 && c.messageId[slot] !== mid)
        ) {
          unexpected++;
          return;
        }
        responses++;
        if (measuring) {
          const ns = now - c.sentAt[slot]!;
          if (ns > maxNs) maxNs = ns;
          const us = Math.floor(ns / 1000);
          hist[us < HIST_SIZE ? us : HIST_SIZE - 1]!++;
          measuredResponses++;
        }
        send(c, slot);
        if (config.durationMs === 0 && responses >= limit) finish();
      });
      // A connected socket sends without a per-datagram address lookup, so the generator stays ahead of
      // the servers; it also only receives from the server under test.
      socket.bind(0, '127.0.0.1', () => {
        socket.connect(config.port, '127.0.0.1', () => {
          if (++bound === config.sockets) startAll();
        });
      });
    }

    const timers: NodeJS.Timeout[] = [];
    if (config.durationMs > 0) {
      timers.push(
        setTimeout(() => {
          measuring = true;
          measureStart = process.hrtime.bigint();
        }, config.warmupMs),
      );
      timers.push(setTimeout(finish, config.warmupMs + config.durationMs));
    }
    timers.push(setTimeout(finish, config.maxMs));
    // Lost requests: give the slot a new request so the load keeps its shape.
    const sweep = setInterval(() => {
      const deadline = Number(process.hrtime.bigint()) - config.requestTimeoutMs * 1e6;
      for (const c of clients) {
        for (let s = 0; s < config.inflight; s++) {
          if (c.busy[s] === 1 && c.sentAt[s]! < deadline) {
            timeouts++;
            send(c, s);
          }
        }
      }
      if (requests >= limit && responses + timeouts >= limit) finish();
    }, 100);

    let finished = false;
    function finish(): void {
      if (finished) return;
      finished = true;
      stopping = true;
      measureEnd = process.hrtime.bigint();
      if (!measuring) measureStart = measureEnd;
      for (const t of timers) clearTimeout(t);
      clearInterval(sweep);
      for (const c of clients) c.socket.close();
      const measuredMs = Number(measureEnd - measureStart) / 1e6;
      const pct = (p: number): number => {
        const target = Math.ceil(measuredResponses * p);
        let acc = 0;
        for (let i = 0; i < HIST_SIZE; i++) {
          acc += hist[i]!;
          if (acc >= target && target > 0) return i;
        }
        return Number.NaN;
      };
      resolve({
        requests,
        responses,
        measuredResponses,
        measuredMs,
        requestsPerSecond: measuredMs > 0 ? (measuredResponses * 1000) / measuredMs : 0,
        p50Us: pct(0.5),
        p99Us: pct(0.99),
        maxUs: maxNs / 1000,
        timeouts,
        unexpected,
        sendErrors,
      });
    }
  });
}

const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
run(config).then((result) => {
  if (process.send) process.send({ kind: 'result', result }, () => process.exit(0));
  else {
    console.log(JSON.stringify(result));
    process.exit(0);
  }
});
