/**
 * Helpers for interop tests against real DTLS peers. With CI=true a missing peer fails the suite; without it
 * the suite is skipped with a message naming the peer (the same rule as coap-core's interop tests).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { afterAll } from 'vitest';

export const IN_CI = process.env.CI === 'true';

export function hasExecutable(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function requirePeers(suite: string, executables: readonly string[], install: string): boolean {
  const missing = executables.filter((e) => !hasExecutable(e));
  if (missing.length === 0) return true;
  const message = `${suite}: interop peer missing: ${missing.join(', ')} (install: ${install})`;
  if (IN_CI) throw new Error(`${message}; CI=true requires every interop peer`);
  console.warn(`SKIPPED ${message}`);
  return false;
}

export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free UDP port found');
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

/** Starts a peer with its stdin kept open (openssl s_server/s_client end on stdin EOF); killed at file end. */
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

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
