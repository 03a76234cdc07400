/**
 * `coap serve DIR`: a CoAP file server. GET returns a file's bytes with a Content-Format from its
 * extension, PUT creates or replaces a file, DELETE removes it, `/.well-known/core` lists the files.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import type { CoapEndpoint, CoapRequest, ResponseInit } from '../endpoint/endpoint.js';
import type { Link } from '../link-format/index.js';
import { Code } from '../message/constants.js';
import { contentFormatForExtension } from '../message/content-formats.js';

export interface FileServerOptions {
  /** Largest file accepted by PUT, in bytes (default 1 MiB). */
  readonly maxUpload?: number;
}

/** Maps request path segments to a file below `root`, refusing anything that would escape it. */
function fileFor(root: string, segments: readonly string[]): string | undefined {
  if (segments.length === 0) return undefined;
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || s.includes('/') || s.includes('\\') || s.includes('\0')) {
      return undefined;
    }
  }
  const path = resolve(root, ...segments);
  return path.startsWith(root + sep) ? path : undefined;
}

async function listFiles(root: string, dir = root, out: string[] = [], limit = 10_000): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (out.length >= limit) break;
    const p = join(dir, e.name);
    if (e.isDirectory()) await listFiles(root, p, out, limit);
    else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
  }
  return out;
}

/** Installs the file server's routes on an endpoint. */
export async function serveDirectory(
  endpoint: CoapEndpoint,
  directory: string,
  options: FileServerOptions = {},
): Promise<void> {
  const root = resolve(directory);
  await mkdir(root, { recursive: true });
  const maxUpload = options.maxUpload ?? 1024 * 1024;
  let cachedLinks: Link[] = [];
  const refreshLinks = async () => {
    const files = await listFiles(root);
    cachedLinks = files.sort().map((f) => ({
      target: `/${f.split('/').map(encodeURIComponent).join('/')}`,
      attributes: [{ name: 'ct', value: String(contentFormatForExtension(extname(f))) }],
    }));
  };
  await refreshLinks();
  endpoint.addLinkProvider(() => cachedLinks);

  const get = async (req: CoapRequest): Promise<ResponseInit> => {
    const file = fileFor(root, req.path);
    if (file === undefined) return { code: Code.NotFound };
    try {
      const info = await stat(file);
      if (!info.isFile()) return { code: Code.NotFound };
      const data = await readFile(file);
      return {
        code: Code.Content,
        contentFormat: contentFormatForExtension(extname(file)),
        payload: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      };
    } catch {
      return { code: Code.NotFound };
    }
  };

  const put = async (req: CoapRequest): Promise<ResponseInit> => {
    const file = fileFor(root, req.path);
    if (file === undefined) return { code: Code.BadRequest, payload: 'invalid file name' };
    if (req.payload.length > maxUpload) return { code: Code.RequestEntityTooLarge };
    let existed = true;
    try {
      const info = await stat(file);
      if (!info.isFile()) return { code: Code.Conflict, payload: 'not a file' };
    } catch {
      existed = false;
    }
    await mkdir(dirname(file), { recursive: true });
    // write-then-rename so a reader never sees half a file
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, req.payload);
    await rename(tmp, file);
    await refreshLinks();
    return { code: existed ? Code.Changed : Code.Created };
  };

  const del = async (req: CoapRequest): Promise<ResponseInit> => {
    const file = fileFor(root, req.path);
    if (file === undefined) return { code: Code.NotFound };
    try {
      const info = await stat(file);
      if (!info.isFile()) return { code: Code.NotFound };
      await rm(file);
      await refreshLinks();
      return { code: Code.Deleted };
    } catch {
      return { code: Code.NotFound };
    }
  };

  endpoint.route('GET', '/*', get);
  endpoint.route('PUT', '/*', put);
  endpoint.route('DELETE', '/*', del);
}
