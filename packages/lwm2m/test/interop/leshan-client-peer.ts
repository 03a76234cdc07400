/**
 * Launcher for the Leshan client peer (./leshan-client/, built by `.ci/run` into .interop/leshan-client/)
 * with its security flags: NoSec, PSK (`--psk-identity`/`--psk-key`) or RPK (`--rpk-private`/`--rpk-public`/
 * `--server-public`) over coaps://, optionally offering a DTLS Connection ID (`--cid`) and with fewer
 * handshake retransmissions (`--dtls-retransmissions`). Its stdout is one
 * JSON event per line ({"event":"registered","id":"/rd/..."}). With CI=true a missing peer fails the suite.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IN_CI } from '@thimble/test-support/peers';
import { afterAll } from 'vitest';

const DIR = fileURLToPath(new URL('../../../../.interop/leshan-client/', import.meta.url));
export const LESHAN_CLIENT_JAR = `${DIR}thimble-leshan-client.jar`;

/** True when the Leshan client peer can run; throws in CI when it cannot, warns otherwise. */
export function requireLeshanClientPeer(suite: string): boolean {
  const missing: string[] = [];
  let java: number | undefined;
  try {
    const r = execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8', timeout: 20_000 });
    const m = /version "(\d+)/.exec(r);
    java = m === null ? undefined : Number(m[1]);
  } catch {
    java = undefined;
  }
  if (java === undefined || java < 17) missing.push(`Java 17+ (found ${java ?? 'none'})`);
  if (!existsSync(LESHAN_CLIENT_JAR)) missing.push(LESHAN_CLIENT_JAR);
  if (missing.length === 0) return true;
  const message = `${suite}: interop peer missing: ${missing.join(', ')} (run .ci/run, which builds packages/lwm2m/test/interop/leshan-client with mvn)`;
  if (IN_CI) throw new Error(`${message}; CI=true requires every interop peer`);
  console.warn(`SKIPPED ${message}`);
  return false;
}

/** How the client secures its connection to the LwM2M server (LwM2M TS Core 1.1 §7.1). */
export type LeshanClientSecurity =
  | { readonly mode: 'nosec' }
  | { readonly mode: 'psk'; readonly identity: string; readonly keyHex: string }
  | {
      readonly mode: 'rpk';
      /** PKCS#8 PEM file of the client's P-256 private key. */
      readonly privateKey: string;
      /** SubjectPublicKeyInfo PEM file of the client's public key. */
      readonly publicKey: string;
      /** SubjectPublicKeyInfo PEM file of the server's public key. */
      readonly serverPublicKey: string;
    };

export interface LeshanClientEvent {
  readonly event: string;
  readonly [key: string]: string;
}

export interface LeshanClientPeer {
  readonly events: readonly LeshanClientEvent[];
  /** Resolves with the first event of that name (seen or coming); rejects on timeout or exit. */
  waitFor(event: string, timeoutMs?: number): Promise<LeshanClientEvent>;
  /** The last 32 KiB of stdout and stderr, for diagnostics. */
  log(): string;
  /** SIGTERM (the client de-registers), then waits for the exit; SIGKILL after 10 s. */
  stop(): Promise<void>;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** The peer's command line after `java -jar JAR`. */
export function leshanClientArgs(o: {
  readonly endpoint: string;
  readonly serverUri: string;
  readonly security?: LeshanClientSecurity;
  readonly lifetime?: number;
  readonly cid?: number;
  /** `--dtls-retransmissions N`: a failing handshake gives up after N retransmissions (1 s, 2 s, 4 s...). */
  readonly dtlsRetransmissions?: number;
}): string[] {
  const args = ['-n', o.endpoint, '-u', o.serverUri, '-l', String(o.lifetime ?? 60)];
  const s = o.security ?? { mode: 'nosec' };
  if (s.mode === 'psk') args.push('--psk-identity', s.identity, '--psk-key', s.keyHex);
  if (s.mode === 'rpk') {
    args.push(
      '--rpk-private',
      s.privateKey,
      '--rpk-public',
      s.publicKey,
      '--server-public',
      s.serverPublicKey,
    );
  }
  if (o.cid !== undefined) args.push('--cid', String(o.cid));
  if (o.dtlsRetransmissions !== undefined) args.push('--dtls-retransmissions', String(o.dtlsRetransmissions));
  return args;
}

/** Starts the Leshan client; it registers with `serverUri` on its own. */
export function startLeshanClientPeer(o: Parameters<typeof leshanClientArgs>[0]): LeshanClientPeer {
  const child = spawn('java', ['-Xmx128m', '-jar', LESHAN_CLIENT_JAR, ...leshanClientArgs(o)], {
    cwd: DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  const events: LeshanClientEvent[] = [];
  const waiters: Array<() => void> = [];
  let output = '';
  const keep = (s: string) => {
    output = (output + s).slice(-32768);
  };
  let pending = '';
  child.stdout?.on('data', (d: Buffer) => {
    const text = d.toString();
    keep(text);
    pending += text;
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      const line = pending.slice(0, i).trim();
      pending = pending.slice(i + 1);
      try {
        events.push(JSON.parse(line) as LeshanClientEvent);
      } catch {
        // not an event line
      }
      for (const w of [...waiters]) w();
    }
  });
  child.stderr?.on('data', (d: Buffer) => keep(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return {
    events,
    log: () => output,
    waitFor: (event, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find((e) => e.event === event);
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`Leshan client: no "${event}" within ${timeoutMs} ms\n${output}`));
        }, timeoutMs);
        const onExit = () => {
          done();
          reject(new Error(`Leshan client exited before "${event}"\n${output}`));
        };
        const done = () => {
          clearTimeout(timer);
          const i = waiters.indexOf(check);
          if (i >= 0) waiters.splice(i, 1);
          child.off('exit', onExit);
        };
        waiters.push(check);
        child.once('exit', onExit);
        check();
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
