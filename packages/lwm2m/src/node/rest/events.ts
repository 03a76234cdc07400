/**
 * Server-sent events (HTML Living Standard §9.2, `text/event-stream`) for `GET /api/events`: one hub fans
 * each event out to the open streams. Bounded: a stream whose unsent bytes pass `maxBufferedBytes` (a
 * consumer that does not read) is dropped, not buffered for ever; heartbeat comments keep proxies and
 * clients from timing out an idle stream.
 */

/** Where a stream writes: an `http.ServerResponse` fits. */
export interface EventSink {
  write(chunk: string): boolean;
  /** Bytes accepted by `write` and not yet handed to the socket. */
  readonly writableLength: number;
  destroy(): void;
}

export interface EventHubOptions {
  /** Milliseconds between heartbeat comments (default 15000; 0 = none). */
  readonly heartbeatMs?: number;
  /** Unsent bytes after which a stream is dropped (default 1 MiB). */
  readonly maxBufferedBytes?: number;
}

export interface StreamFilter {
  /** Only events of this endpoint (events that name no endpoint, like campaign ends, still pass). */
  readonly endpoint?: string;
}

interface Stream {
  readonly sink: EventSink;
  readonly filter: StreamFilter;
}

export class EventHub {
  private readonly streams = new Set<Stream>();
  private readonly heartbeatMs: number;
  private readonly maxBufferedBytes: number;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Streams dropped because they fell behind. */
  dropped = 0;

  constructor(options: EventHubOptions = {}) {
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1 << 20;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Adds a stream; returns the function that removes it (call it when the connection closes). */
  add(sink: EventSink, filter: StreamFilter = {}): () => void {
    const stream: Stream = { sink, filter };
    this.streams.add(stream);
    if (this.heartbeat === undefined && this.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.broadcast(': heartbeat\n\n', undefined), this.heartbeatMs);
      this.heartbeat.unref();
    }
    return () => this.remove(stream);
  }

  /** Sends `data` as JSON under the event name `event` to every stream that wants it. */
  publish(event: string, data: unknown, endpoint?: string): void {
    if (this.streams.size === 0) return;
    // JSON.stringify escapes line breaks, so the data is one `data:` line
    this.broadcast(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`, endpoint);
  }

  /** Ends every stream (the API is closing). */
  close(): void {
    for (const s of [...this.streams]) {
      this.remove(s);
      s.sink.destroy();
    }
  }

  private broadcast(chunk: string, endpoint: string | undefined): void {
    for (const s of [...this.streams]) {
      const wanted = s.filter.endpoint;
      if (endpoint !== undefined && wanted !== undefined && wanted !== endpoint) continue;
      if (s.sink.writableLength + chunk.length > this.maxBufferedBytes) {
        this.dropped++;
        this.remove(s);
        s.sink.destroy();
        continue;
      }
      s.sink.write(chunk);
    }
  }

  private remove(stream: Stream): void {
    this.streams.delete(stream);
    if (this.streams.size === 0 && this.heartbeat !== undefined) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }
}
