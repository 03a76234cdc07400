/**
 * Runs the shipped module files (dist/lwm2m-core.js, dist/lwm2m-full.js, unmodified) in the Espruino
 * interpreter built for Linux, as on a board: the module goes into the board's Storage (flash) under the
 * name `lwm2m`, as `npx espruino --storage lwm2m:dist/lwm2m-core.js` or the IDE's Storage upload put it
 * there, and the app loads it with `require('lwm2m')`. The upload runs in the 16,383-variable build (the
 * flash file is the same for both), the app then in the profile's own. The interpreter is found at
 * `<repo>/../shared/espruino/` or `$ESPRUINO_DIR`; with CI=true a missing interpreter fails the suite,
 * otherwise the suite is skipped naming it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { afterAll } from 'vitest';

export const IN_CI = process.env.CI === 'true';
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(packageRoot, '../..');

/** The interpreter's folder: $ESPRUINO_DIR, else `<repo>/../shared/espruino`. */
export const ESPRUINO_DIR = process.env.ESPRUINO_DIR ?? resolve(repoRoot, '../shared/espruino');

export type Profile = 'core' | 'full';

/** The shipped (built, minified) module of a profile, as the board receives it. */
export function moduleFile(profile: Profile): string {
  return join(packageRoot, 'dist', `lwm2m-${profile}.js`);
}

/**
 * Checks that the interpreter and the built module are there. True when the suite can run; throws in CI
 * when one is missing, otherwise warns naming it (the suite then shows as skipped).
 */
export function requireEspruino(suite: string): boolean {
  const missing: string[] = [];
  if (!existsSync(join(ESPRUINO_DIR, 'run.sh')))
    missing.push(`the Espruino interpreter (${ESPRUINO_DIR}/run.sh; set ESPRUINO_DIR)`);
  for (const p of ['core', 'full'] as const)
    if (!existsSync(moduleFile(p))) missing.push(`${moduleFile(p)} (run npm run build)`);
  if (missing.length === 0) return true;
  const message = `${suite}: missing ${missing.join(', ')}`;
  if (IN_CI) throw new Error(`${message}; CI=true requires it`);
  console.warn(`SKIPPED ${message}`);
  return false;
}

export interface Device {
  /** Every line the script printed so far. */
  readonly lines: string[];
  /** Resolves with the first line (from `from` on) matching `re`; rejects after `ms` or when the run ends. */
  waitFor(re: RegExp, ms?: number, from?: number): Promise<RegExpExecArray>;
  /** The exit code, when the script has ended (no timer left) or was stopped. */
  readonly exit: Promise<number | null>;
  /** The largest `MEM <n>` the script printed. */
  peakMemory(): number;
  kill(): void;
  /** The working directory (its `espruino.flash` is the board's Storage). */
  readonly dir: string;
}

const running: ChildProcess[] = [];

/** Ends an interpreter run (run.sh, its sleep and the interpreter: one process group). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
const dirs: string[] = [];
afterAll(() => {
  for (const c of running) if (c.exitCode === null && c.pid !== undefined) killGroup(c.pid);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Writes the profile's module file, byte for byte, into the Storage of a fresh working directory (the
 * board's flash) as `lwm2m`; checks the interpreter reads back the same length.
 */
export function uploadModule(profile: Profile, dir: string): void {
  const module = readFileSync(moduleFile(profile), 'latin1');
  const file = join(dir, 'upload.js');
  writeFileSync(
    file,
    `var S=require("Storage");S.write("lwm2m",${JSON.stringify(module)});print("STORED "+S.read("lwm2m").length);\n`,
  );
  const r = spawnSync(join(ESPRUINO_DIR, 'run.sh'), ['--vars', '16383', file, '5'], { cwd: dir });
  const out = r.stdout.toString('latin1');
  if (!out.includes(`STORED ${module.length}`))
    throw new Error(`upload of ${moduleFile(profile)} failed:\n${out}`);
}

/** An app minified as the Espruino IDE minifies before sending (syntax kept as written). */
export function minifyApp(app: string): string {
  return transformSync(app, { minify: true, target: 'es2019', charset: 'ascii' }).code;
}

/**
 * Starts `app` (a script in the Espruino subset, minified first) with the profile's module in Storage as
 * `lwm2m`, in a fresh temporary directory, with the board's variable count (1,600 for core, 16,383 for
 * full). The app should begin with `E.setFlags({pretokenise:1})` (as the IDE's "pretokenise" option) to
 * keep function code small.
 */
export function runDevice(profile: Profile, app: string, seconds = 60, vars?: number): Device {
  const dir = mkdtempSync(join(tmpdir(), 'thimble-espruino-'));
  dirs.push(dir);
  uploadModule(profile, dir);
  const file = join(dir, 'app.js');
  writeFileSync(file, minifyApp(app));
  const v = vars ?? (profile === 'core' ? 1600 : 16383);
  const child = spawn(join(ESPRUINO_DIR, 'run.sh'), ['--vars', String(v), file, String(seconds)], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let ended = false;
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const raw of parts) {
      // the interpreter's prompt and terminal escapes precede printed lines
      const line = raw
        .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
        .replace(/\r/g, '')
        .replace(/^>+/, '')
        .trimEnd();
      lines.push(line);
      if (process.env.ESPRUINO_ECHO) console.log(`[${profile}] ${line}`);
    }
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exit = new Promise<number | null>((res) =>
    child.on('exit', (code) => {
      ended = true;
      for (const w of waiters) w();
      res(code);
    }),
  );
  return {
    lines,
    dir,
    exit,
    waitFor(re, ms = 20_000, from = 0) {
      return new Promise((res, rej) => {
        const check = () => {
          for (let i = from; i < lines.length; i++) {
            const m = re.exec(lines[i]!);
            if (m) {
              done();
              res(m);
              return;
            }
          }
          const fatal = lines.findIndex((l) => /OUT OF MEMORY|Uncaught|LOW_MEMORY/.test(l));
          if (ended || fatal >= 0) {
            done();
            rej(
              new Error(
                `the script ${ended ? 'ended' : 'failed'} before printing ${re}:\n${lines.slice(-30).join('\n')}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          rej(new Error(`no ${re} within ${ms} ms:\n${lines.slice(-30).join('\n')}`));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    peakMemory() {
      let peak = 0;
      for (const l of lines) {
        const m = /MEM (\d+)/.exec(l);
        if (m) peak = Math.max(peak, Number(m[1]));
      }
      return peak;
    },
    kill() {
      if (child.exitCode === null && child.pid !== undefined) killGroup(child.pid);
    },
  };
}

/** Server-sent events of the REST API (`/api/events`), collected as {event, data}. */
export function sseEvents(url: string): { events: { event: string; data: unknown }[]; close(): void } {
  const events: { event: string; data: unknown }[] = [];
  const abort = new AbortController();
  void (async () => {
    try {
      const res = await fetch(url, { signal: abort.signal });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
        let cut = text.indexOf('\n\n');
        while (cut >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
          cut = text.indexOf('\n\n');
        }
      }
    } catch {
      // closed
    }
  })();
  return { events, close: () => abort.abort() };
}

/** Waits until `check` returns a value other than undefined/false. */
export async function until<T>(
  check: () => T | undefined | false,
  ms = 20_000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A 64 KiB image the test device installs as `version`. */
export function image(version: string, size = 64 * 1024): Uint8Array {
  const bytes = new Uint8Array(size).map((_, i) => (i * 31 + 7 + (i >> 8)) & 0xff);
  bytes.set(new TextEncoder().encode(`THIMBLE-FW ${version}\n`));
  return bytes;
}
