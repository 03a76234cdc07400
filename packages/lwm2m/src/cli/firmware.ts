/**
 * `lwm2m firmware push`: uploads an image to a running `lwm2m server` (REST API), starts a campaign on one
 * device and follows it — server-sent events from `/api/events`, or polling the campaign when the event
 * stream is not there or ends — with a progress bar on stderr. Exit 0 only when the device's update
 * `succeeded` (see README.md, "The lwm2m firmware push command").
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { CampaignStatus, DeviceCampaignStatus, FirmwareImageInfo } from '../server/firmware/types.js';
import type { CliIo } from './io.js';

export const FIRMWARE_USAGE = `  lwm2m firmware push --server http://127.0.0.1:8080 --endpoint EP --file IMAGE [--method push|pull] [--token T]

Firmware options:
      --server URL        the lwm2m server's REST API (default http://127.0.0.1:8080)
  -e, --endpoint NAME     the device to update
  -f, --file PATH         the firmware image
      --method METHOD     push (Block1 writes of /5/0/0, default) or pull (the device downloads /5/0/1)
      --name NAME         image name on the server (default: the file name)
      --token TOKEN       bearer token of the API (or set LWM2M_API_TOKEN)
`;

export interface FirmwarePushOptions {
  /** Follow the campaign with server-sent events (default true); polling otherwise and as the fallback. */
  readonly events?: boolean;
  /** Milliseconds between polls (default 1000). */
  readonly pollMs?: number;
}

type Stderr = CliIo['stderr'] & { isTTY?: boolean };

/** Progress on stderr: one redrawn line on a terminal, else a line per state and per 10 %. */
class ProgressBar {
  private lastState = '';
  private lastTenth = -1;
  private drawn = false;

  constructor(private readonly out: Stderr) {}

  update(d: DeviceCampaignStatus): void {
    const ratio = d.totalBytes > 0 ? Math.min(1, d.bytesSent / d.totalBytes) : 0;
    const percent = Math.floor(ratio * 100);
    const bytes = `${kib(d.bytesSent)}/${kib(d.totalBytes)} KiB`;
    if (this.out.isTTY === true) {
      const filled = Math.round(ratio * 30);
      const bar = `${'#'.repeat(filled)}${'-'.repeat(30 - filled)}`;
      this.out.write(`\r${d.state.padEnd(11)} [${bar}] ${String(percent).padStart(3)}% ${bytes}\x1b[K`);
      this.drawn = true;
      return;
    }
    const tenth = Math.floor(percent / 10);
    if (d.state === this.lastState && tenth === this.lastTenth) return;
    this.lastState = d.state;
    this.lastTenth = tenth;
    this.out.write(`${d.state} ${percent}% ${bytes}\n`);
  }

  /** Ends the redrawn line before other output. */
  end(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

const kib = (n: number): string => (n / 1024).toFixed(1);

/** Server-sent events from a fetch body: calls `onEvent(name, data)` per event; resolves when the stream ends. */
export async function readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (name: string, data: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) onEvent(name, data.join('\n'));
      end = buffer.indexOf('\n\n');
    }
  }
}

/** Runs `lwm2m firmware push`; resolves with the exit code. */
export async function runFirmware(
  argv: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
  options: FirmwarePushOptions = {},
): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    io.stderr.write(
      `lwm2m firmware: ${(e as Error).message} (\`lwm2m firmware --help\` lists the options)\n`,
    );
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    io.stdout.write(`Usage:\n${FIRMWARE_USAGE}`);
    return 0;
  }
  if (positionals[0] !== 'push' || positionals.length > 1) {
    io.stderr.write(
      'lwm2m firmware: the command is "firmware push" (`lwm2m firmware --help` lists the options)\n',
    );
    return 2;
  }
  const method = values.method ?? 'push';
  if (
    values.endpoint === undefined ||
    values.file === undefined ||
    (method !== 'push' && method !== 'pull')
  ) {
    io.stderr.write(`lwm2m firmware push: --endpoint and --file are required, --method is push or pull\n`);
    return 2;
  }
  const base = (values.server ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(base)) {
    io.stderr.write('lwm2m firmware push: --server must be http://HOST:PORT\n');
    return 2;
  }
  const token = values.token ?? process.env.LWM2M_API_TOKEN;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const endpoint = values.endpoint;
  const stderr = io.stderr as Stderr;
  const bar = new ProgressBar(stderr);
  // ends the event stream and the polling when the command is done or interrupted
  const done = new AbortController();
  const onAbort = () => done.abort();
  signal?.addEventListener('abort', onAbort, { once: true });

  const api = async <T>(
    method: string,
    path: string,
    body?: Uint8Array | object,
    type?: string,
  ): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': type ?? 'application/json' }) },
      ...(body === undefined ? {} : { body: body instanceof Uint8Array ? body : JSON.stringify(body) }),
      signal: done.signal,
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not JSON: the text as it is
      }
      throw new Error(`${method} ${path}: ${res.status} ${message}`);
    }
    return JSON.parse(text) as T;
  };

  try {
    const image = await readFile(values.file);
    // events first, so no progress is missed between the start of the campaign and the subscription
    let events: Promise<void> | undefined;
    let wake: () => void = () => {};
    // events may come before the campaign's id does (a campaign can end at once): kept until it is known
    const progress: (DeviceCampaignStatus & { campaignId: string })[] = [];
    const finishedById = new Map<string, CampaignStatus>();
    if (options.events !== false) {
      const res = await fetch(`${base}/api/events?endpoint=${encodeURIComponent(endpoint)}`, {
        headers: { ...auth, accept: 'text/event-stream' },
        signal: done.signal,
      }).catch(() => undefined);
      if (res?.ok && res.body !== null) {
        events = readServerSentEvents(res.body, (name, data) => {
          if (name === 'firmware-progress') {
            const p = JSON.parse(data) as DeviceCampaignStatus & { campaignId: string };
            if (p.endpoint !== endpoint) return;
            progress.push(p);
          } else if (name === 'campaign-finished') {
            const c = JSON.parse(data) as CampaignStatus;
            finishedById.set(c.id, c);
          } else return;
          wake();
        }).catch(() => undefined);
      } else {
        await res?.body?.cancel();
        stderr.write('event stream not available: polling the campaign\n');
      }
    }

    const info = await api<FirmwareImageInfo>(
      'POST',
      `/api/firmware?name=${encodeURIComponent(values.name ?? basename(values.file))}`,
      image,
      'application/octet-stream',
    );
    stderr.write(`uploaded "${info.name}": ${info.size} bytes, sha256 ${info.sha256}\n`);
    let campaign = await api<CampaignStatus>('POST', '/api/firmware/campaigns', {
      imageId: info.id,
      targets: [endpoint],
      method,
    });
    const campaignId = campaign.id;
    stderr.write(`campaign ${campaignId}: ${method} to "${endpoint}"\n`);

    let streaming = events !== undefined;
    void events?.then(() => {
      streaming = false;
      wake();
    });
    const pollMs = options.pollMs ?? 1000;
    while (campaign.state !== 'finished' && !finishedById.has(campaignId)) {
      if (streaming) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (progress.length > 0 || finishedById.has(campaignId) || !streaming) resolve();
        });
        for (const p of progress.splice(0)) if (p.campaignId === campaignId) bar.update(p);
        if (done.signal.aborted) throw new Error('interrupted');
        continue;
      }
      // no event stream (any more): poll
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      if (done.signal.aborted) throw new Error('interrupted');
      campaign = await api<CampaignStatus>(
        'GET',
        `/api/firmware/campaigns/${encodeURIComponent(campaignId)}`,
      );
      const device = campaign.devices.find((d) => d.endpoint === endpoint);
      if (device !== undefined) bar.update(device);
    }
    const final = finishedById.get(campaignId) ?? campaign;
    const device = final.devices.find((d) => d.endpoint === endpoint);
    if (device !== undefined) bar.update(device);
    bar.end();
    if (device?.state === 'succeeded') {
      io.stdout.write(`firmware updated on "${endpoint}"\n`);
      return 0;
    }
    const why =
      device === undefined
        ? 'the campaign does not list the device'
        : `${device.state}${device.error === undefined ? '' : `: ${device.error}`}${device.updateResult === undefined ? '' : ` (Update Result ${device.updateResult})`}`;
    stderr.write(`lwm2m firmware push: update of "${endpoint}" ${why}\n`);
    return 1;
  } catch (e) {
    bar.end();
    // fetch failures say little (`fetch failed`): the cause says more (ECONNREFUSED)
    const c = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
    const cause = c?.code ?? c?.message;
    const message = signal?.aborted
      ? 'interrupted'
      : `${(e as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}`;
    stderr.write(`lwm2m firmware push: ${message}\n`);
    return 1;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    done.abort();
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      server: { type: 'string', short: 's' },
      endpoint: { type: 'string', short: 'e' },
      file: { type: 'string', short: 'f' },
      method: { type: 'string' },
      name: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
