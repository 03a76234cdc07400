/**
 * Helpers for interop tests that start real peers (libcoap, aiocoap, Leshan and our Java peers, installed
 * by `.ci/run`). With CI=true a missing peer fails the suite; on a developer's machine without it the suite
 * is skipped with a message naming the peer. Processes started here are killed when the test file ends.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { findLeshanJar, INTEROP_DIR, javaVersion, LESHAN_DIR } from './leshan.js';

export { findLeshanJar, INTEROP_DIR, javaVersion, LESHAN_DIR, leshanServerDemoArgs } from './leshan.js';

export const IN_CI = process.env.CI === 'true';

/** Whether an executable is on PATH. */
export function hasExecutable(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks peers before a suite. Returns true when the suite can run. Throws in CI when one is missing,
 * otherwise warns with the missing peer's name (the suite then shows as skipped).
 */
export function requirePeers(suite: string, executables: readonly string[], install: string): boolean {
  return peersPresent(
    suite,
    executables.filter((e) => !hasExecutable(e)),
    `install: ${install}`,
  );
}

/**
 * The decision every `require*` helper makes: true when nothing is `missing`; otherwise throws in CI, or
 * warns with the missing peers' names and returns false (the suite then shows as skipped). `hint` says how
 * to get them.
 */
export function peersPresent(suite: string, missing: readonly string[], hint?: string): boolean {
  if (missing.length === 0) return true;
  const message = `${suite}: interop peer missing: ${missing.join(', ')}${hint === undefined ? '' : ` (${hint})`}`;
  if (IN_CI) throw new Error(`${message}; CI=true requires every interop peer`);
  console.warn(`SKIPPED ${message}`);
  return false;
}

/** Checks for Java 17+ and the given files (jars of Java peers), as `requirePeers` does for executables. */
export function requireJavaPeer(
  suite: string,
  files: readonly { readonly what: string; readonly path: string }[],
  hint: string,
): boolean {
  const missing: string[] = [];
  const java = javaVersion();
  if (java === undefined || java < 17) missing.push(`Java 17+ (found ${java ?? 'none'})`);
  for (const f of files)
    if (!existsSync(f.path)) missing.push(f.what === '' ? f.path : `${f.what} ${f.path}`);
  return peersPresent(suite, missing, hint);
}

/** Java 17+ and Leshan's server demo jar (`.interop/leshan/`). */
export function requireLeshan(): boolean {
  return requireJavaPeer(
    'Leshan interop',
    [{ what: 'Leshan server demo jar in', path: findLeshanJar() ?? LESHAN_DIR }],
    'run .ci/run, or mvn dependency:copy as it does',
  );
}

/** aiocoap 0.4.17 with its OSCORE extra, in the virtual environment `.ci/run` makes (`.interop/venv`). */
export const AIOCOAP = {
  venv: join(INTEROP_DIR, 'venv/bin/'),
  python: join(INTEROP_DIR, 'venv/bin/python'),
  client: join(INTEROP_DIR, 'venv/bin/aiocoap-client'),
  install:
    "python3 -m venv .interop/venv && .interop/venv/bin/pip install 'aiocoap[oscore]==0.4.17' (see .ci/run)",
} as const;

/** True when aiocoap (with `aiocoap.oscore_sitewrapper`) can run; CI / skip behaviour as `requirePeers`. */
export function requireAiocoap(suite: string): boolean {
  let problem: string | undefined;
  if (!existsSync(AIOCOAP.python) || !existsSync(AIOCOAP.client)) {
    problem = `no ${AIOCOAP.venv}python / aiocoap-client`;
  } else {
    try {
      execFileSync(AIOCOAP.python, ['-c', 'import aiocoap.oscore_sitewrapper'], {
        stdio: 'ignore',
        timeout: 20_000,
      });
    } catch {
      problem = 'aiocoap with its oscore extra does not import';
    }
  }
  return peersPresent(
    suite,
    problem === undefined ? [] : [`aiocoap[oscore] (${problem}; install: ${AIOCOAP.install})`],
  );
}

/** A free TCP port on loopback (for a peer's HTTP listener). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A free UDP port on loopback (ports p and p+1 free when `pair` is set, for libcoap's DTLS port). */
export async function freeUdpPort(pair = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const ok = await Promise.all((pair ? [port, port + 1] : [port]).map(isFree));
    if (ok.every(Boolean)) return port;
  }
  throw new Error('no free UDP port found');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

export interface RunningPeer {
  readonly process: ChildProcess;
  output(): string;
  /** Resolves when the output contains `text` (rejects after `timeoutMs`). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  write(text: string): void;
  stop(): void;
}

/**
 * Starts a peer process, killed when the test file ends. Its stdin is kept open (openssl s_server/s_client
 * end on stdin EOF); output (stdout and stderr) is kept for diagnostics and `waitFor`.
 */
export function startPeer(command: string, args: readonly string[]): RunningPeer {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer) => {
    output += d.toString('latin1');
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.stdin?.on('error', () => {});
  children.push(child);
  return {
    process: child,
    output: () => output,
    write: (text) => child.stdin?.write(text),
    stop: () => child.kill('SIGKILL'),
    waitFor(text, timeoutMs = 10_000) {
      const has = () => (typeof text === 'string' ? output.includes(text) : text.test(output));
      if (has()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`${command}: no ${String(text)} within ${timeoutMs} ms; output:\n${output}`));
        }, timeoutMs);
        const check = () => {
          if (!has()) return;
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          resolve();
        };
        waiters.push(check);
      });
    },
  };
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a peer command to completion. */
export function runPeer(
  command: string,
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('latin1');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Waits until something answers CoAP on a port (a ping gets RST from a live CoAP server). */
export async function waitForCoap(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answered = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      const t = setTimeout(() => {
        s.close();
        resolve(false);
      }, 200);
      s.on('message', () => {
        clearTimeout(t);
        s.close();
        resolve(true);
      });
      s.send(Uint8Array.of(0x40, 0, 0x12, 0x34), port, '127.0.0.1');
    });
    if (answered) return;
  }
  throw new Error(`nothing answered CoAP on port ${port} within ${timeoutMs} ms`);
}

/** Captures what the `coap` CLI writes. */
export function captureIo() {
  const out: Uint8Array[] = [];
  let err = '';
  return {
    io: {
      stdout: {
        write: (d: string | Uint8Array) =>
          out.push(typeof d === 'string' ? new TextEncoder().encode(d) : d.slice()),
      },
      stderr: {
        write: (d: string) => {
          err += d;
        },
      },
    },
    stdout: () => Buffer.concat(out).toString('latin1'),
    stdoutBytes: () => new Uint8Array(Buffer.concat(out)),
    stderr: () => err,
  };
}
