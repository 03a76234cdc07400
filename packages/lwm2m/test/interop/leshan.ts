/**
 * Helpers to run Eclipse Leshan's server demo (fetched by `.ci/run` into `.interop/leshan/`) on loopback
 * and drive its REST API under `/api`. With CI=true a missing jar or Java fails the suite; elsewhere the
 * suite is skipped with a message naming the missing peer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  findLeshanJar,
  freeTcpPort,
  freeUdpPort,
  LESHAN_DIR,
  leshanServerDemoArgs,
  requireLeshan,
} from '@thimble/test-support/peers';
import { afterAll } from 'vitest';

export { findLeshanJar, freeUdpPort, requireLeshan };

export interface Leshan {
  readonly coapPort: number;
  /** CoAP over DTLS (PSK identities added through `PUT /api/security/clients`). */
  readonly coapsPort: number;
  readonly api: string;
  readonly output: () => string;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** Starts `java ARGS` in the interop folder (Leshan writes Californium.properties to its working directory). */
function startJava(args: readonly string[]): { process: ChildProcess; output: () => string } {
  const child = spawn('java', args, { cwd: LESHAN_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    // bounded: the last 64 KiB are enough for a diagnosis
    output = (output + d.toString()).slice(-65536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  children.push(child);
  return { process: child, output: () => output };
}

/**
 * Starts the demo server on loopback with free ports (CoAP, CoAPs, web) and waits for its REST API. A port
 * found free can be taken by another process before the JVM binds it: without a fixed `port`, a start that
 * fails with a BindException is tried again on new ports.
 */
export async function startLeshan(timeoutMs = 60_000, port?: number): Promise<Leshan> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLeshanOnce(timeoutMs, port);
    } catch (e) {
      if (port !== undefined || attempt >= 3 || !(e instanceof PortTaken)) throw e;
    }
  }
}

class PortTaken extends Error {}

async function startLeshanOnce(timeoutMs: number, port: number | undefined): Promise<Leshan> {
  const jar = findLeshanJar()!;
  const coapPort = port ?? (await freeUdpPort());
  const coapsPort = await freeUdpPort();
  const webPort = await freeTcpPort();
  const peer = startJava(leshanServerDemoArgs({ jar, coapPort, coapsPort, webPort, jvm: ['-Xmx256m'] }));
  const api = `http://127.0.0.1:${webPort}/api`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (peer.process.exitCode !== null) throw new Error(`Leshan exited:\n${peer.output()}`);
    if (port === undefined && peer.output().includes('java.net.BindException')) {
      peer.process.kill('SIGKILL');
      throw new PortTaken(`Leshan could not bind its ports:\n${peer.output()}`);
    }
    try {
      const r = await fetch(`${api}/clients`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return { coapPort, coapsPort, api, output: peer.output };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Leshan did not start within ${timeoutMs} ms:\n${peer.output()}`);
}

/** A REST call; returns the parsed JSON body (or text when it is not JSON) and the HTTP status. */
export async function rest(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> & { content?: LeshanNode } }> {
  const r = await fetch(url, {
    method,
    signal: AbortSignal.timeout(15_000),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: r.status, json };
}

/** Leshan's JSON view of a node. */
export interface LeshanNode {
  id: number;
  value?: unknown;
  values?: Record<string, unknown>;
  resources?: LeshanNode[];
  instances?: LeshanNode[];
}

export interface LeshanEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Listens to the demo's server-sent events for one endpoint (`/api/event?ep=`). */
export function listenEvents(
  api: string,
  endpoint: string,
): { events: LeshanEvent[]; close: () => void; ready: Promise<void> } {
  const events: LeshanEvent[] = [];
  const controller = new AbortController();
  const ready = (async () => {
    const r = await fetch(`${api}/event?ep=${encodeURIComponent(endpoint)}`, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    });
    const reader = r.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          // blocks end with an empty line; Jetty ends lines with CRLF
          for (let m = /\r?\n\r?\n/.exec(buffer); m !== null; m = /\r?\n\r?\n/.exec(buffer)) {
            const block = buffer.slice(0, m.index);
            buffer = buffer.slice(m.index + m[0].length);
            let event = 'message';
            let data = '';
            for (const line of block.split(/\r?\n/)) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            try {
              events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
            } catch {
              events.push({ event, data: { raw: data } });
            }
          }
        }
      } catch {
        // aborted
      }
    })();
  })();
  return { events, close: () => controller.abort(), ready };
}

/** Polls `check` until it returns true or the time runs out. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`);
}
