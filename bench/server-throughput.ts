/**
 * Server throughput on UDP loopback (issue 3): the same GET /hello resource served by
 *   (a) Thimble's endpoint, (b) node-coap's server, (c) a bare node:dgram echo of a fixed response,
 * each in its own child process, driven in the same run by the same neutral load generator
 * (bench/throughput/load.ts, raw dgram sockets, another child process). Reports requests/s, p50/p99
 * latency and the server's peak RSS (VmHWM), then the memory mode: one million requests from 1,000
 * client ports to Thimble's server and its RSS at the end.
 *
 *   npm run bench:server -- [--duration 5] [--warmup 1] [--rounds 3] [--clients 16] [--inflight 8]
 *                           [--servers thimble,node-coap,echo] [--memory-requests 1000000]
 *                           [--memory-ports 1000] [--memory-inflight 4] [--no-memory] [--pin]
 *
 * --pin runs the server on CPU 0 and the load generator on CPU 1 (taskset), if available.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadConfig, LoadResult } from './throughput/load.js';

type ServerKind = 'thimble' | 'node-coap' | 'echo';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
// The children run as plain JavaScript: under tsx, Node 20 runs the module loader hooks on an extra
// thread with its own V8 isolate, which adds ~35 MB to every process's RSS. tsup (a devDependency)
// bundles them once per run; the output sits in node_modules/.cache so `coap` resolves from there.
const OUT = here('../node_modules/.cache/thimble-bench');
const SERVER = `${OUT}/server.js`;
const LOAD = `${OUT}/load.js`;

function build(): void {
  execFileSync(
    here('../node_modules/.bin/tsup'),
    [
      here('./throughput/server.ts'),
      here('./throughput/load.ts'),
      '--format',
      'esm',
      '--target',
      'node20',
      '--out-dir',
      OUT,
      '--no-config',
      '--silent',
      '--external',
      'coap',
      '--no-splitting',
      '--sourcemap',
    ],
    { stdio: 'inherit', cwd: here('..') },
  );
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
function sflag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const has = (name: string) => process.argv.includes(`--${name}`);

const durationMs = flag('duration', 5) * 1000;
const warmupMs = flag('warmup', 1) * 1000;
const clients = flag('clients', 16);
const inflight = flag('inflight', 8);
const servers = sflag('servers', 'thimble,node-coap,echo').split(',') as ServerKind[];
const memoryRequests = flag('memory-requests', 1_000_000);
const memoryPorts = flag('memory-ports', 1000);
const memoryInflight = flag('memory-inflight', 4);
const pin = has('pin');
const rounds = flag('rounds', 3);

const children = new Set<ChildProcess>();
function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

function spawnChild(file: string, args: string[], cpu: number): ChildProcess {
  const child = pin
    ? fork(file, args, { execPath: 'taskset', execArgv: ['-c', String(cpu), process.execPath] })
    : fork(file, args, { execArgv: [] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function nextMessage<T>(child: ChildProcess, kind: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no '${kind}' message within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: { kind: string }) => {
      if (m.kind !== kind) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
  });
}

/** VmHWM (peak RSS) and VmRSS of a process in MB, from /proc (Linux). */
function procMemory(pid: number): { peakMb: number; rssMb: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
    return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
  } catch {
    return { peakMb: Number.NaN, rssMb: Number.NaN };
  }
}

interface Measurement {
  readonly server: ServerKind;
  readonly load: LoadResult;
  readonly peakRssMb: number;
  readonly endRssMb: number;
  readonly heapUsedMb: number;
  readonly memory: NodeJS.MemoryUsage;
}

async function measure(server: ServerKind, config: Omit<LoadConfig, 'port'>): Promise<Measurement> {
  const srv = spawnChild(SERVER, [server], 0);
  try {
    const ready = await nextMessage<{ port: number }>(srv, 'ready', 30_000);
    const load = spawnChild(LOAD, [JSON.stringify({ ...config, port: ready.port })], 1);
    const { result } = await nextMessage<{ result: LoadResult }>(load, 'result', config.maxMs + 30_000);
    const mem = procMemory(srv.pid!);
    const stopped = nextMessage<{ memory: NodeJS.MemoryUsage }>(srv, 'stopped', 10_000);
    srv.send({ kind: 'stop' });
    const { memory } = await stopped;
    return {
      server,
      load: result,
      peakRssMb: mem.peakMb,
      endRssMb: mem.rssMb,
      heapUsedMb: memory.heapUsed / 2 ** 20,
      memory,
    };
  } finally {
    if (srv.exitCode === null) srv.kill('SIGKILL');
  }
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'n/a';
const ms = (us: number) => (Number.isFinite(us) ? `${(us / 1000).toFixed(2)} ms` : 'n/a');

async function main(): Promise<void> {
  build();
  console.log(
    `Server throughput, UDP loopback: ${clients} client sockets × ${inflight} in flight, ` +
      `${warmupMs / 1000} s warm-up + ${durationMs / 1000} s measured per server, ${rounds} rounds${pin ? ', pinned (server CPU 0, load CPU 1)' : ''}.`,
  );
  // The machine is shared and noisy: run several rounds, rotating the order, and report per server the
  // round with the median requests/s (its latencies with it) and the highest peak RSS of all rounds.
  const all = new Map<ServerKind, Measurement[]>();
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(i + round) % servers.length]!;
      const m = await measure(server, {
        sockets: clients,
        inflight,
        warmupMs,
        durationMs,
        totalRequests: 0,
        maxMs: warmupMs + durationMs + 10_000,
        requestTimeoutMs: 1000,
      });
      all.set(server, [...(all.get(server) ?? []), m]);
      const l = m.load;
      console.log(
        `  round ${round + 1} ${server}: ${fmt(l.requestsPerSecond)} req/s, p50 ${ms(l.p50Us)}, p99 ${ms(l.p99Us)}, ` +
          `peak RSS ${fmt(m.peakRssMb, 1)} MB (timeouts ${l.timeouts}, unexpected ${l.unexpected})`,
      );
    }
  }
  const results = new Map<ServerKind, Measurement>();
  for (const server of servers) {
    const list = [...all.get(server)!].sort((a, b) => a.load.requestsPerSecond - b.load.requestsPerSecond);
    const median = list[Math.floor(list.length / 2)]!;
    results.set(server, { ...median, peakRssMb: Math.max(...list.map((m) => m.peakRssMb)) });
  }

  const names: Record<ServerKind, string> = {
    thimble: 'Thimble (`createUdpEndpoint`)',
    'node-coap': 'node-coap 1.5.0 (`coap.createServer`)',
    echo: 'bare `node:dgram` echo (fixed response)',
  };
  const thimble = results.get('thimble');
  console.log('');
  console.log('| server | requests/s | p50 | p99 | peak RSS | lost (timeouts) | Thimble ÷ this |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [server, m] of results) {
    const ratio =
      thimble && server !== 'thimble'
        ? `${(thimble.load.requestsPerSecond / m.load.requestsPerSecond).toFixed(2)}×`
        : '';
    console.log(
      `| ${names[server]} | ${fmt(m.load.requestsPerSecond)} | ${ms(m.load.p50Us)} | ${ms(m.load.p99Us)} | ` +
        `${fmt(m.peakRssMb, 1)} MB | ${m.load.timeouts} | ${ratio} |`,
    );
  }
  const coap = results.get('node-coap');
  const echo = results.get('echo');
  if (thimble && coap && echo) {
    const vsCoap = thimble.load.requestsPerSecond / coap.load.requestsPerSecond;
    const vsEcho = thimble.load.requestsPerSecond / echo.load.requestsPerSecond;
    console.log('');
    console.log(
      `Thimble / node-coap = ${vsCoap.toFixed(2)}× (target ≥ 4×: ${vsCoap >= 4 ? 'met' : 'MISSED'}); ` +
        `Thimble / echo = ${(vsEcho * 100).toFixed(0)}% (target ≥ 80%: ${vsEcho >= 0.8 ? 'met' : 'MISSED'})`,
    );
  }

  if (!has('no-memory')) {
    console.log('');
    console.log(
      `Memory: ${fmt(memoryRequests)} requests from ${fmt(memoryPorts)} client ports × ${memoryInflight} in flight to Thimble's server...`,
    );
    const m = await measure('thimble', {
      sockets: memoryPorts,
      inflight: memoryInflight,
      warmupMs: 0,
      durationMs: 0,
      totalRequests: memoryRequests,
      maxMs: 300_000,
      requestTimeoutMs: 2000,
    });
    const l = m.load;
    console.log(
      `  ${fmt(l.responses)} responses in ${(l.measuredMs / 1000).toFixed(1)} s (${fmt(l.requestsPerSecond)} req/s, ` +
        `p50 ${ms(l.p50Us)}, p99 ${ms(l.p99Us)}, timeouts ${l.timeouts}): RSS at the end ${fmt(m.endRssMb, 1)} MB, ` +
        `peak ${fmt(m.peakRssMb, 1)} MB, heap used ${fmt(m.heapUsedMb, 1)} MB ` +
        `(target < 150 MB: ${m.endRssMb < 150 && m.peakRssMb < 150 ? 'met' : 'MISSED'})`,
    );
    const mb = (n: number) => `${fmt(n / 2 ** 20, 1)} MB`;
    console.log(
      `  process.memoryUsage() at the end: heapTotal ${mb(m.memory.heapTotal)}, external ${mb(m.memory.external)}, ` +
        `arrayBuffers ${mb(m.memory.arrayBuffers)}`,
    );
  }
}

main().then(
  () => {
    killAll();
  },
  (e) => {
    console.error(e);
    killAll();
    process.exitCode = 1;
  },
);
