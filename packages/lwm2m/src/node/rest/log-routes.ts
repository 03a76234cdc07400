/**
 * `/api/clients/:endpoint/log`: the device's CoAP messages (see `CoapMessageLog`) as server-sent events
 * (`event: coap`), the entries already logged first; `/api/clients/:endpoint/log/entries` as JSON.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors.js';
import type { CoapLogEntry, CoapMessageLog } from './message-log.js';
import { endpointParam, errors } from './schemas.js';

const entrySchema = {
  type: 'object',
  properties: {
    time: { type: 'number' },
    direction: { type: 'string', enum: ['in', 'out'] },
    type: { type: 'string' },
    code: { type: 'string' },
    messageId: { type: 'integer' },
    token: { type: 'string' },
    options: { type: 'array', items: { type: 'string' } },
    payload: { type: 'string' },
    size: { type: 'integer' },
  },
} as const;

const params = { type: 'object', required: ['endpoint'], properties: { endpoint: endpointParam } } as const;

export interface LogRouteOptions {
  /** Unsent bytes after which a stream is dropped (default 1 MiB). */
  readonly maxBufferedBytes?: number;
  /** Milliseconds between heartbeat comments (default 15000). */
  readonly heartbeatMs?: number;
}

export function logRoutes(
  app: FastifyInstance,
  log: CoapMessageLog | undefined,
  options: LogRouteOptions = {},
): void {
  const tags = ['events'];
  const need = (): CoapMessageLog => {
    if (log === undefined)
      throw new HttpError(501, 'not-implemented', 'this server keeps no CoAP message log');
    return log;
  };
  const maxBuffered = options.maxBufferedBytes ?? 1 << 20;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });

  app.get<{ Params: { endpoint: string } }>(
    '/api/clients/:endpoint/log/entries',
    {
      schema: {
        summary:
          "The device's CoAP messages logged so far (oldest first; logging starts when first asked for)",
        tags,
        params,
        response: { 200: { type: 'array', items: entrySchema }, ...errors(400, 401, 501) },
      },
    },
    async (req) => {
      const l = need();
      // asking starts logging, as the stream does
      l.watch(req.params.endpoint, () => undefined)();
      return l.entries(req.params.endpoint);
    },
  );

  app.get<{ Params: { endpoint: string } }>(
    '/api/clients/:endpoint/log',
    {
      schema: {
        summary:
          "Server-sent events: the device's CoAP messages (event: coap; data: direction, type, code, Message ID, token, options, payload preview), bounded per device",
        tags,
        params,
        response: {
          200: { content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errors(400, 401, 501),
        },
      },
    },
    (req, reply) => {
      const l = need();
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let ended = false;
      const write = (chunk: string) => {
        if (ended) return;
        // a reader that does not keep up is dropped, not buffered for ever
        if (res.writableLength + chunk.length > maxBuffered) return end();
        res.write(chunk);
      };
      const send = (e: CoapLogEntry) => write(`event: coap\ndata: ${JSON.stringify(e)}\n\n`);
      write(': connected\n\n');
      for (const e of l.entries(req.params.endpoint)) send(e);
      const unwatch = l.watch(req.params.endpoint, send);
      const heartbeat =
        heartbeatMs > 0 ? setInterval(() => write(': heartbeat\n\n'), heartbeatMs) : undefined;
      heartbeat?.unref();
      function end() {
        if (ended) return;
        ended = true;
        unwatch();
        if (heartbeat !== undefined) clearInterval(heartbeat);
        streams.delete(end);
        res.destroy();
      }
      streams.add(end);
      res.on('close', end);
    },
  );
}
