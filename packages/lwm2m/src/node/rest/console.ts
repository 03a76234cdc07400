/**
 * Serves the web console (the Vite build of packages/lwm2m-console) at `/`, next to the API at `/api/*`.
 *
 * Only the files found in the console folder when the API starts are served, read into memory then (a few
 * hundred kilobytes): a request names one of them or gets a 404, so no request path reaches the file
 * system (no traversal). `index.html` is revalidated on every load; the hashed files under `assets/` never
 * change under their names and are cached for a year. These routes need no token: the page has none until
 * the operator types it in, and it holds nothing secret.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A console file: served without the bearer token. */
    public?: boolean;
  }
}

const TYPES: { readonly [ext: string]: string } = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly immutable: boolean;
}

const MAX_FILES = 1000;

/** The console's files by URL path (`/index.html`, `/assets/index-abc123.js`). */
export function loadConsoleAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (d: string, depth: number) => {
    if (depth > 4) return;
    for (const name of readdirSync(d)) {
      if (name.startsWith('.')) continue;
      const file = join(d, name);
      const st = statSync(file);
      if (st.isDirectory()) walk(file, depth + 1);
      else if (st.isFile() && out.size < MAX_FILES) {
        const type = TYPES[extname(name).toLowerCase()];
        if (type === undefined) continue;
        const url = `/${relative(dir, file).split(sep).join('/')}`;
        const body = readFileSync(file);
        out.set(url, {
          body,
          type,
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
          immutable: url.startsWith('/assets/'),
        });
      }
    }
  };
  walk(dir, 0);
  return out;
}

const CSP =
  "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Adds `GET /` and `GET /<file>` for the console in `dir` (which must hold `index.html`). */
export function consoleRoutes(app: FastifyInstance, dir: string): void {
  const assets = loadConsoleAssets(dir);
  const index = assets.get('/index.html');
  if (index === undefined) throw new Error(`the console folder ${dir} has no index.html`);
  const send = (reply: FastifyReply, asset: Asset, ifNoneMatch: string | undefined) => {
    reply
      .header('content-type', asset.type)
      .header('etag', asset.etag)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (asset.type.startsWith('text/html')) reply.header('content-security-policy', CSP);
    if (ifNoneMatch === asset.etag) return reply.code(304).send();
    return reply.send(asset.body);
  };
  const config = { public: true };
  app.get('/', { config, schema: { hide: true } }, (req, reply) =>
    send(reply, index, req.headers['if-none-match']),
  );
  app.get<{ Params: { '*': string } }>('/*', { config, schema: { hide: true } }, (req, reply) => {
    const asset = assets.get(`/${req.params['*']}`);
    if (asset === undefined)
      return reply.code(404).send({ error: 'not-found', message: `no route GET ${req.url.split('?')[0]}` });
    return send(reply, asset, req.headers['if-none-match']);
  });
}
