/**
 * `coap serve DIR`: a CoAP file server. GET returns a file's bytes with a Content-Format from its
 * extension, PUT creates or replaces a file, DELETE removes it (only when `writable`),
 * `/.well-known/core` lists the files.
 *
 * Containment (issue 15): every path is resolved with realpath and must stay below the served
 * directory's realpath, so a symbolic link never leads a GET out of it; a PUT or DELETE follows no link
 * at all (each existing component is checked with lstat). Writes are bounded in file count and total
 * bytes, and each PUT writes its own temporary file (exclusive create) before the rename.
 */
import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
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
  /** Accept PUT and DELETE (default false: the directory is served read-only; `coap serve --writable`). */
  readonly writable?: boolean;
  /** Largest file accepted by PUT, in bytes (default 64 MiB). */
  readonly maxUpload?: number;
  /** Most files the directory may hold after a PUT (default 1000; `--max-files`). */
  readonly maxFiles?: number;
  /** Most bytes all files together may hold after a PUT (default 256 MiB; `--max-bytes`). */
  readonly maxBytes?: number;
  /** How often observed files are checked for changes, ms (default 200). */
  readonly watchInterval?: number;
}

/** A running file server's handle: stops watching files. */
export interface FileServer {
  /** Files polled for changes now (one poller per observed file; it ends with the file's last observer). */
  readonly pollers: number;
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

/** Whether `path` is `root` or below it. */
const inside = (root: string, path: string): boolean => path === root || path.startsWith(root + sep);

/** The file's real path when it exists and, links resolved, is a regular file below `realRoot`. */
async function containedFile(realRoot: string, file: string): Promise<string | undefined> {
  try {
    const real = await realpath(file);
    if (!inside(realRoot, real) || real === realRoot) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For a write: `'link'` when a component of `file` below `root` (the file included) is a symbolic link
 * or not a directory where one is needed, `'missing'` when the file does not exist yet (its existing
 * parents being real directories), `'file'` when it is a regular file, `'other'` for anything else.
 */
async function writeTarget(root: string, file: string): Promise<'link' | 'missing' | 'file' | 'other'> {
  const parts = relative(root, file).split(sep);
  let path = root;
  for (let i = 0; i < parts.length; i++) {
    path = join(path, parts[i]!);
    let info: import('node:fs').Stats;
    try {
      info = await lstat(path);
    } catch {
      return 'missing';
    }
    if (info.isSymbolicLink()) return 'link';
    if (i < parts.length - 1 && !info.isDirectory()) return 'other';
    if (i === parts.length - 1) return info.isFile() ? 'file' : 'other';
  }
  return 'other';
}

interface Listing {
  readonly files: string[];
  readonly bytes: number;
}

/** The regular files below `root` (no links followed), at most `limit`, and their total size. */
async function listFiles(root: string, limit = 10_000): Promise<Listing> {
  const files: string[] = [];
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (files.length >= limit) return;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        files.push(relative(root, p).split(sep).join('/'));
        try {
          bytes += (await lstat(p)).size;
        } catch {
          // removed meanwhile
        }
      }
    }
  };
  await walk(root);
  return { files, bytes };
}

/** Installs the file server's routes on an endpoint. */
export async function serveDirectory(
  endpoint: CoapEndpoint,
  directory: string,
  options: FileServerOptions = {},
): Promise<FileServer> {
  await mkdir(resolve(directory), { recursive: true });
  // the served directory itself may be reached through a link; below it, nothing leaves it
  const root = await realpath(resolve(directory));
  const maxUpload = options.maxUpload ?? 64 * 1024 * 1024;
  const maxFiles = options.maxFiles ?? 1000;
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  const interval = options.watchInterval ?? 200;
  /** Polled file → its resource path. */
  const watched = new Map<string, string>();
  // RFC 7641: a file that changes on disk notifies its observers (polling survives editors' renames)
  const watch = (file: string, resource: string) => {
    if (watched.has(file) || watched.size >= 10_000) return;
    watched.set(file, resource);
    watchFile(file, { interval }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.size !== before.size) endpoint.notify(resource);
    });
    reaper ??= setInterval(reap, interval);
  };
  // a poller ends with the last observer of its file (checked every interval while any poller runs)
  let reaper: ReturnType<typeof setInterval> | undefined;
  const reap = () => {
    for (const [file, resource] of watched) {
      if (endpoint.observerTotal(resource) > 0) continue;
      unwatchFile(file);
      watched.delete(file);
    }
    if (watched.size === 0 && reaper !== undefined) {
      clearInterval(reaper);
      reaper = undefined;
    }
  };
  let cachedLinks: Link[] = [];
  let listing: Listing = { files: [], bytes: 0 };
  const refreshLinks = async () => {
    listing = await listFiles(root);
    cachedLinks = [...listing.files].sort().map((f) => ({
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
    const path = fileFor(root, req.path);
    if (path === undefined) return { code: Code.NotFound };
    const file = await containedFile(root, path);
    // a missing file (or one outside the directory) is 4.04, and nothing polls it
    if (file === undefined) return { code: Code.NotFound };
    try {
      const data = await readFile(file);
      if (req.observe === 0) watch(file, req.path.join('/'));
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
    // no link is followed for a write, whether it points inside the directory or not
    const target = await writeTarget(root, file);
    if (target === 'link') return { code: Code.Forbidden, payload: 'symbolic link' };
    if (target === 'other') return { code: Code.Conflict, payload: 'not a file' };
    const existed = target === 'file';
    const old = existed ? (await lstat(file)).size : 0;
    if (!existed && listing.files.length + 1 > maxFiles)
      return { code: Code.Forbidden, payload: 'too many files' };
    if (listing.bytes - old + req.payload.length > maxBytes)
      return { code: Code.RequestEntityTooLarge, payload: 'directory full' };
    await mkdir(dirname(file), { recursive: true });
    // mkdir may have raced with a link made meanwhile: check again before writing
    if ((await writeTarget(root, file)) === 'link') return { code: Code.Forbidden, payload: 'symbolic link' };
    // write-then-rename so a reader never sees half a file; a name of its own for each PUT (exclusive
    // create), so concurrent PUTs of one file never share a temporary file. rename replaces a link
    // at `file` itself, never what it points to.
    const tmp = `${file}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, req.payload, { flag: 'wx' });
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    await refreshLinks();
    endpoint.notify(req.path.join('/'));
    return { code: existed ? Code.Changed : Code.Created };
  };

  const del = async (req: CoapRequest): Promise<ResponseInit> => {
    const file = fileFor(root, req.path);
    if (file === undefined) return { code: Code.NotFound };
    try {
      if ((await writeTarget(root, file)) !== 'file') return { code: Code.NotFound };
      await rm(file);
      await refreshLinks();
      return { code: Code.Deleted };
    } catch {
      return { code: Code.NotFound };
    }
  };

  endpoint.route('GET', '/*', get, { observable: true });
  if (options.writable === true) {
    endpoint.route('PUT', '/*', put, { maxBodySize: maxUpload });
    endpoint.route('DELETE', '/*', del);
  }
  return {
    get pollers() {
      return watched.size;
    },
    close() {
      for (const f of watched.keys()) unwatchFile(f);
      watched.clear();
      if (reaper !== undefined) clearInterval(reaper);
      reaper = undefined;
    },
  };
}
