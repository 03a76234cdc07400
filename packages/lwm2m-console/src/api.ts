/**
 * The console's access to the REST API of `lwm2m server`: JSON requests with the bearer token from session
 * storage, errors as `ApiError` (the API's `{ error, message }`), and server-sent events read from a
 * `fetch` stream (an `EventSource` cannot send the Authorization header).
 */

const TOKEN_KEY = 'thimble-console-token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const getToken = (): string => sessionStorage.getItem(TOKEN_KEY) ?? '';
export const setToken = (token: string): void => {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
};

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return { ...(token === '' ? {} : { authorization: `Bearer ${token}` }), ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let code = `http-${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: string; message?: string; coapCode?: string };
    if (typeof body.error === 'string') code = body.error;
    if (typeof body.message === 'string')
      message = body.coapCode === undefined ? body.message : `${body.message} (CoAP ${body.coapCode})`;
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(res.status, code, message);
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A JSON request; resolves with the JSON answer (undefined for 204). */
export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: headers() };
  if (body !== undefined) {
    init.headers = headers({ 'content-type': 'application/json' });
    init.body = JSON.stringify(body);
  } else if (method !== 'GET') {
    // state-changing requests always say they are JSON (a cross-site form cannot), DELETE included
    init.headers = headers({ 'content-type': 'application/json' });
    init.body = '{}';
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Uploads bytes (a firmware image). */
export async function upload<T>(path: string, data: Blob): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/octet-stream' }),
    body: data,
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export interface StreamHandlers {
  onEvent(name: string, data: unknown): void;
  onState?(state: 'open' | 'closed' | 'error', detail?: string): void;
}

/**
 * Reads an event stream (`text/event-stream`) until `signal` aborts; reconnects after a drop, waiting a
 * little longer each time (at most 10 s).
 */
export function stream(path: string, handlers: StreamHandlers, signal: AbortSignal): void {
  let delay = 500;
  const run = async (): Promise<void> => {
    while (!signal.aborted) {
      try {
        const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal });
        if (!res.ok || res.body === null) throw await failure(res);
        handlers.onState?.('open');
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            dispatch(buffer.slice(0, end), handlers);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
          }
        }
        handlers.onState?.('closed');
      } catch (e) {
        if (signal.aborted) return;
        handlers.onState?.('error', (e as Error).message);
        // a refused token will not get better by retrying quickly
        if (e instanceof ApiError && e.status === 401) delay = 10_000;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
}

function dispatch(block: string, handlers: StreamHandlers): void {
  let name = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return;
  try {
    handlers.onEvent(name, JSON.parse(data.join('\n')));
  } catch {
    // a malformed event is skipped
  }
}
