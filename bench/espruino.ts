/**
 * @thimble/lwm2m-espruino in the Espruino interpreter built for Linux (issue 18): minified sizes of both
 * profiles, variables in use (process.memory().usage) at load, registered and at peak in the core
 * profile (1,600-variable ESP8266 layout), registration time on loopback against `lwm2m server` compared
 * with the Node client (`Lwm2mClient`), and a leak check: variables before and after N Updates and N
 * notifications.
 *
 *   npm run bench:espruino -- [--runs 5] [--updates 1000] [--changes 1000]
 *
 * The interpreter is found at `<repo>/../shared/espruino` or $ESPRUINO_DIR; the module must be built
 * (`npm run build -w @thimble/lwm2m-espruino`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { Lwm2mClient } from '@thimble/lwm2m';
import { transformSync } from 'esbuild';
import { main } from '../packages/lwm2m/src/cli/main.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    updates: { type: 'string', default: '1000' },
    changes: { type: 'string', default: '1000' },
  },
});
const RUNS = Number(values.runs);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const PKG = here('../packages/lwm2m-espruino/');
const ESPRUINO = process.env.ESPRUINO_DIR ?? resolve(here('..'), '../shared/espruino');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startServer() {
  let out = '';
  const io = { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (out += d) } };
  const abort = new AbortController();
  const exit = main(['server', '--coap-port', '0', '--http-port', '0'], io, abort.signal);
  for (;;) {
    const m = /udp \S+:(\d+), REST API on (http:\/\/\S+)\/api/.exec(out);
    if (m)
      return {
        port: Number(m[1]),
        api: m[2]!,
        stop: () => {
          abort.abort();
          return exit;
        },
      };
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs the bench app in the interpreter; resolves the lines as they come through `onLine`. */
function device(profile: 'core' | 'full', appText: string, vars: number, onLine: (l: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'thimble-esp-bench-'));
  const module = readFileSync(join(PKG, `dist/lwm2m-${profile}.js`), 'latin1');
  writeFileSync(join(dir, 'up.js'), `require("Storage").write("lwm2m",${JSON.stringify(module)});\n`);
  spawnSync(join(ESPRUINO, 'run.sh'), ['--vars', '16383', join(dir, 'up.js'), '5'], { cwd: dir });
  writeFileSync(join(dir, 'app.js'), transformSync(appText, { minify: true, target: 'es2019' }).code);
  const child = spawn(join(ESPRUINO, 'run.sh'), ['--vars', String(vars), join(dir, 'app.js'), '600'], {
    cwd: dir,
    detached: true,
  });
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const p of parts)
      onLine(
        p
          .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
          .replace(/\r/g, '')
          .replace(/^>+/, ''),
      );
  });
  return () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
}

function waitLine(lines: string[], re: RegExp, ms = 120_000): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  return new Promise((res, rej) => {
    const t = setInterval(() => {
      for (const l of lines) {
        const m = re.exec(l);
        if (m) {
          clearInterval(t);
          res(m);
          return;
        }
      }
      if (Date.now() > end) {
        clearInterval(t);
        rej(new Error(`no ${re}:\n${lines.slice(-20).join('\n')}`));
      }
    }, 20);
  });
}

async function espruinoRun(server: { port: number; api: string }, i: number, leak: boolean) {
  const ep = `bench-esp-${i}`;
  const text = readFileSync(join(PKG, 'test/apps/bench.js'), 'utf8')
    .replaceAll('__EP__', ep)
    .replaceAll('__PORT__', String(server.port))
    .replaceAll('__UPDATES__', values.updates!)
    .replaceAll('__CHANGES__', values.changes!);
  const lines: string[] = [];
  const stop = device('core', text, 1600, (l) => lines.push(l));
  try {
    const regMs = Number((await waitLine(lines, /^REGMS (\d+)/))[1]);
    const load = Number((await waitLine(lines, /^LOAD (\d+)/))[1]);
    const reg = Number((await waitLine(lines, /^REG (\d+)/))[1]);
    const r: Record<string, number> = { regMs, load, reg };
    if (leak) {
      const dev = `${server.api}/api/clients/${ep}`;
      await fetch(`${dev}/3/0/5`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' });
      r.u0 = Number((await waitLine(lines, /^U0 (\d+)/))[1]);
      r.u1 = Number((await waitLine(lines, /^U1 (\d+)/, 600_000))[1]);
      await fetch(`${dev}/3303/0/5700/attributes`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pmin: 0 }),
      });
      const notes = { n: 0 };
      const sse = new AbortController();
      void fetch(`${server.api}/api/events?endpoint=${ep}`, { signal: sse.signal })
        .then(async (res) => {
          const reader = res.body!.getReader();
          const dec = new TextDecoder();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            notes.n += (dec.decode(value).match(/event: notification/g) ?? []).length;
          }
        })
        .catch(() => {});
      await fetch(`${dev}/3303/0/5700/observe`, { method: 'POST' });
      await fetch(`${dev}/3/0/6`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' });
      r.n0 = Number((await waitLine(lines, /^N0 (\d+)/))[1]);
      r.n1 = Number((await waitLine(lines, /^N1 (\d+)/, 600_000))[1]);
      await new Promise((res) => setTimeout(res, 500));
      r.notifications = notes.n;
      sse.abort();
    }
    r.peak = Math.max(...lines.map((l) => Number(/PEAK (\d+)/.exec(l)?.[1] ?? 0)));
    return r;
  } finally {
    stop();
  }
}

async function nodeRun(server: { port: number }, i: number): Promise<number> {
  const endpoint = await createUdpEndpoint({ port: 0 });
  const client = new Lwm2mClient({
    endpointName: `bench-node-${i}`,
    endpoint,
    serverUri: `coap://127.0.0.1:${server.port}`,
    lifetime: 300,
  });
  client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U' });
  client.addInstance(3, 0, { 0: 'Thimble', 16: 'U' });
  client.addInstance(3303, 0, { 5700: 20 });
  const registered = new Promise<void>((r) => client.on('registered', () => r()));
  const t0 = performance.now();
  client.start();
  await registered;
  const ms = performance.now() - t0;
  await client.stop();
  await endpoint.close();
  return ms;
}

const server = await startServer();
const sizes = (['core', 'full'] as const).map((p) => statSync(join(PKG, `dist/lwm2m-${p}.js`)).size);
const esp: Record<string, number>[] = [];
const node: number[] = [];
for (let i = 0; i < RUNS; i++) {
  esp.push(await espruinoRun(server, i, i === 0));
  node.push(await nodeRun(server, i));
}
await server.stop();
const first = esp[0]!;
console.log(`| figure | value |\n|---|---|`);
console.log(`| dist/lwm2m-core.js, minified | ${sizes[0]} bytes |`);
console.log(`| dist/lwm2m-full.js, minified | ${sizes[1]} bytes |`);
console.log(`| core, variables after load (of 1,600) | ${median(esp.map((r) => r.load!))} |`);
console.log(`| core, variables when registered | ${median(esp.map((r) => r.reg!))} |`);
console.log(`| core, peak variables (leak run included) | ${Math.max(...esp.map((r) => r.peak!))} |`);
console.log(
  `| registration, start() → registered, median of ${RUNS} | Espruino core ${median(esp.map((r) => r.regMs!))} ms, Node Lwm2mClient ${median(node).toFixed(1)} ms |`,
);
console.log(`| ${values.updates} Updates: variables before → after | ${first.u0} → ${first.u1} |`);
console.log(
  `| ${values.changes} changes (${first.notifications} notifications received): variables before → after | ${first.n0} → ${first.n1} |`,
);
process.exit(0);
