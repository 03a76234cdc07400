/**
 * `lwm2m server` of this repository, in-process (its `main`, as `packages/lwm2m/test/e2e` runs it) on UDP
 * loopback with the REST API on an ephemeral port.
 */
import { main } from '../../lwm2m/src/cli/main.js';

export interface RunningServer {
  /** The CoAP port on 127.0.0.1. */
  coapPort: number;
  /** The REST API base, e.g. http://127.0.0.1:41234 */
  api: string;
  out(): string;
  stop(): Promise<number>;
}

export async function startLwm2mServer(extra: string[] = []): Promise<RunningServer> {
  let out = '';
  const io = { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (out += d) } };
  const abort = new AbortController();
  const exit = main(
    ['server', '--coap-port', '0', '--http-port', '0', '--coap-host', '127.0.0.1', ...extra],
    io,
    abort.signal,
  );
  const end = Date.now() + 15_000;
  const started = () => /udp \S+:(\d+), REST API on (http:\/\/\S+)\/api/.exec(out);
  let m = started();
  while (m === null) {
    if (Date.now() > end) throw new Error(`lwm2m server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 20));
    m = started();
  }
  return {
    coapPort: Number(m[1]),
    api: m[2]!,
    out: () => out,
    stop: async () => {
      abort.abort();
      return exit;
    },
  };
}

/** JSON from the REST API, failing with the body on a non-2xx status. */
export async function api<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${text}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** A device app from test/apps with its placeholders filled in. */
export function app(text: string, values: Record<string, string | number>): string {
  return text.replace(/__([A-Z]+)__/g, (_, k: string) => String(values[k] ?? `__${k}__`));
}
