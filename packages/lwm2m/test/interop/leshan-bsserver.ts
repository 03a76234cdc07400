/**
 * Helpers for the two peers of the Maven project test/interop/leshan-bsserver/ (built by `.ci/run` into
 * `.interop/leshan-bsserver/`, one jar): Leshan 2.0.0-M4's bootstrap server with the configurations given on
 * its command line, printing one line per session event; and a Leshan 2.0.0-M4 LwM2M server (the library,
 * not the demo) that runs Read-Composite / Write-Composite / Read commands read from its stdin. With CI=true
 * a missing jar or Java fails the suite; elsewhere the suite is skipped with a message naming the missing peer.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freeUdpPort, requireJavaPeer } from '@thimble/test-support/peers';
import { afterAll } from 'vitest';

const DIR = fileURLToPath(new URL('../../../../.interop/leshan-bsserver/', import.meta.url));
const JAR = `${DIR}thimble-leshan-bsserver.jar`;

function requireJar(suite: string, peer: string): boolean {
  return requireJavaPeer(suite, [{ what: peer, path: JAR }], 'run .ci/run, which builds it with mvn');
}

/** True when the peer can run; throws in CI when it cannot, warns (and the suite is skipped) otherwise. */
export function requireLeshanBootstrap(): boolean {
  return requireJar('Leshan bootstrap interop', 'Leshan bootstrap-server peer');
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

/** True when the Leshan server peer can run; throws in CI when it cannot, warns (the suite is skipped) otherwise. */
export function requireLeshanServerPeer(): boolean {
  return requireJar('Leshan composite interop', 'Leshan server peer (ThimbleLeshanServer)');
}

/** One command's answer from the Leshan server peer (see ThimbleLeshanServer.java). */
export interface LeshanPeerResult {
  readonly cmd: string;
  /** CoAP code as Leshan numbers it, e.g. 205, 204. */
  readonly code?: number;
  readonly name?: string;
  /** The Content-Format of the client's response, when it had one. */
  readonly format?: number;
  readonly error?: string;
  /** Path -> value: a single value, or `{ instanceId: value }` for a multiple resource. */
  readonly values?: { readonly [path: string]: unknown };
  /** The request failed inside Leshan (timeout, exception). */
  readonly failure?: string;
}

export interface LeshanServerPeer {
  readonly port: number;
  readonly uri: string;
  /** `EVENT ...` lines printed so far. */
  events(): string[];
  output(): string;
  /** Sends one command line and resolves with its result. */
  command(line: string, timeoutMs?: number): Promise<LeshanPeerResult>;
  stop(): void;
}

/** Starts Leshan's server library on an unsecured UDP port of 127.0.0.1. */
export async function startLeshanServerPeer(timeoutMs = 30_000): Promise<LeshanServerPeer> {
  const port = await freeUdpPort();
  const args = [
    '-Xmx192m',
    '-cp',
    `${JAR}:${DIR}lib/*`,
    'ThimbleLeshanServer',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
  ];
  const child: ChildProcessWithoutNullStreams = spawn('java', args, { cwd: DIR, stdio: 'pipe' });
  children.push(child);
  let output = '';
  let pending = '';
  const results: LeshanPeerResult[] = [];
  child.stdout.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-262_144);
    pending += d.toString();
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.startsWith('RESULT ')) results.push(JSON.parse(line.slice(7)) as LeshanPeerResult);
      nl = pending.indexOf('\n');
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-262_144);
  });
  const deadline = Date.now() + timeoutMs;
  while (!/^READY port=/m.test(output)) {
    if (child.exitCode !== null) throw new Error(`Leshan server peer exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`Leshan server peer did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let sent = 0;
  return {
    port,
    uri: `coap://127.0.0.1:${port}`,
    events: () => output.split('\n').filter((l) => l.startsWith('EVENT ')),
    output: () => output,
    command: async (line, ms = 10_000) => {
      // results come back in command order, one each
      const index = sent++;
      child.stdin.write(`${line}\n`);
      const end = Date.now() + ms;
      while (results.length <= index) {
        if (child.exitCode !== null) throw new Error(`Leshan server peer exited:\n${output}`);
        if (Date.now() > end) throw new Error(`no result for "${line}":\n${output}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return results[index]!;
    },
    stop: () => child.kill('SIGKILL'),
  };
}
