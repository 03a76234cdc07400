/**
 * Registration benchmark (issue 8): the same load — a fleet of simulated LwM2M devices (fleet mode, one
 * UDP socket per device, in its own process) — registers with
 *   (a) our `Lwm2mServer` (bench/registration/server.ts, its own Node process, UDP on loopback), and
 *   (b) Eclipse Leshan's server demo 2.0.0-M4 (.interop/leshan/, a JVM),
 * one after the other in the same run. Reports registrations per second (first Register sent → every
 * device registered, measured by the fleet) and memory per registered device (server RSS after minus
 * before, divided by N, after a full GC on both sides; for Leshan also the JVM heap used after GC).
 * Then, with --hold N, our server holds N registered devices (the load: N / --per-fleet fleet processes,
 * each on its own loopback address) and its RSS and heap per device are measured.
 *
 *   npm run bench:registration -- [--count 1000] [--rounds 3] [--warmup 1000] [--servers thimble,leshan] [--in-flight 200]
 *                                 [--rate 0] [--xmx 1g] [--fleets 1] [--hold 0] [--per-fleet 10000] [--pin]
 *
 * The machine may be shared and noisy: each round measures every server once (rotating the order) and the
 * table gives the best and the median round's rate, and the median of the other figures. Server CPU time per
 * registration (all threads, from /proc) does not depend on how much of the machine the server got.
 *
 * --fleets splits the load over that many fleet processes, prepared first and started together (one Node
 * process is one thread; on this 2-core machine two gave no more registrations/s: each then spent ~135 µs
 * of CPU per registration instead of ~95–120).
 * --rate 0 (default) starts registrations as fast as --in-flight allows (a closed loop: the server's speed
 * sets the rate). --pin runs the server on CPU 0 and the fleet on CPU 1 (taskset).
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { findLeshanJar, LESHAN_DIR, leshanServerDemoArgs } from '@thimble/test-support/leshan';
import type { FleetConfig } from './registration/fleet.js';
import { procCpuMs, procMemory } from './registration/proc.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
// Children run as plain JavaScript bundled by tsup: under tsx every process would carry the module-loader
// thread's extra V8 isolate (~35 MB RSS), which would blur per-device figures.
const OUT = here('../node_modules/.cache/thimble-bench-registration');
const SERVER = `${OUT}/server.js`;
const FLEET = `${OUT}/fleet.js`;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
function sflag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const count = flag('count', 1000);
const servers = sflag('servers', 'thimble,leshan').split(',');
const inFlight = flag('in-flight', 200);
const rate = flag('rate', 0);
const xmx = sflag('xmx', '1g');
const hold = flag('hold', 0);
const perFleet = flag('per-fleet', 10_000);
const pin = process.argv.includes('--pin');
const rounds = flag('rounds', 3);
const warmup = flag('warmup', 1000);
const semiSpace = flag('fleet-semi-space', 64);
const fleets = flag('fleets', 1);

const children = new Set<ChildProcess>();
function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function build(): void {
  execFileSync(
    here('../node_modules/.bin/tsup'),
    [
      here('./registration/server.ts'),
      here('./registration/fleet.ts'),
      '--format',
      'esm',
      '--target',
      'node20',
      '--out-dir',
      OUT,
      '--no-config',
      '--silent',
      '--no-splitting',
      '--sourcemap',
    ],
    { stdio: 'inherit', cwd: here('..') },
  );
}

function forkNode(file: string, args: string[], cpu: number, execArgv: string[] = []): ChildProcess {
  return track(
    pin
      ? fork(file, args, {
          execPath: 'taskset',
          execArgv: ['-c', String(cpu), process.execPath, ...execArgv],
        })
      : fork(file, args, { execArgv }),
  );
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface FleetStats {
  readonly count: number;
  readonly registered: number;
  readonly everRegistered: number;
  readonly failed: number;
  readonly errors: number;
  readonly firstStartAt: number | undefined;
  readonly allRegisteredAt: number | undefined;
}

interface FleetRun {
  readonly children: ChildProcess[];
  readonly stats: FleetStats;
  /** RSS of the fleet processes, added up. */
  readonly rss: number;
  /** First Register sent (by any of the processes) to the last device registered. */
  readonly seconds: number;
  /** CPU time the server used while the devices registered (after they were prepared), ms. */
  readonly serverCpuMs: number;
  /** CPU time the fleet processes used for the same, ms. */
  readonly fleetCpuMs: number;
}

/**
 * Runs `processes` fleet processes of n / processes devices each against `port`, started together once
 * all are prepared, until every device registered (or the timeout); the fleets stay up.
 */
async function runFleet(
  port: number,
  n: number,
  prefix: string,
  bind: string,
  timeout: number,
  serverPid?: number,
  processes = 1,
): Promise<FleetRun> {
  const children: ChildProcess[] = [];
  const progress: number[] = [];
  for (let k = 0; k < processes; k++) {
    const count = Math.floor(n / processes) + (k < n % processes ? 1 : 0);
    const config: FleetConfig = {
      port,
      count,
      prefix: processes === 1 ? prefix : `${prefix}${k}`,
      rate: rate > 0 ? rate / processes : null,
      inFlight: Math.max(1, Math.round(inFlight / processes)),
      bind,
      lifetime: 3600,
      timeout,
      waitForGo: true,
    };
    // A larger young generation: the fleet's devices are a big old generation that every promotion makes
    // the GC walk again; fewer scavenges leave more of the load generator's CPU for the load.
    const child = forkNode(FLEET, [JSON.stringify(config)], 1, [
      `--max-semi-space-size=${semiSpace}`,
      '--expose-gc',
    ]);
    progress.push(0);
    child.on('message', (m: { kind: string; stats: FleetStats }) => {
      if (m.kind !== 'progress') return;
      progress[k] = m.stats.everRegistered;
      process.stdout.write(`\r    ${prefix}: ${progress.reduce((a, b) => a + b, 0)}/${n} registered   `);
    });
    children.push(child);
  }
  await Promise.all(children.map((c) => nextMessage(c, 'prepared', (timeout + 30) * 1000)));
  const cpu0 = serverPid === undefined ? Number.NaN : procCpuMs(serverPid);
  const fleetCpu0 = children.reduce((a, c) => a + procCpuMs(c.pid!), 0);
  const completes = children.map((c) =>
    nextMessage<{ stats: FleetStats; rss: number }>(c, 'complete', (timeout + 30) * 1000),
  );
  for (const c of children) c.send({ kind: 'go' });
  const done = await Promise.all(completes);
  const serverCpuMs = serverPid === undefined ? Number.NaN : procCpuMs(serverPid) - cpu0;
  const fleetCpuMs = children.reduce((a, c) => a + procCpuMs(c.pid!), 0) - fleetCpu0;
  process.stdout.write('\r');
  const sum = (f: (s: FleetStats) => number) => done.reduce((a, d) => a + f(d.stats), 0);
  const firsts = done.map((d) => d.stats.firstStartAt);
  const lasts = done.map((d) => d.stats.allRegisteredAt);
  const complete = firsts.every((t) => t !== undefined) && lasts.every((t) => t !== undefined);
  const stats: FleetStats = {
    count: sum((s) => s.count),
    registered: sum((s) => s.registered),
    everRegistered: sum((s) => s.everRegistered),
    failed: sum((s) => s.failed),
    errors: sum((s) => s.errors),
    firstStartAt: complete ? Math.min(...(firsts as number[])) : undefined,
    allRegisteredAt: complete ? Math.max(...(lasts as number[])) : undefined,
  };
  const seconds = complete ? (stats.allRegisteredAt! - stats.firstStartAt!) / 1000 : Number.NaN;
  return {
    children,
    stats,
    rss: done.reduce((a, d) => a + d.rss, 0),
    seconds,
    serverCpuMs,
    fleetCpuMs,
  };
}

async function stopFleet(f: FleetRun): Promise<number> {
  const stopped = f.children.map((c) => nextMessage<{ seconds: number }>(c, 'stopped', 120_000));
  for (const c of f.children) c.send({ kind: 'stop' });
  return Math.max(...(await Promise.all(stopped)).map((s) => s.seconds));
}

/**
 * Warm-up: `warmup` devices (from another loopback address, so the measured fleet's ports are new to the
 * server) register and de-register before the measurement, so both servers run compiled code (V8 / the
 * JIT) when the measured devices arrive.
 */
async function warmUp(port: number): Promise<void> {
  if (warmup <= 0) return;
  const f = await runFleet(port, warmup, 'warmup', '127.0.0.2', 300);
  await stopFleet(f);
  for (const c of f.children) c.kill('SIGKILL');
  await sleep(1000);
}

interface Result {
  readonly server: string;
  readonly n: number;
  readonly registered: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly errors: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly peakRss: number;
  readonly heapBefore: number;
  readonly heapAfter: number;
  readonly fleetRss: number;
  /** Server CPU time (all threads) from the first Register to the last, per registration, µs. */
  readonly cpuUs: number;
  /** The fleet's CPU time for the same, per registration, µs. */
  readonly fleetCpuUs: number;
  readonly note: string;
}

interface ServerStats {
  registrations: number;
  firstRegisterAt?: number;
  lastRegisterAt?: number;
  memory: NodeJS.MemoryUsage;
}

async function thimbleStats(srv: ChildProcess): Promise<ServerStats> {
  const p = nextMessage<ServerStats>(srv, 'stats', 30_000);
  srv.send({ kind: 'stats', gc: true });
  return p;
}

async function startThimble(max: number): Promise<{ srv: ChildProcess; port: number }> {
  const srv = forkNode(SERVER, ['--max', String(max)], 0, ['--expose-gc']);
  const { port } = await nextMessage<{ port: number }>(srv, 'ready', 30_000);
  return { srv, port };
}

async function measureThimble(): Promise<Result> {
  const { srv, port } = await startThimble(Math.max(200_000, count * 2));
  try {
    await warmUp(port);
    srv.send({ kind: 'reset' });
    const before = await thimbleStats(srv);
    const memBefore = procMemory(srv.pid!);
    const fleet = await runFleet(port, count, 'thimble', '127.0.0.1', 600, srv.pid!, fleets);
    await sleep(500);
    const after = await thimbleStats(srv);
    const memAfter = procMemory(srv.pid!);
    const seconds = await stopFleet(fleet);
    return {
      server: 'Thimble Lwm2mServer',
      n: count,
      registered: after.registrations,
      seconds: fleet.seconds,
      perSecond: count / fleet.seconds,
      errors: fleet.stats.errors,
      rssBefore: memBefore.rss,
      rssAfter: memAfter.rss,
      peakRss: memAfter.peak,
      heapBefore: before.memory.heapUsed,
      heapAfter: after.memory.heapUsed,
      fleetRss: fleet.rss,
      cpuUs: (fleet.serverCpuMs * 1000) / count,
      fleetCpuUs: (fleet.fleetCpuMs * 1000) / count,
      note: `server-side first→last Register ${(((after.lastRegisterAt ?? 0) - (after.firstRegisterAt ?? 0)) / 1000).toFixed(2)} s; fleet de-registered all in ${seconds.toFixed(1)} s`,
    };
  } finally {
    srv.kill('SIGKILL');
  }
}

/** Heap used after a full GC (jcmd GC.run, then GC.heap_info), bytes. */
function jvmHeapAfterGc(pid: number): number {
  execFileSync('jcmd', [String(pid), 'GC.run'], { stdio: 'ignore', timeout: 60_000 });
  const info = execFileSync('jcmd', [String(pid), 'GC.heap_info'], { encoding: 'utf8', timeout: 60_000 });
  // G1: " garbage-first heap   total 262144K, used 23456K [..."; Serial / Parallel: one line per generation
  let used = 0;
  let found = false;
  for (const m of info.matchAll(/(?:heap|generation)\s+total\s+\d+K,\s+used\s+(\d+)K/g)) {
    used += Number(m[1]) * 1024;
    found = true;
  }
  return found ? used : Number.NaN;
}

async function measureLeshan(): Promise<Result> {
  const jar = findLeshanJar();
  if (jar === undefined) throw new Error(`no Leshan server demo jar in ${LESHAN_DIR} (run .ci/run)`);
  const coapPort = 20000 + Math.floor(Math.random() * 20000);
  const webPort = await freePort();
  const args = leshanServerDemoArgs({
    jar,
    coapPort,
    coapsPort: coapPort + 1,
    webPort,
    // the JVM's default on this 2-core machine; named so that --pin (one CPU: Serial GC by default) keeps it
    jvm: [`-Xmx${xmx}`, '-XX:+UseG1GC'],
  });
  const java = track(
    pin
      ? spawn('taskset', ['-c', '0', 'java', ...args], { cwd: LESHAN_DIR, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('java', args, { cwd: LESHAN_DIR, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-16384);
  };
  java.stdout?.on('data', keep);
  java.stderr?.on('data', keep);
  try {
    const api = `http://127.0.0.1:${webPort}/api`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (java.exitCode !== null) throw new Error(`Leshan exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`Leshan did not start:\n${output}`);
      try {
        if ((await fetch(`${api}/clients`, { signal: AbortSignal.timeout(2000) })).ok) break;
      } catch {
        // not up yet
      }
      await sleep(250);
    }
    // with taskset the JVM is a child of taskset only until exec: same pid
    const pid = java.pid!;
    await warmUp(coapPort);
    await sleep(1000);
    const heapBefore = jvmHeapAfterGc(pid);
    await sleep(500);
    const memBefore = procMemory(pid);
    const fleet = await runFleet(coapPort, count, 'leshan', '127.0.0.1', 600, pid, fleets);
    await sleep(500);
    const heapAfter = jvmHeapAfterGc(pid);
    await sleep(500);
    const memAfter = procMemory(pid);
    const clients = (await (await fetch(`${api}/clients`)).json()) as unknown[];
    const seconds = await stopFleet(fleet);
    return {
      server: `Leshan server demo 2.0.0-M4 (-Xmx${xmx}, G1)`,
      n: count,
      registered: clients.length,
      seconds: fleet.seconds,
      perSecond: count / fleet.seconds,
      errors: fleet.stats.errors,
      rssBefore: memBefore.rss,
      rssAfter: memAfter.rss,
      peakRss: memAfter.peak,
      heapBefore,
      heapAfter,
      fleetRss: fleet.rss,
      cpuUs: (fleet.serverCpuMs * 1000) / count,
      fleetCpuUs: (fleet.fleetCpuMs * 1000) / count,
      note: `JVM heap after GC (jcmd GC.heap_info); fleet de-registered all in ${seconds.toFixed(1)} s`,
    };
  } finally {
    java.kill('SIGKILL');
  }
}

const MB = 2 ** 20;
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const f0 = (n: number) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 0 }) : 'n/a';
const perDevice = (a: number, b: number, n: number) => ((b - a) / n / 1024).toFixed(2);

async function measureHold(): Promise<void> {
  const fleets = Math.ceil(hold / perFleet);
  console.log(
    `\nHold: ${f0(hold)} devices registered with our server, from ${fleets} fleet processes of up to ${f0(perFleet)} ` +
      `devices (each on its own loopback address 127.0.1.x, one UDP socket per device).`,
  );
  const { srv, port } = await startThimble(hold * 2);
  const runs: FleetRun[] = [];
  try {
    await sleep(500);
    const before = await thimbleStats(srv);
    const memBefore = procMemory(srv.pid!);
    const t0 = Date.now();
    for (let k = 0; k < fleets; k++) {
      const n = Math.min(perFleet, hold - k * perFleet);
      const run = await runFleet(port, n, `hold${k}`, `127.0.1.${k + 1}`, 900);
      runs.push(run);
      console.log(
        `    fleet ${k + 1}/${fleets}: ${f0(run.stats.everRegistered)} registered in ${f1(run.seconds)} s, ` +
          `fleet RSS ${f0(run.rss / MB)} MB`,
      );
    }
    const wall = (Date.now() - t0) / 1000;
    await sleep(1000);
    const after = await thimbleStats(srv);
    const memAfter = procMemory(srv.pid!);
    const probe = nextMessage<{ ok: boolean; value?: unknown; error?: string }>(srv, 'read', 30_000);
    srv.send({
      kind: 'read',
      endpoint: `hold${fleets - 1}-${'0'.repeat(String(perFleet - 1).length)}`,
      path: '/3/0/0',
    });
    const read = await probe;
    const n = after.registrations;
    console.log(`  registrations held: ${f0(n)} (fleets took ${f1(wall)} s in all)`);
    console.log(
      `  server RSS ${f0(memBefore.rss / MB)} MB → ${f0(memAfter.rss / MB)} MB (peak ${f0(memAfter.peak / MB)} MB): ` +
        `${perDevice(memBefore.rss, memAfter.rss, n)} kB per device`,
    );
    console.log(
      `  server heap used after GC ${f1(before.memory.heapUsed / MB)} MB → ${f1(after.memory.heapUsed / MB)} MB: ` +
        `${perDevice(before.memory.heapUsed, after.memory.heapUsed, n)} kB per device`,
    );
    console.log(
      `  the server still manages the devices: Read /3/0/0 on the last one → ${JSON.stringify(read)}`,
    );
  } finally {
    for (const r of runs) for (const c of r.children) c.kill('SIGKILL');
    srv.kill('SIGKILL');
  }
}

const median = (xs: number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? Number.NaN : v[Math.floor((v.length - 1) / 2)]!;
};

async function main(): Promise<void> {
  build();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `Registration benchmark: ${f0(count)} devices (fleet mode in ${fleets} process(es), one UDP socket per device, built before the timed part; ` +
      `${inFlight} registrations in flight${rate > 0 ? `, ${rate}/s` : ', no rate limit'}) per server after ${f0(warmup)} warm-up registrations, on loopback, ` +
      `${rounds} round(s) alternating the order${pin ? ', pinned (server CPU 0, fleet CPU 1)' : ''}; load average ${load}.`,
  );
  const all = new Map<string, Result[]>();
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < servers.length; i++) {
      const s = servers[(i + round) % servers.length]!;
      const r = s === 'leshan' ? await measureLeshan() : await measureThimble();
      all.set(s, [...(all.get(s) ?? []), r]);
      console.log(
        `  round ${round + 1} ${r.server}: ${f0(r.registered)}/${f0(r.n)} registered in ${r.seconds.toFixed(2)} s ` +
          `(${f0(r.perSecond)}/s), server CPU ${f0(r.cpuUs)} µs/registration (fleet ${f0(r.fleetCpuUs)} µs), RSS +${perDevice(r.rssBefore, r.rssAfter, r.n)} kB/device, ` +
          `heap +${perDevice(r.heapBefore, r.heapAfter, r.n)} kB/device, ${r.errors} errors; ${r.note}`,
      );
      await sleep(2000);
    }
  }
  console.log('');
  console.log(
    '| server | registered | time to register all (best / median) | registrations/s (best / median) | server CPU per registration (median) | RSS before → after (MB, median round) | RSS per device | heap after GC before → after (MB) | heap per device | fleet RSS (MB) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const summary = new Map<string, { best: number; med: number; cpu: number; rss: number; heap: number }>();
  for (const [name, rs] of all) {
    const bySpeed = [...rs].sort((a, b) => a.seconds - b.seconds);
    const mid = bySpeed[Math.floor((bySpeed.length - 1) / 2)]!;
    const rssPer = median(rs.map((r) => (r.rssAfter - r.rssBefore) / r.n));
    const heapPer = median(rs.map((r) => (r.heapAfter - r.heapBefore) / r.n));
    const cpu = median(rs.map((r) => r.cpuUs));
    summary.set(name, { best: bySpeed[0]!.perSecond, med: mid.perSecond, cpu, rss: rssPer, heap: heapPer });
    console.log(
      `| ${mid.server} | ${f0(Math.min(...rs.map((r) => r.registered)))} / ${f0(mid.n)} | ${bySpeed[0]!.seconds.toFixed(2)} s / ${mid.seconds.toFixed(2)} s | ` +
        `${f0(bySpeed[0]!.perSecond)} / ${f0(mid.perSecond)} | ${f0(cpu)} µs | ` +
        `${f0(mid.rssBefore / MB)} → ${f0(mid.rssAfter / MB)} | ${(rssPer / 1024).toFixed(2)} kB | ` +
        `${f1(mid.heapBefore / MB)} → ${f1(mid.heapAfter / MB)} | ${(heapPer / 1024).toFixed(2)} kB | ${f0(mid.fleetRss / MB)} |`,
    );
  }
  const ours = summary.get('thimble');
  const leshan = summary.get('leshan');
  if (ours && leshan) {
    console.log(
      `\nRatios (ours / Leshan's): registrations/s ${(ours.best / leshan.best).toFixed(2)}× (best rounds), ` +
        `${(ours.med / leshan.med).toFixed(2)}× (median rounds); server CPU per registration ${(ours.cpu / leshan.cpu).toFixed(2)}×; ` +
        `memory per device ${(ours.rss / leshan.rss).toFixed(2)}× by RSS, ${(ours.heap / leshan.heap).toFixed(2)}× by heap after GC.`,
    );
  }
  if (hold > 0) await measureHold();
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (e: unknown) => {
    console.error(e);
    killAll();
    process.exit(1);
  },
);
