/**
 * `lwm2m server` of this repository, in-process (its `main`, as `packages/lwm2m/test/e2e` runs it) on UDP
 * loopback with the REST API on an ephemeral port.
 */
import { DEFAULT_TRANSMISSION_PARAMETERS } from '../../coap-core/src/index.js';
import { UdpTransport } from '../../coap-core/src/transport/udp.js';
import { main } from '../../lwm2m/src/cli/main.js';
import { FirmwareCampaigns, Lwm2mServer } from '../../lwm2m/src/index.js';
import { createRestApi, startRestApi } from '../../lwm2m/src/node/index.js';

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

/**
 * The same server (an `Lwm2mServer` with firmware campaigns and the REST API) built in-process with
 * CoAP transmission parameters of the test's choosing (RFC 7252 §4.8.1 lets a deployment adjust
 * ACK_TIMEOUT and MAX_RETRANSMIT) and a request timeout that covers MAX_TRANSMIT_WAIT, so every
 * retransmission of a request to the device goes out (with the defaults, 30 s cut the fifth).
 */
export async function startTunedServer(tuning: {
  ackTimeout?: number;
  maxRetransmit?: number;
  /** Queue mode (Core §6.5): ms a queue-mode device is taken to be awake after it last spoke. */
  awakeTime?: number;
}): Promise<RunningServer> {
  const ackTimeout = tuning.ackTimeout ?? DEFAULT_TRANSMISSION_PARAMETERS.ackTimeout;
  const maxRetransmit = tuning.maxRetransmit ?? DEFAULT_TRANSMISSION_PARAMETERS.maxRetransmit;
  const parameters = { ...DEFAULT_TRANSMISSION_PARAMETERS, ackTimeout, maxRetransmit };
  // MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2), plus a second for the answer
  const wait = ackTimeout * (2 ** (maxRetransmit + 1) - 1) * parameters.ackRandomFactor + 1000;
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const server = new Lwm2mServer({
    transport,
    endpointOptions: { parameters },
    limits: {
      requestTimeout: wait,
      ...(tuning.awakeTime === undefined ? {} : { awakeTime: tuning.awakeTime }),
    },
  });
  const coapPort = server.endpoint.transport.local.port;
  const firmware = new FirmwareCampaigns({
    server,
    publicUri: `coap://127.0.0.1:${coapPort}`,
    requestTimeout: wait,
  });
  const app = await createRestApi({ server, firmware });
  const url = await startRestApi(app, { host: '127.0.0.1', port: 0 });
  return {
    coapPort,
    api: url,
    out: () => '',
    stop: async () => {
      await app.close();
      firmware.close();
      await server.close();
      await transport.close();
      return 0;
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
