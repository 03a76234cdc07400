/**
 * The `coap` command: requests, discovery and a file server (see README.md, "The coap command").
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  type AmplificationOptions,
  type BlockProgress,
  CoapEndpoint,
  CoapRequestError,
  type CoapResponse,
  describeCode,
  describeMessage,
  formatPeer,
  fromHex,
  type Link,
  LinkFormatError,
  type Method,
  type Observation,
  type OuterBlockwiseOptions,
  parseContentFormat,
  parseLinkFormat,
  parseUri,
  type RequestOptions,
  type ServerSecurity,
  type TraceHook,
  type Transport,
} from '@thimble/coap-core';
import { DtlsClientTransport, DtlsServerTransport, UdpTransport } from '@thimble/coap-core/node';
import { DTLS_OPTIONS, type DtlsCredentials, dtlsCredentials } from './dtls.js';
import { loadCliOscore, OscoreSetupError } from './oscore.js';
import { type FileServer, serveDirectory } from './serve.js';
import { CliFailure, noInput, systemMessage, UsageError } from './usage.js';
import { VERSION } from './version.js';

export interface CliIo {
  readonly stdout: { write(data: string | Uint8Array): unknown };
  readonly stderr: { write(data: string): unknown };
  readonly stdin?: AsyncIterable<Uint8Array | string>;
}

const SYNOPSIS = `Usage:
  coap get|post|put|delete|fetch|patch|ipatch URI [options]
  coap observe URI [--count N] [--duration SECONDS] [options]
  coap discover URI [options]
  coap get --group coap://224.0.1.187/.well-known/core [--duration SECONDS]
  coap serve DIR [--host H] [--port P] [--writable [--max-files N] [--max-bytes N]] [--dtls-port P DTLS credentials] [--oscore CONTEXT_DIR [--outer-block-size N]] [--group ADDR [--interface IF] [--leisure SECONDS]]
  coap --version | coap --help | coap COMMAND --help
`;

const REQUEST_OPTIONS = `Request options:
  -p, --payload TEXT          request payload
  -f, --file PATH             request payload from a file ('-' for stdin)
  -o, --output PATH           write the response payload to a file instead of stdout
  -t, --content-format CF     Content-Format of the payload (number or media type)
  -A, --accept CF             Accept option (number or media type)
      --non                   send a Non-confirmable request
      --timeout SECONDS       give up after this long (default 30)
      --psk-identity ID       DTLS PSK identity (coaps://)
      --psk-key HEX           DTLS pre-shared key, hex
      --psk-text TEXT         DTLS pre-shared key as text (UTF-8), instead of --psk-key
      --rpk-key FILE          our EC P-256 private key (PEM) for DTLS with raw public keys (RFC 7250)
      --rpk-peer FILE         the peer's trusted public key (PEM)
      --cert FILE --key FILE  our certificate chain and its private key (PEM) for DTLS with X.509
      --ca FILE               trusted CA certificates (PEM) for the peer's certificate
      --cid                   use a DTLS Connection ID (RFC 9146)
      --oscore CONTEXT_DIR    protect the request with OSCORE (RFC 8613); the directory holds an
                              aiocoap-style settings.json and the sequence number state
      --outer-block-size N    with --oscore: send a protected request larger than N bytes in Outer
                              Block1 blocks of N (16-1024; RFC 8613 §4.1.3.4.2, e.g. for a small-MTU proxy)
  -b, --block-size N          Block-wise block size, 16-1024 (default 1024)
  -v, --verbose               print the messages exchanged on stderr
      --count N               observe: stop after N notifications
      --duration SECONDS      observe: stop after this long; --group: collect responses this long (6)
      --group                 send a Non-confirmable group request and print every response
      --interface ADDR        interface address for multicast (e.g. 127.0.0.1)
  -h, --help                  this text
`;

const SERVE_OPTIONS = `Serve options:
      --host H, --port P      where to listen (default 127.0.0.1:5683, loopback only; --host :: for
                              every interface)
      --writable              accept PUT and DELETE (default: read-only)
      --max-files N           with --writable: most files the directory may hold (default 1000)
      --max-bytes N           with --writable: most bytes all files may hold (default 268435456)
      --group ADDR            also answer group requests sent to this multicast address (RFC 7252 §8)
      --leisure SECONDS       longest random delay before answering a group request (default 5)
      --dtls-port P           also serve coaps:// on this port (5684 is the default coaps port) with the
                              DTLS credentials above: --psk-identity with --psk-key/--psk-text (one client
                              identity), --rpk-key [--rpk-peer], --cert/--key [--ca], --cid
      --oscore CONTEXT_DIR    also accept OSCORE-protected requests with this security context
      --outer-block-size N    with --oscore: send protected responses larger than N bytes in Outer
                              Block2 blocks of N (16-1024; RFC 8613 §4.1.3.4.2)
`;

const EXIT_CODES = `Exit codes:
  0   2.xx response (serve: stopped by SIGINT / SIGTERM)
  1   another response code
  2   no response: network failure, timeout, connection refused
  64  usage error (unknown option or command, bad value, bad URI)
  66  an input file or directory does not exist or cannot be read (-f, --oscore, serve DIR)
  69  serve: cannot listen (address in use, not available)
  70  internal error (a bug: please report it with the stack trace)
  73  cannot write the output file (-o)
  130 interrupted (SIGINT / SIGTERM) before the response came
`;

const USAGE = `${SYNOPSIS}\n${REQUEST_OPTIONS}\n${SERVE_OPTIONS}\n${EXIT_CODES}`;

/** The text of `coap COMMAND --help`. */
function helpOf(command: string): string {
  if (command === 'serve') {
    const line = SYNOPSIS.split('\n').find((l) => l.includes('coap serve'));
    return `Usage:\n${line}\n\n${SERVE_OPTIONS}\n${EXIT_CODES}`;
  }
  return `${SYNOPSIS}\n${REQUEST_OPTIONS}\n${EXIT_CODES}`;
}

const METHODS: Record<string, Method> = {
  get: 'GET',
  post: 'POST',
  put: 'PUT',
  delete: 'DELETE',
  fetch: 'FETCH',
  patch: 'PATCH',
  ipatch: 'iPATCH',
};

const isCommand = (word: string): boolean =>
  word === 'serve' || word === 'discover' || word === 'observe' || Object.hasOwn(METHODS, word);

function blockSizeArg(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const size = Number(value);
  if (![16, 32, 64, 128, 256, 512, 1024].includes(size)) {
    throw new UsageError(`${flag} must be a power of two from 16 to 1024`);
  }
  return size;
}

function contentFormatArg(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const cf = parseContentFormat(value);
  if (cf === undefined) throw new UsageError(`${flag}: unknown Content-Format "${value}"`);
  return cf;
}

async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? new TextEncoder().encode(c) : c);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** A running `coap serve`, for embedding and tests. */
export interface RunningServer {
  readonly endpoint: CoapEndpoint;
  /** The unicast file server (its pollers, for tests and metrics). */
  readonly files: FileServer;
  /** The coaps:// endpoint when `dtls` was given. */
  readonly dtlsEndpoint?: CoapEndpoint;
  close(): Promise<void>;
}

export interface FileServerStartOptions {
  /** Accept PUT and DELETE (default false). */
  readonly writable?: boolean;
  /** Most files the directory may hold after a PUT (default 1000). */
  readonly maxFiles?: number;
  /** Most bytes all files may hold after a PUT (default 256 MiB). */
  readonly maxBytes?: number;
  /** How often observed files are polled, ms (default 200). */
  readonly watchInterval?: number;
  /**
   * Amplification mitigation on the unicast endpoint (RFC 9175 §2.4): responses to unverified peers
   * at most 3× their request, else an Echo challenge. On by default; `false` turns it off.
   */
  readonly amplification?: AmplificationOptions | boolean;
  /** Also answer group requests to this multicast address on the same port. */
  readonly group?: string;
  readonly multicastInterface?: string;
  /** Longest delay before answering a group request, ms (DEFAULT_LEISURE, RFC 7252 §8.2). */
  readonly leisure?: number;
  /** Unprotects OSCORE requests (unicast only; see `coap serve --oscore`). */
  readonly serverSecurity?: ServerSecurity;
  /** Outer Block-wise on protected messages (RFC 8613 §4.1.3.4.2; see `coap serve --outer-block-size`). */
  readonly outerBlockwise?: OuterBlockwiseOptions;
  /** Also serve coaps:// on this port (0: any) with these credentials (see `coap serve --dtls-port`). */
  readonly dtls?: { readonly port: number; readonly credentials: DtlsCredentials };
}

/** Starts the file server of `coap serve`. */
export async function startFileServer(
  dir: string,
  host = '127.0.0.1',
  port = 5683,
  options: FileServerStartOptions = {},
): Promise<RunningServer> {
  const parameters = options.leisure === undefined ? undefined : { defaultLeisure: options.leisure };
  const transport = await UdpTransport.bind({
    address: host,
    port,
    reuseAddress: options.group !== undefined,
  });
  const endpoint = new CoapEndpoint({
    transport,
    parameters,
    serverSecurity: options.serverSecurity,
    outerBlockwise: options.outerBlockwise,
    amplification: options.amplification ?? true,
  });
  const fileOptions = {
    ...(options.writable === undefined ? {} : { writable: options.writable }),
    ...(options.maxFiles === undefined ? {} : { maxFiles: options.maxFiles }),
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    ...(options.watchInterval === undefined ? {} : { watchInterval: options.watchInterval }),
  };
  const files = await serveDirectory(endpoint, dir, fileOptions);
  let groupEndpoint: CoapEndpoint | undefined;
  let groupFiles: { close(): void } | undefined;
  if (options.group !== undefined) {
    const groupTransport = await UdpTransport.bind({
      group: options.group,
      port: endpoint.local.port,
      multicastInterface: options.multicastInterface,
    });
    groupEndpoint = new CoapEndpoint({ transport: groupTransport, parameters });
    // a group request is never a write (RFC 7252 §8.1 allows only safe methods to be useful here)
    groupFiles = await serveDirectory(groupEndpoint, dir, { ...fileOptions, writable: false });
  }
  let dtlsEndpoint: CoapEndpoint | undefined;
  let dtlsFiles: { close(): void } | undefined;
  if (options.dtls !== undefined) {
    const { psk, cid, ...trust } = options.dtls.credentials;
    const dtlsTransport = await DtlsServerTransport.listen({
      ...trust,
      address: host,
      port: options.dtls.port,
      pskLookup: psk === undefined ? undefined : (id) => (id === psk.identity ? psk.key : undefined),
      connectionIdLength: cid ? 6 : 0,
    });
    dtlsEndpoint = new CoapEndpoint({ transport: dtlsTransport, parameters });
    dtlsFiles = await serveDirectory(dtlsEndpoint, dir, fileOptions);
  }
  return {
    endpoint,
    files,
    dtlsEndpoint,
    close: async () => {
      files.close();
      groupFiles?.close();
      dtlsFiles?.close();
      await dtlsEndpoint?.close();
      await groupEndpoint?.close();
      await endpoint.close();
    },
  };
}

/**
 * Runs the command with `argv` (without `node` and the script). Returns the exit code (`coap --help`
 * lists them): 0 on a 2.xx response, 1 on another response code, 2 on a network failure or timeout, 64 on
 * a usage error, 66 when an input cannot be read, 69 when `serve` cannot listen, 73 when the output
 * cannot be written, 130 when `signal` aborts a request. A user's mistake is one line on stderr, never a
 * stack trace. `serve` resolves only when `signal` aborts.
 */
export async function runCli(argv: readonly string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  try {
    return await run(argv, io, signal);
  } catch (e) {
    if (e instanceof UsageError) {
      const command = argv[0] !== undefined && isCommand(argv[0]) ? `coap ${argv[0]}` : 'coap';
      io.stderr.write(`coap: ${e.message} (\`${command} --help\` lists the options)\n`);
      return e.code;
    }
    if (e instanceof CliFailure) {
      io.stderr.write(`coap: ${e.message}\n`);
      return e.code;
    }
    throw e;
  }
}

async function run(argv: readonly string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr.write(SYNOPSIS);
    return 64;
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    io.stdout.write(rest[0] === undefined ? USAGE : helpOf(rest[0]));
    return 0;
  }
  if (command === '-V' || command === '--version') {
    io.stdout.write(`coap ${VERSION}\n`);
    return 0;
  }
  if (!isCommand(command)) {
    throw new UsageError(`unknown command "${command}"`);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(helpOf(command));
    return 0;
  }
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  const OPTIONS = {
    payload: { type: 'string', short: 'p' },
    file: { type: 'string', short: 'f' },
    output: { type: 'string', short: 'o' },
    'content-format': { type: 'string', short: 't' },
    accept: { type: 'string', short: 'A' },
    non: { type: 'boolean' },
    timeout: { type: 'string' },
    ...DTLS_OPTIONS,
    'dtls-port': { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
    'block-size': { type: 'string', short: 'b' },
    count: { type: 'string' },
    duration: { type: 'string' },
    group: { type: 'boolean' },
    interface: { type: 'string' },
    leisure: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    oscore: { type: 'string' },
    'outer-block-size': { type: 'string' },
    writable: { type: 'boolean' },
    'max-files': { type: 'string' },
    'max-bytes': { type: 'string' },
  } as const;
  try {
    parsed = parseArgs({ args: [...rest], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const outerBlockSize = blockSizeArg(values['outer-block-size'], '--outer-block-size');
  if (outerBlockSize !== undefined && values.oscore === undefined) {
    throw new UsageError('--outer-block-size needs --oscore (Outer Block-wise splits protected messages)');
  }
  const outerBlockwise = outerBlockSize === undefined ? undefined : { blockSize: outerBlockSize };

  if (command === 'serve') {
    const dir = positionals[0];
    if (dir === undefined) throw new UsageError('serve needs a directory');
    const port = values.port === undefined ? 5683 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`invalid port ${values.port}`);
    const group = positionals[1];
    const leisure = values.leisure === undefined ? undefined : Number(values.leisure) * 1000;
    if (leisure !== undefined && !(leisure >= 0)) throw new UsageError(`invalid leisure ${values.leisure}`);
    try {
      if (!(await stat(dir)).isDirectory())
        throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (e) {
      throw noInput(`serve ${dir}`, e);
    }
    const oscore = values.oscore === undefined ? undefined : await oscoreOf(values.oscore);
    const count = (text: string | undefined, flag: string): number | undefined => {
      if (text === undefined) return undefined;
      if (values.writable !== true) throw new UsageError(`${flag} needs --writable`);
      const n = Number(text);
      if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`invalid ${flag} ${text}`);
      return n;
    };
    const maxFiles = count(values['max-files'], '--max-files');
    const maxBytes = count(values['max-bytes'], '--max-bytes');
    let dtls: FileServerStartOptions['dtls'];
    if (values['dtls-port'] !== undefined) {
      const dtlsPort = Number(values['dtls-port']);
      if (!Number.isInteger(dtlsPort) || dtlsPort < 0 || dtlsPort > 65535)
        throw new UsageError(`invalid port ${values['dtls-port']}`);
      const credentials = dtlsCredentials(values);
      if (credentials === undefined) {
        throw new UsageError(
          '--dtls-port needs credentials: --psk-identity/--psk-key, --rpk-key or --cert/--key',
        );
      }
      if (credentials.psk === undefined && credentials.ecdsa === undefined) {
        throw new UsageError('--dtls-port needs our own credential: a PSK, --rpk-key or --cert/--key');
      }
      dtls = { port: dtlsPort, credentials };
    }
    const host = values.host ?? '127.0.0.1';
    let server: RunningServer;
    try {
      server = await startFileServer(dir, host, port, {
        dtls,
        writable: values.writable === true,
        ...(maxFiles === undefined ? {} : { maxFiles }),
        ...(maxBytes === undefined ? {} : { maxBytes }),
        group: values.group ? (group ?? '224.0.1.187') : undefined,
        multicastInterface: values.interface,
        leisure,
        serverSecurity: oscore?.server,
        outerBlockwise,
      });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('E')) throw e;
      throw new CliFailure(
        `cannot listen on ${formatPeer({ address: host, port })}: ${systemMessage(e)}`,
        69,
      );
    }
    const secured =
      oscore === undefined
        ? ''
        : ` (OSCORE context ${values.oscore}${oscore.restarted ? ', restarted: Echo recovery' : ''})`;
    io.stderr.write(`coap: serving ${dir} on coap://${formatPeer(server.endpoint.local)}${secured}\n`);
    if (server.dtlsEndpoint !== undefined) {
      io.stderr.write(`coap: serving ${dir} on coaps://${formatPeer(server.dtlsEndpoint.local)}\n`);
    }
    await new Promise<void>((resolve) => {
      if (signal === undefined) return; // runs until the process ends
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await server.close();
    return 0;
  }

  const method = command === 'discover' || command === 'observe' ? 'GET' : METHODS[command];
  if (method === undefined) throw new UsageError(`unknown command "${command}"`);
  let uri = positionals[0];
  if (uri === undefined) throw new UsageError(`${command} needs a URI`);
  if (command === 'discover') uri = discoveryUri(uri);
  let scheme: string;
  let uriHost: string;
  try {
    const u = parseUri(uri);
    scheme = u.scheme;
    uriHost = u.host;
  } catch (e) {
    throw new UsageError(`bad URI "${uri}": ${(e as Error).message}`);
  }
  let payload: Uint8Array | string | undefined = values.payload;
  if (values.file !== undefined) {
    if (values.file === '-') {
      if (io.stdin === undefined) throw new UsageError('no standard input');
      payload = await readAll(io.stdin);
    } else {
      try {
        payload = new Uint8Array(await readFile(values.file));
      } catch (e) {
        throw noInput(`-f ${values.file}`, e);
      }
    }
  }
  const timeoutSeconds = values.timeout === undefined ? 30 : Number(values.timeout);
  if (!(timeoutSeconds > 0)) throw new UsageError(`invalid timeout ${values.timeout}`);
  const blockSize = blockSizeArg(values['block-size'], '--block-size');
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && !(Number.isInteger(count) && count > 0))
    throw new UsageError('--count must be a positive integer');
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) throw new UsageError('--duration must be positive');
  // every flag is checked before a socket is bound: a usage error never leaves the process waiting
  const contentFormat = contentFormatArg(values['content-format'], '--content-format');
  const accept = contentFormatArg(values.accept, '--accept');

  if (values.group && values.oscore !== undefined) {
    throw new UsageError('--oscore cannot protect group requests (Group OSCORE is not supported)');
  }
  const oscore = values.oscore === undefined ? undefined : await oscoreOf(values.oscore);
  let transport: Transport;
  if (scheme === 'coaps') {
    const credentials = dtlsCredentials(values);
    if (credentials === undefined) {
      throw new UsageError(
        'coaps:// needs DTLS credentials: --psk-identity with --psk-key/--psk-text, --rpk-key, or --cert/--key/--ca',
      );
    }
    const { cid, ...rest } = credentials;
    transport = new DtlsClientTransport({
      ...rest,
      connectionId: cid,
      handshakeTimeout: Math.min(timeoutSeconds * 800, 10_000),
    });
  } else if (scheme === 'coap') {
    const host = uriHost;
    transport = await UdpTransport.bind({
      family: host.includes(':') ? 6 : 4,
      multicastInterface: values.interface,
    });
  } else {
    throw new UsageError(`unsupported scheme ${scheme}://`);
  }
  const trace: TraceHook | undefined = values.verbose
    ? (direction, bytes, peer) =>
        io.stderr.write(`${direction === 'out' ? '→' : '←'} ${formatPeer(peer)} ${describeMessage(bytes)}\n`)
    : undefined;
  const endpoint = new CoapEndpoint({ transport, trace, clientSecurity: oscore?.client, outerBlockwise });
  const request = {
    method,
    uri,
    payload,
    confirmable: !values.non,
    contentFormat,
    accept,
    signal,
    timeout: timeoutSeconds * 1000,
    blockSize,
    onBlock: progressPrinter(io),
  };
  if (values.group) {
    const responses = await endpoint.groupRequest({ ...request, window: (duration ?? 6) * 1000 });
    await endpoint.close();
    for (const r of responses) {
      io.stdout.write(`${formatPeer(r.peer)} ${describeCode(r.code)}\n${r.text()}\n`);
    }
    return responses.length > 0 ? 0 : 2;
  }
  if (command === 'observe') return observe(endpoint, request, io, count, duration, signal);
  let response: CoapResponse;
  try {
    response = await endpoint.request(request);
  } catch (e) {
    await endpoint.close();
    if (signal?.aborted) {
      io.stderr.write(`coap: ${method} ${uri} interrupted\n`);
      return 130;
    }
    const reason = e instanceof CoapRequestError ? e.message : (e as Error).message;
    io.stderr.write(`coap: ${method} ${uri} failed: ${reason}\n`);
    return 2;
  }
  await endpoint.close();
  if (!response.ok) {
    const diagnostic = response.payload.length > 0 ? `: ${response.text()}` : '';
    io.stderr.write(`${describeCode(response.code)}${diagnostic}\n`);
    return 1;
  }
  if (command === 'discover') {
    const links = discoveredLinks(response, io);
    if (links === undefined) return 1;
    for (const link of links) {
      const attrs = link.attributes.map((a) => (a.value === true ? `;${a.name}` : `;${a.name}="${a.value}"`));
      io.stdout.write(`<${link.target}>${attrs.join('')}\n`);
    }
    return 0;
  }
  if (values.output !== undefined) {
    if (values.output === '-') io.stdout.write(response.payload);
    else {
      try {
        await writeFile(values.output, response.payload);
      } catch (e) {
        throw new CliFailure(`-o ${values.output}: ${systemMessage(e)}`, 73);
      }
    }
  } else {
    io.stdout.write(response.payload);
  }
  return 0;
}

/**
 * The URI `coap discover` asks: a URI without a path means `/.well-known/core` (RFC 6690 §4), its query
 * (`?rt=Type1`, the filter of §4.1) kept on that path instead of going to `/`.
 */
function discoveryUri(uri: string): string {
  let u: ReturnType<typeof parseUri>;
  try {
    u = parseUri(uri);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (u.path.length > 0) return uri;
  const q = uri.indexOf('?');
  const base = (q < 0 ? uri : uri.slice(0, q)).replace(/\/$/, '');
  return `${base}/.well-known/core${q < 0 ? '' : uri.slice(q)}`;
}

const LINK_FORMAT = 40;

/** The links of a discovery response, or undefined (reported) when its body is not link format. */
function discoveredLinks(response: CoapResponse, io: CliIo): Link[] | undefined {
  const cf = response.contentFormat;
  if (cf !== undefined && cf !== LINK_FORMAT) {
    io.stderr.write(`not a link-format response (Content-Format ${cf}); use coap get to see it\n`);
    return undefined;
  }
  try {
    return parseLinkFormat(response.text());
  } catch (e) {
    if (!(e instanceof LinkFormatError)) throw e;
    io.stderr.write(`not a link-format response: ${e.message}\n`);
    return undefined;
  }
}

async function oscoreOf(dir: string) {
  try {
    return await loadCliOscore(dir);
  } catch (e) {
    if (e instanceof OscoreSetupError) throw new UsageError(e.message);
    throw e;
  }
}

/** Prints a progress line on stderr for transfers over 64 KiB. */
function progressPrinter(io: CliIo): (p: BlockProgress) => void {
  let last = -1;
  return (p) => {
    const done = p.offset + p.data.length;
    const total = p.total;
    if ((total ?? done) <= 64 * 1024 && done <= 64 * 1024) return;
    const pct = total !== undefined && total > 0 ? Math.floor((done / total) * 100) : -1;
    const step = pct >= 0 ? pct : Math.floor(done / 65536);
    if (step === last && p.more) return;
    last = step;
    const what = p.direction === 'upload' ? 'uploaded' : 'downloaded';
    const of = total !== undefined ? ` of ${total}` : '';
    io.stderr.write(`\r${what} ${done}${of} bytes${pct >= 0 ? ` (${pct}%)` : ''}${p.more ? '' : '\n'}`);
  };
}

async function observe(
  endpoint: CoapEndpoint,
  request: RequestOptions,
  io: CliIo,
  count: number | undefined,
  duration: number | undefined,
  signal: AbortSignal | undefined,
): Promise<number> {
  let observation: Observation;
  try {
    observation = await endpoint.observe(request);
  } catch (e) {
    io.stderr.write(`coap: observe ${request.uri} failed: ${(e as Error).message}\n`);
    await endpoint.close();
    return 2;
  }
  let seen = 0;
  let failed = false;
  let status = 0;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    const timer = duration !== undefined ? setTimeout(stop, duration * 1000) : undefined;
    signal?.addEventListener('abort', stop, { once: true });
    const print = (r: CoapResponse) => {
      if (!r.ok) {
        io.stderr.write(`${describeCode(r.code)}${r.payload.length > 0 ? `: ${r.text()}` : ''}\n`);
        status = 1;
        return;
      }
      io.stdout.write(r.payload);
      io.stdout.write('\n');
      seen++;
      if (count !== undefined && seen >= count) {
        if (timer !== undefined) clearTimeout(timer);
        stop();
      }
    };
    observation.on('notification', print);
    observation.on('error', (e) => {
      io.stderr.write(`coap: observation failed: ${e.message}\n`);
      failed = true;
      stop();
    });
    observation.on('end', stop);
    // the registration response was delivered before the listener was attached
    if (observation.count > 0 && seen === 0 && latestOf(observation) !== undefined)
      print(latestOf(observation)!);
  });
  await observation.cancel().catch(() => undefined);
  await endpoint.close();
  return failed ? 2 : status;
}

function latestOf(o: Observation): CoapResponse | undefined {
  return o.peek();
}
