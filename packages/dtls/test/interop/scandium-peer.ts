/**
 * Launcher for the Scandium interop peer (the Java program in ./scandium/, built by `.ci/run` into
 * .interop/scandium/): starts its DTLS echo server or CoAP-over-DTLS server, runs its client modes, and
 * parses the lines it prints. The command-line contract is the header of scandium/src/ThimbleScandium.java.
 *
 * With CI=true a missing peer (java, the built jar) fails the suite; elsewhere the suite is skipped with a
 * message naming the missing peer.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

/** The built peer: `.interop/scandium/thimble-scandium.jar` at the repository root. */
export const SCANDIUM_JAR = fileURLToPath(
  new URL('../../../../.interop/scandium/thimble-scandium.jar', import.meta.url),
);

const IN_CI = process.env.CI === 'true';

function hasExecutable(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the Scandium peer (and any other executables the suite names, e.g. `openssl`) can run. Throws in
 * CI when one is missing; otherwise warns naming it and returns false (the suite then shows as skipped).
 */
export function requireScandium(suite: string, alsoExecutables: readonly string[] = []): boolean {
  const missing = ['java', ...alsoExecutables].filter((e) => !hasExecutable(e));
  if (!existsSync(SCANDIUM_JAR))
    missing.push(
      `${SCANDIUM_JAR} (build: bash .ci/run, or mvn -f packages/dtls/test/interop/scandium/pom.xml package)`,
    );
  if (missing.length === 0) return true;
  const message = `${suite}: interop peer missing: ${missing.join(', ')}`;
  if (IN_CI) throw new Error(`${message}; CI=true requires every interop peer`);
  console.warn(`SKIPPED ${message}`);
  return false;
}

/** DTLS credentials and options, each mapped to the peer's flag of the same name. */
export interface ScandiumCredentials {
  /** `--psk IDENTITY:HEXKEY`; a server takes them all, a client the first. */
  readonly psk?: readonly { readonly identity: string; readonly keyHex: string }[];
  /** `--ecdsa-key`: a P-256 private key, PKCS#8 PEM file. */
  readonly ecdsaKey?: string;
  /** `--ecdsa-cert-or-rpk`: an X.509 chain PEM file (leaf first) or a SubjectPublicKeyInfo PEM file (RPK). */
  readonly ecdsaCertOrRpk?: string;
  /** `--trust-rpk`: trusted peer public keys (SubjectPublicKeyInfo PEM files). */
  readonly trustRpk?: readonly string[];
  /** `--trust-ca`: trusted certificate PEM files. */
  readonly trustCa?: readonly string[];
  /** `--trust-all`: accept any peer certificate or raw public key. */
  readonly trustAll?: boolean;
  /** `--cid N`: RFC 9146 Connection ID of N bytes for records we receive (0 = supported, none wanted). */
  readonly cid?: number;
  /** `--suites`: IANA cipher suite names, e.g. TLS_PSK_WITH_AES_128_CCM_8. */
  readonly suites?: readonly string[];
  /** `--client-auth` (servers): default `needed` with trust anchors, `none` without. */
  readonly clientAuth?: 'none' | 'wanted' | 'needed';
}

/** The peer's command-line flags for a set of credentials. */
export function credentialArgs(c: ScandiumCredentials): string[] {
  const args: string[] = [];
  for (const p of c.psk ?? []) args.push('--psk', `${p.identity}:${p.keyHex}`);
  if (c.ecdsaKey !== undefined) args.push('--ecdsa-key', c.ecdsaKey);
  if (c.ecdsaCertOrRpk !== undefined) args.push('--ecdsa-cert-or-rpk', c.ecdsaCertOrRpk);
  for (const f of c.trustRpk ?? []) args.push('--trust-rpk', f);
  for (const f of c.trustCa ?? []) args.push('--trust-ca', f);
  if (c.trustAll) args.push('--trust-all');
  if (c.cid !== undefined) args.push('--cid', String(c.cid));
  if (c.suites !== undefined) args.push('--suites', c.suites.join(','));
  if (c.clientAuth !== undefined) args.push('--client-auth', c.clientAuth);
  return args;
}

/** One line the peer printed, parsed. */
export type ScandiumEvent =
  | { readonly kind: 'ready'; readonly port: number }
  | {
      readonly kind: 'session';
      readonly peer: string;
      /** `psk:<identity>`, `rpk:<SPKI DER hex>`, `x509:<subject DN>` (spaces as %20) or `none`. */
      readonly identity: string;
      readonly cipherSuite: string;
      /** The CID the peer puts in records it sends us, hex; null without one. */
      readonly cid: string | null;
      /** The CID we put in records we send, hex; null without one. */
      readonly peerCid: string | null;
    }
  | { readonly kind: 'address'; readonly from: string; readonly to: string }
  | { readonly kind: 'alert'; readonly peer: string; readonly level: string; readonly description: string }
  | { readonly kind: 'error'; readonly reason: string }
  | { readonly kind: 'recv'; readonly text: string }
  | { readonly kind: 'rebound'; readonly port: number }
  | { readonly kind: 'response'; readonly code: string; readonly payload: string }
  | { readonly kind: 'other'; readonly line: string };

/** Undoes the peer's escaping of RECV text (backslash, newline, carriage return). */
function unescapeRecv(text: string): string {
  return text.replace(/\\([\\nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'));
}

function cidValue(token: string | undefined, name: string): string | null {
  const value = token?.startsWith(`${name}=`) ? token.slice(name.length + 1) : 'none';
  return value === 'none' ? null : value;
}

/** Parses one stdout line of the peer. */
export function parseScandiumLine(line: string): ScandiumEvent {
  const space = line.indexOf(' ');
  const word = space < 0 ? line : line.slice(0, space);
  const rest = space < 0 ? '' : line.slice(space + 1);
  const t = rest.split(' ');
  switch (word) {
    case 'READY':
      return { kind: 'ready', port: Number(t[0]) };
    case 'SESSION':
      return {
        kind: 'session',
        peer: t[0] ?? '',
        identity: t[1] ?? '',
        cipherSuite: t[2] ?? '',
        cid: cidValue(t[3], 'cid'),
        peerCid: cidValue(t[4], 'peer-cid'),
      };
    case 'ADDRESS':
      return { kind: 'address', from: t[0] ?? '', to: t[1] ?? '' };
    case 'ALERT':
      return { kind: 'alert', peer: t[0] ?? '', level: t[1] ?? '', description: t[2] ?? '' };
    case 'ERROR':
      return { kind: 'error', reason: rest };
    case 'RECV':
      return { kind: 'recv', text: unescapeRecv(rest) };
    case 'REBOUND':
      return { kind: 'rebound', port: Number(t[0]) };
    case 'RESPONSE': {
      const code = t[0] ?? '';
      return { kind: 'response', code, payload: rest.slice(code.length + 1) };
    }
    default:
      return { kind: 'other', line };
  }
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** A running Scandium server (echo or CoAP). */
export interface ScandiumServer {
  /** The UDP port it listens on (from its READY line). */
  readonly port: number;
  /** Every line parsed so far, in order. */
  readonly events: readonly ScandiumEvent[];
  /** Resolves with the first event (already seen or coming) that matches; rejects after `timeoutMs`. */
  waitFor<E extends ScandiumEvent>(match: (e: ScandiumEvent) => e is E, timeoutMs?: number): Promise<E>;
  /** Everything printed on stdout and stderr, for diagnostics. */
  output(): string;
  /** Kills the process and waits for it to end. */
  close(): Promise<void>;
}

function watchLines(
  child: ChildProcess,
  onLine: (line: string) => void,
  onText: (text: string) => void,
): void {
  let pending = '';
  child.stdout?.on('data', (d: Buffer) => {
    const text = d.toString('utf8');
    onText(text);
    pending += text;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      onLine(pending.slice(0, nl).replace(/\r$/, ''));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  });
  child.stderr?.on('data', (d: Buffer) => onText(d.toString('utf8')));
}

/**
 * Starts `server` (DTLS echo) or `coap-server` on 127.0.0.1 and resolves once it printed READY. Port 0
 * (the default) lets the peer pick a free port, reported as `port`.
 */
export function startScandiumServer(
  options: ScandiumCredentials & { readonly mode?: 'server' | 'coap-server'; readonly port?: number },
  startTimeoutMs = 30_000,
): Promise<ScandiumServer> {
  const { mode = 'server', port = 0, ...credentials } = options;
  const child = spawn(
    'java',
    ['-jar', SCANDIUM_JAR, mode, '--port', String(port), ...credentialArgs(credentials)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const events: ScandiumEvent[] = [];
  const waiters: Array<(e: ScandiumEvent) => void> = [];
  let output = '';
  watchLines(
    child,
    (line) => {
      const e = parseScandiumLine(line);
      events.push(e);
      for (const w of [...waiters]) w(e);
    },
    (text) => {
      output += text;
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  function waitFor<E extends ScandiumEvent>(
    match: (e: ScandiumEvent) => e is E,
    timeoutMs = 10_000,
  ): Promise<E> {
    const seen = events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<E>((resolve, reject) => {
      const waiter = (e: ScandiumEvent) => {
        if (!match(e)) return;
        done();
        resolve(e);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`scandium ${mode}: no matching line within ${timeoutMs} ms\n${output}`));
      }, timeoutMs);
      const onExit = () => {
        done();
        reject(new Error(`scandium ${mode} exited (${child.exitCode})\n${output}`));
      };
      const done = () => {
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(waiter), 1);
        child.off('exit', onExit);
      };
      waiters.push(waiter);
      child.once('exit', onExit);
    });
  }

  return waitFor(
    (e): e is Extract<ScandiumEvent, { kind: 'ready' }> => e.kind === 'ready',
    startTimeoutMs,
  ).then(
    (ready) => ({
      port: ready.port,
      events,
      waitFor,
      output: () => output,
      close: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    }),
    (error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    },
  );
}

/** What a client run of the peer printed and how it ended. */
export interface ScandiumRun {
  /** Exit code: 0 when every exchange succeeded. */
  readonly code: number | null;
  readonly events: readonly ScandiumEvent[];
  readonly stdout: string;
  readonly stderr: string;
}

function runToEnd(args: readonly string[], timeoutMs: number): Promise<ScandiumRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-jar', SCANDIUM_JAR, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const events: ScandiumEvent[] = [];
    let stdout = '';
    let stderr = '';
    watchLines(
      child,
      (line) => events.push(parseScandiumLine(line)),
      () => {},
    );
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`scandium ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}${stderr}`),
      );
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, events, stdout, stderr });
    });
  });
}

/**
 * Runs the DTLS `client` mode: handshake with host:port, send `send` `count` times waiting for each answer
 * (RECV events), optionally moving to a new local port after `rebindAfter` answers (REBOUND event).
 */
export function runScandiumClient(
  options: ScandiumCredentials & {
    readonly host?: string;
    readonly port: number;
    readonly send: string;
    readonly count?: number;
    readonly rebindAfter?: number;
    /** Per answer, in the peer (default 10 s). */
    readonly answerTimeoutMs?: number;
  },
  timeoutMs = 60_000,
): Promise<ScandiumRun> {
  const { host = '127.0.0.1', port, send, count, rebindAfter, answerTimeoutMs, ...credentials } = options;
  const args = [
    'client',
    '--host',
    host,
    '--port',
    String(port),
    '--send',
    send,
    ...credentialArgs(credentials),
  ];
  if (count !== undefined) args.push('--count', String(count));
  if (rebindAfter !== undefined) args.push('--rebind-after', String(rebindAfter));
  if (answerTimeoutMs !== undefined) args.push('--timeout', String(answerTimeoutMs));
  return runToEnd(args, timeoutMs);
}

/** Runs the `coap-client` mode: one request to a coaps:// URI; a RESPONSE event on success. */
export function runScandiumCoapClient(
  options: ScandiumCredentials & {
    readonly uri: string;
    readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
    readonly payload?: string;
    readonly answerTimeoutMs?: number;
  },
  timeoutMs = 60_000,
): Promise<ScandiumRun> {
  const { uri, method, payload, answerTimeoutMs, ...credentials } = options;
  const args = ['coap-client', '--uri', uri, ...credentialArgs(credentials)];
  if (method !== undefined) args.push('--method', method);
  if (payload !== undefined) args.push('--payload', payload);
  if (answerTimeoutMs !== undefined) args.push('--timeout', String(answerTimeoutMs));
  return runToEnd(args, timeoutMs);
}
