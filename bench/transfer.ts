/**
 * 1 MiB Block-wise transfer over UDP loopback with 1024-byte blocks, side by side in one run
 * (issue 4): Block1 upload and Block2 download by
 *   - Thimble's client against Thimble's server,
 *   - libcoap's coap-client-notls against coap-server-notls (Debian libcoap3-bin),
 *   - node-coap's client against node-coap's server.
 * Servers run in their own processes, Thimble's client too (bundled JavaScript). Each transfer is
 * repeated and the median is reported; Thimble and libcoap take turns transfer by transfer so the
 * shared machine's load hits both alike. The downloaded bytes are checked against the upload. Thimble's CPU time per
 * block (client and server, user + system) is reported too: steadier than wall time on a busy machine.
 *
 *   npm run bench:transfer [-- --runs 15] [--pin] [--only libcoap,node-coap,floor] [--tsx]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 15) || 15;
/** --pin: servers on CPU 0, clients (this process and coap-client-notls) on CPU 1, as bench:server does. */
const PIN = process.argv.includes('--pin');
if (PIN) execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
/** A server command, pinned to CPU 0 with --pin. */
function server(command: string, args: string[]): [string, string[]] {
  return PIN ? ['taskset', ['-c', '0', command, ...args]] : [command, args];
}
/** A client command, pinned to CPU 1 with --pin. */
function clientCmd(command: string, args: string[]): [string, string[]] {
  return PIN ? ['taskset', ['-c', '1', command, ...args]] : [command, args];
}
/** --only libcoap,node-coap,floor: which peers to run besides Thimble (default all). */
const ONLY = process.argv.includes('--only')
  ? process.argv[process.argv.indexOf('--only') + 1]!.split(',')
  : undefined;
const SIZE = 1024 * 1024;
/** Transfers before measuring: a fresh Node process needs a few before V8 has optimised the hot path. */
const WARMUP = 3;
const body = Buffer.from(Array.from({ length: SIZE }, (_, i) => (i * 7 + (i >> 10)) & 0xff));
const dir = mkdtempSync(join(tmpdir(), 'thimble-transfer-'));
const bodyFile = join(dir, 'body.bin');
writeFileSync(bodyFile, body);
const children: ChildProcess[] = [];
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
/**
 * --tsx: run Thimble's client and server from the TypeScript sources under tsx. By default they run as
 * plain JavaScript bundled by tsup, as an application using the published package would (tsx compiles
 * with esbuild's keepNames, which wraps every closure in a naming call, and runs its loader on an extra
 * thread).
 */
const TSX = process.argv.includes('--tsx');
const OUT = here('../node_modules/.cache/thimble-transfer');
if (!TSX) {
  execFileSync(
    here('../node_modules/.bin/tsup'),
    [
      here('./transfer-server.ts'),
      here('./transfer-client.ts'),
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
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function startChild(command: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${command} did not start`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (ready.test(d.toString())) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return child;
}

/** A UDP port free on 127.0.0.1 right now (bound and released; other processes share the machine). */
async function freePort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function time(fn: () => Promise<void>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

interface Result {
  name: string;
  upload: number;
  download: number;
}

/** Thimble's server and client as child processes (plain JavaScript bundled by tsup, or under tsx with --tsx). */
function thimbleCommand(script: 'transfer-server' | 'transfer-client', args: string[]): [string, string[]] {
  return TSX
    ? [process.execPath, ['--import', 'tsx', here(`./${script}.ts`), ...args]]
    : [process.execPath, [`${OUT}/${script}.js`, ...args]];
}

/** Lines a child prints, one promise per line. */
function lines(child: ChildProcess): () => Promise<string> {
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let rest = '';
  child.stdout!.on('data', (d: Buffer) => {
    rest += d.toString();
    for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
      const line = rest.slice(0, i);
      rest = rest.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else queue.push(line);
    }
  });
  return () => {
    const line = queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('child process did not answer')), 60_000);
      waiting.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  };
}

interface ThimbleTransfer {
  kind: 'up' | 'down';
  ms: number;
  /** CPU time per block, µs (user + system). */
  client: number;
  server: number;
}

/** Thimble's server and client, started and warmed up; `transfer` runs one measured transfer. */
async function startThimble(): Promise<{
  transfer(kind: 'up' | 'down'): Promise<ThimbleTransfer>;
  stop(): void;
}> {
  const serverChild = spawn(...server(...thimbleCommand('transfer-server', ['thimble'])), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(serverChild);
  const ready = /ready (\d+)/.exec(await lines(serverChild)());
  if (!ready) throw new Error('thimble server did not start');
  const client = spawn(...clientCmd(...thimbleCommand('transfer-client', [ready[1]!, String(WARMUP)])), {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(client);
  const next = lines(client);
  if ((await next()) !== 'ready') throw new Error('thimble client did not start');
  return {
    async transfer(kind) {
      client.stdin!.write(`${kind}\n`);
      return JSON.parse(await next()) as ThimbleTransfer;
    },
    stop() {
      client.stdin!.end();
      serverChild.kill();
    },
  };
}

function libcoapInstalled(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v coap-server-notls && command -v coap-client-notls'], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    console.warn(
      'libcoap (coap-server-notls, coap-client-notls) not installed: skipped (apt-get install libcoap3-bin)',
    );
    return false;
  }
}

/** libcoap's server, started; `transfer` runs coap-client-notls once and returns the wall time (ms). */
async function startLibcoap(): Promise<{ transfer(kind: 'up' | 'down'): Promise<number>; stop(): void }> {
  const port = await freePort();
  const [cmd, args] = server('coap-server-notls', [
    '-A',
    '127.0.0.1',
    '-p',
    String(port),
    '-d',
    '10',
    '-v',
    '0',
  ]);
  // coap-server-notls prints nothing when ready: started directly (so it is killed with this process,
  // never left behind by a shell), then given a moment to bind
  const libServer = spawn(cmd, args, { stdio: 'ignore' });
  children.push(libServer);
  await new Promise((r) => setTimeout(r, 300));
  const uri = `coap://127.0.0.1:${port}/file`;
  const out = join(dir, 'libcoap.out');
  const transfer = async (kind: 'up' | 'down') =>
    time(async () => {
      if (kind === 'up') {
        execFileSync(...clientCmd('coap-client-notls', ['-b', '1024', '-m', 'put', '-f', bodyFile, uri]));
      } else {
        execFileSync(...clientCmd('coap-client-notls', ['-b', '1024', '-o', out, uri]));
      }
    });
  for (let i = 0; i < WARMUP; i++) {
    await transfer('up');
    await transfer('down');
  }
  return {
    async transfer(kind) {
      const ms = await transfer(kind);
      if (kind === 'down' && Buffer.compare(readFileSync(out), body) !== 0) {
        throw new Error('libcoap download differs');
      }
      return ms;
    },
    stop() {
      libServer.kill();
    },
  };
}

async function nodeCoapRun(): Promise<Result> {
  const port = await freePort();
  await startChild(...server(...thimbleCommand('transfer-server', ['node-coap', String(port)])), /ready/);
  const require = createRequire(import.meta.url);
  const coap = require('coap') as {
    request(o: object): {
      setOption(n: string, v: Buffer): void;
      on(
        e: 'response',
        h: (res: { code: string; payload: Buffer; on(e: string, h: (x?: unknown) => void): void }) => void,
      ): void;
      on(e: 'error', h: (e: Error) => void): void;
      end(b?: Buffer): void;
    };
  };
  const request = (method: string, payload?: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      const req = coap.request({ hostname: '127.0.0.1', port, pathname: '/file', method });
      req.setOption(method === 'PUT' ? 'Block1' : 'Block2', Buffer.of(6));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c as Buffer));
        res.on('end', () => resolve(chunks.length > 0 ? Buffer.concat(chunks) : res.payload));
      });
      req.on('error', reject);
      req.end(payload);
    });
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < runs + WARMUP; i++) {
    const u = await time(async () => {
      await request('PUT', body);
    });
    let got: Buffer = Buffer.alloc(0);
    const d = await time(async () => {
      got = await request('GET');
    });
    if (Buffer.compare(got, body) !== 0) throw new Error(`node-coap download differs (${got.length} bytes)`);
    if (i >= WARMUP) {
      up.push(u);
      down.push(d);
    }
  }
  return { name: 'node-coap client → node-coap server', upload: median(up), download: median(down) };
}

/** The floor for any stop-and-wait transfer in Node: 1024 bare dgram round trips of a 1 KiB datagram. */
async function floorRun(): Promise<Result> {
  const child = spawn(...server(...thimbleCommand('transfer-server', ['echo'])), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('echo server did not start')), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      const m = /ready (\d+)/.exec(d.toString());
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const block = Buffer.alloc(1040, 7);
  const once = () =>
    new Promise<void>((resolve) => {
      let n = 0;
      const onMessage = () => {
        if (++n === 1024) {
          socket.off('message', onMessage);
          resolve();
        } else socket.send(block, port, '127.0.0.1');
      };
      socket.on('message', onMessage);
      socket.send(block, port, '127.0.0.1');
    });
  const xs: number[] = [];
  for (let i = 0; i < runs + WARMUP; i++) {
    const t = await time(once);
    if (i >= WARMUP) xs.push(t);
  }
  socket.close();
  child.kill();
  const m = median(xs);
  return { name: 'floor: bare node:dgram, 1024 round trips of 1 KiB (no CoAP)', upload: m, download: m };
}

// Thimble and libcoap take turns transfer by transfer (who goes first alternates), so a change in the
// shared machine's load hits both alike; the ratio is the median of the paired ratios.
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loads = [loadavg()];
const withLibcoap = (ONLY === undefined || ONLY.includes('libcoap')) && libcoapInstalled();
const ours = await startThimble();
const lib = withLibcoap ? await startLibcoap() : undefined;
const thimble: Record<'up' | 'down', ThimbleTransfer[]> = { up: [], down: [] };
const libcoap: Record<'up' | 'down', number[]> = { up: [], down: [] };
for (let i = 0; i < runs; i++) {
  for (const kind of ['up', 'down'] as const) {
    if (lib !== undefined && i % 2 === 1) libcoap[kind].push(await lib.transfer(kind));
    thimble[kind].push(await ours.transfer(kind));
    if (lib !== undefined && i % 2 === 0) libcoap[kind].push(await lib.transfer(kind));
  }
  if (i % 5 === 4) loads.push(loadavg());
}
ours.stop();
lib?.stop();
const ms = (kind: 'up' | 'down') => thimble[kind].map((t) => t.ms);
const results: Result[] = [
  { name: 'Thimble client → Thimble server', upload: median(ms('up')), download: median(ms('down')) },
];
if (withLibcoap) {
  results.push({
    name: 'libcoap coap-client-notls → coap-server-notls (incl. process start)',
    upload: median(libcoap.up),
    download: median(libcoap.down),
  });
}
if (ONLY === undefined || ONLY.includes('node-coap')) results.push(await nodeCoapRun());
if (ONLY === undefined || ONLY.includes('floor')) results.push(await floorRun());

const first = results[0]!;
console.log(
  `\n1 MiB over UDP loopback, 1024-byte blocks: medians of ${runs} transfers each way (after ${WARMUP} warm-up); Thimble and libcoap take turns\nload average (1, 5, 15 min) at the start and every 5 pairs: ${loads.join(' | ')}\n`,
);
console.log('| implementation | Block1 upload | Block2 download | upload vs Thimble | download vs Thimble |');
console.log('|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.name} | ${(r.upload / 1000).toFixed(3)} s | ${(r.download / 1000).toFixed(3)} s | ${(r.upload / first.upload).toFixed(2)}× | ${(r.download / first.download).toFixed(2)}× |`,
  );
}
if (withLibcoap) {
  const ratios = (k: 'up' | 'down') => thimble[k].map((t, i) => t.ms / libcoap[k][i]!);
  const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * f)]!;
  const show = (xs: number[]) =>
    `${median(xs).toFixed(2)}× (quartiles ${q(xs, 0.25).toFixed(2)}–${q(xs, 0.75).toFixed(2)})`;
  console.log(
    `\nThimble / libcoap, median of the ${runs} paired transfers: upload ${show(ratios('up'))}, download ${show(ratios('down'))}; target ≤ 1.5×`,
  );
}
const cpu = (k: 'up' | 'down', side?: 'client' | 'server') =>
  median(thimble[k].map((t) => (side === undefined ? t.client + t.server : t[side]))).toFixed(1);
console.log(
  `Thimble CPU per block (user + system, client + server): upload ${cpu('up')} µs (${cpu('up', 'client')} + ${cpu('up', 'server')}), download ${cpu('down')} µs (${cpu('down', 'client')} + ${cpu('down', 'server')})`,
);
process.exit(0);
