/**
 * Pull of firmware packages over http:// and https:// (Node adapter, `node:http` / `node:https`), for the
 * Firmware Update object: `installFirmwareUpdate(client, { fetchers: [httpPackageFetcher()], … })`.
 *
 * A pull that broke off resumes with a Range request from the byte it stopped at (`If-Range` with the
 * ETag seen first, RFC 9110 §13.1.5); a server that ignores ranges sends the whole body again and the
 * bytes already received are skipped.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { FetchError, type PackageFetcher } from '../client/firmware/firmware.js';

export interface HttpFetcherOptions {
  /** Milliseconds without data before an attempt counts as a lost connection (default 30 000). */
  readonly timeout?: number;
  /** Extra options for `https.request` (CA, client certificate…). */
  readonly tls?: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
}

export function httpPackageFetcher(options: HttpFetcherOptions = {}): PackageFetcher {
  return {
    schemes: ['http', 'https'],
    fetch(req) {
      let url: URL;
      try {
        url = new URL(req.uri);
      } catch {
        return Promise.reject(new FetchError('invalid-uri', `not a URL: ${req.uri}`));
      }
      const headers: Record<string, string> = {};
      if (req.offset > 0) {
        headers.range = `bytes=${req.offset}-`;
        if (req.resume.validator !== undefined) headers['if-range'] = req.resume.validator;
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        const finish = (e?: Error) => {
          if (settled) return;
          settled = true;
          req.signal.removeEventListener('abort', onAbort);
          if (e === undefined) resolve();
          else reject(e);
        };
        const onAbort = () => {
          r.destroy();
          finish(new FetchError('connection', 'aborted'));
        };
        const r = send(
          url,
          { method: 'GET', headers, ...(url.protocol === 'https:' ? (options.tls ?? {}) : {}) },
          (res: IncomingMessage) => {
            const status = res.statusCode ?? 0;
            if (
              status === 404 ||
              status === 410 ||
              (status >= 400 && status < 500 && status !== 408 && status !== 429)
            ) {
              res.resume();
              finish(new FetchError('invalid-uri', `GET ${req.uri} answered HTTP ${status}`));
              return;
            }
            if (status !== 200 && status !== 206) {
              res.resume();
              finish(new FetchError('connection', `GET ${req.uri} answered HTTP ${status}`));
              return;
            }
            const etag = res.headers.etag;
            let skip = 0;
            let total: number | undefined;
            const length = Number(res.headers['content-length']);
            if (status === 206) {
              const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
              if (m === null || Number(m[1]) !== req.offset) {
                res.resume();
                finish(new FetchError('connection', 'the server answered another range'));
                return;
              }
              if (m[3] !== '*') total = Number(m[3]);
              if (req.resume.validator !== undefined && etag !== undefined && etag !== req.resume.validator) {
                res.resume();
                finish(new FetchError('changed', 'the package changed (ETag)'));
                return;
              }
            } else {
              // a full body: the package from the start (a range ignored, or If-Range found it changed)
              if (req.offset > 0 && req.resume.validator !== undefined && etag !== req.resume.validator) {
                res.resume();
                finish(new FetchError('changed', 'the package changed (ETag)'));
                return;
              }
              skip = req.offset;
              if (Number.isFinite(length)) total = length;
            }
            if (req.resume.validator === undefined && etag !== undefined) req.resume.validator = etag;
            let received = 0;
            let queue = Promise.resolve();
            res.on('data', (data: Buffer) => {
              let chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
              if (skip > 0) {
                const n = Math.min(skip, chunk.length);
                skip -= n;
                chunk = chunk.subarray(n);
                if (chunk.length === 0) return;
              }
              received += chunk.length;
              // back-pressure: one chunk at a time into the sink
              res.pause();
              const copy = chunk.slice();
              queue = queue
                .then(() => req.onData(copy, total))
                .then(
                  () => {
                    if (!settled) res.resume();
                  },
                  (e: unknown) => {
                    r.destroy();
                    finish(e as Error);
                  },
                );
            });
            res.on('end', () => {
              void queue.then(() => {
                const expected = status === 206 || !Number.isFinite(length) ? undefined : length - req.offset;
                if (!res.complete || (expected !== undefined && received < expected))
                  finish(new FetchError('connection', 'the connection closed before the end of the package'));
                else finish();
              });
            });
            res.on('aborted', () => finish(new FetchError('connection', 'the connection was lost')));
            res.on('error', (e) => finish(new FetchError('connection', e.message)));
          },
        );
        r.setTimeout(options.timeout ?? 30_000, () => {
          r.destroy();
          finish(new FetchError('connection', 'no data from the server in time'));
        });
        r.on('error', (e) => finish(new FetchError('connection', e.message)));
        if (req.signal.aborted) onAbort();
        else req.signal.addEventListener('abort', onAbort, { once: true });
        r.end();
      });
    },
  };
}
