/**
 * Helpers for the Leshan bootstrap-server peer (test/interop/leshan-bsserver/, built by `.ci/run` into
 * `.interop/leshan-bsserver/`): Leshan 2.0.0-M4's bootstrap server with the configurations given on its
 * command line, printing one line per session event. With CI=true a missing jar or Java fails the suite;
 * elsewhere the suite is skipped with a message naming the missing peer.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { freeUdpPort, IN_CI } from '../../../coap-core/test/interop/peers.js';

const DIR = fileURLToPath(new URL('../../../../.interop/leshan-bsserver/', import.meta.url));
const JAR = `${DIR}thimble-leshan-bsserver.jar`;

function javaVersion(): number | undefined {
  try {
    const r = execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8', timeout: 20_000 });
    const m = /version "(\d+)/.exec(r);
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** True when the peer can run; throws in CI when it cannot, warns (and the suite is skipped) otherwise. */
export function requireLeshanBootstrap(): boolean {
  const missing: string[] = [];
  const java = javaVersion();
  if (java === undefined || java < 17) missing.push(`Java 17+ (found ${java ?? 'none'})`);
  if (!existsSync(JAR)) missing.push(`Leshan bootstrap-server peer ${JAR}`);
  if (missing.length === 0) return true;
  const message = `Leshan bootstrap interop: interop peer missing: ${missing.join(', ')} (run .ci/run, which builds it with mvn)`;
  if (IN_CI) throw new Error(`${message}; CI=true requires every interop peer`);
  console.warn(`SKIPPED ${message}`);
  return false;
}

/** One endpoint's configuration: the LwM2M server it is given (NoSec unless `psk`). */
export interface LeshanBootstrapClient {
  readonly endpoint: string;
  readonly serverUri: string;
  readonly ssid?: number;
  readonly lifetime?: number;
  readonly psk?: { identity: string; keyHex: string };
  /** Force the content format of the writes (default: the client's pct, else TLV). */
  readonly format?: number;
  /** Start with Bootstrap-Discover and write around the device's bootstrap account (default true). */
  readonly autoId?: boolean;
}

export interface LeshanBootstrap {
  readonly port: number;
  readonly uri: string;
  /** `EVENT ...` lines printed so far. */
  events(): string[];
  output(): string;
  stop(): void;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

export async function startLeshanBootstrap(
  clients: readonly LeshanBootstrapClient[],
  timeoutMs = 60_000,
): Promise<LeshanBootstrap> {
  const port = await freeUdpPort();
  const args = ['-Xmx192m', '-jar', JAR, '--host', '127.0.0.1', '--port', String(port)];
  for (const c of clients) {
    let spec = `${c.endpoint}=${c.serverUri}`;
    if (c.ssid !== undefined) spec += `,ssid=${c.ssid}`;
    if (c.lifetime !== undefined) spec += `,lifetime=${c.lifetime}`;
    if (c.psk !== undefined) spec += `,psk=${c.psk.identity}:${c.psk.keyHex}`;
    if (c.format !== undefined) spec += `,format=${c.format}`;
    if (c.autoId === false) spec += ',autoid=false';
    args.push('--client', spec);
  }
  // Californium writes nothing to the working directory with the builder's default network config
  const child = spawn('java', args, { cwd: DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  let ready = false;
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-262_144);
    if (/^READY port=/m.test(output)) ready = true;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + timeoutMs;
  while (!ready) {
    if (child.exitCode !== null) throw new Error(`Leshan bootstrap server exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`Leshan bootstrap server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    uri: `coap://127.0.0.1:${port}`,
    events: () => output.split('\n').filter((l) => l.startsWith('EVENT ')),
    output: () => output,
    stop: () => child.kill('SIGKILL'),
  };
}
