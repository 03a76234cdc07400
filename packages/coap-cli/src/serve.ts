/**
 * `coap serve DIR`: a CoAP file server. GET returns a file's bytes with a Content-Format from its
 * extension, PUT creates or replaces a file, DELETE removes it, `/.well-known/core` lists the files.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import {
  type CoapEndpoint,
  type CoapRequest,
  Code,
  contentFormatForExtension,
  type Link,
  type ResponseInit,
} from '@thimble/coap-core';

export interface FileServerOptions {
  /** Largest file accepted by PUT, in bytes (default 64 MiB). */
  readonly maxUpload?: number;
  /** How often observed files are checked for changes, ms (default 200). */
  readonly watchInterval?: number;
}

/** A running file server's handle: stops watching files. */
export interface FileServer {
  close(): void;
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
): Promise<FileServer> {
  const root = resolve(directory);
  await mkdir(root, { recursive: true });
  const maxUpload = options.maxUpload ?? 64 * 1024 * 1024;
  const watched = new Set<string>();
  // RFC 7641: a file that changes on disk notifies its observers (polling survives editors' renames)
  const watch = (file: string, resource: string) => {
    if (watched.has(file) || watched.size >= 10_000) return;
    watched.add(file);
    watchFile(file, { interval: options.watchInterval ?? 200 }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.size !== before.size) endpoint.notify(resource);
    });
  };
  let cachedLinks: Link[] = [];
  const refreshLinks = async () => {
    const files = await listFiles(root);
    cachedLinks = files.sort().map((f) => ({
      target: `/${f.split('/').map(encodeURIComponent).join('/')}`,
      attributes: [
        { name: 'ct', value: String(contentFormatForExtension(extname(f))) },
        { name: 'obs', value: true },
      ],
    }));
  };
  await refreshLinks();
  endpoint.addLinkProvider(() => cachedLinks);

  const get = async (req: CoapRequest): Promise<ResponseInit> => {
    const file = fileFor(root, req.path);
    if (file === undefined) return { code: Code.NotFound };
    if (req.observe === 0) watch(file, req.path.join('/'));
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
    // a PUT notifies observers of the file (the poll would too, later)
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
    endpoint.notify(req.path.join('/'));
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

  endpoint.route('GET', '/*', get, { observable: true });
  endpoint.route('PUT', '/*', put, { maxBodySize: maxUpload });
  endpoint.route('DELETE', '/*', del);
  return {
    close() {
      for (const f of watched) unwatchFile(f);
      watched.clear();
    },
  };
}
