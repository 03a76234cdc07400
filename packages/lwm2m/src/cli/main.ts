/**
 * The `lwm2m` command (Node adapter). `lwm2m client` runs the example device against an LwM2M server and
 * logs every operation it serves (see README.md, "The lwm2m client command").
 */
import { parseArgs } from 'node:util';
import { systemClock } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { Lwm2mClient, type Lwm2mVersion } from '../client/client.js';
import { EXAMPLE_OBJECT_VERSIONS, installExampleDevice } from './device.js';
import { fleetMain } from './fleet.js';

export interface CliIo {
  readonly stdout: { write(data: string): unknown };
  readonly stderr: { write(data: string): unknown };
}

const USAGE = `Usage:
  lwm2m client --endpoint NAME --server coap://HOST:PORT [options]
  lwm2m fleet --count N --server coap://HOST:PORT [options]   (lwm2m fleet --help)

Options:
  -e, --endpoint NAME     endpoint client name (ep)
  -s, --server URI        LwM2M server, coap://HOST:PORT
  -l, --lifetime SECONDS  registration lifetime (default 300)
      --lwm2m VERSION     1.0, 1.1 (default) or 1.2
  -q, --queue             queue mode
      --host ADDR         local address to bind (default: any)
  -p, --port PORT         local port (default: ephemeral)
      --interval SECONDS  temperature change period (default 5, 0 = never)
  -h, --help              this text
`;

/** Runs the command; resolves with the exit code once it is done (for `client`: after SIGINT / `signal`). */
export async function main(argv: readonly string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  if (argv[0] === 'fleet') return fleetMain(argv.slice(1), io, signal);
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    io.stderr.write(`lwm2m: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command] = args.positionals;
  if (args.values.help || command === undefined) {
    io.stdout.write(USAGE);
    return command === undefined && !args.values.help ? 2 : 0;
  }
  if (command !== 'client') {
    io.stderr.write(`lwm2m: unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  const { endpoint: name, server } = args.values;
  if (name === undefined || server === undefined) {
    io.stderr.write(`lwm2m client: --endpoint and --server are required\n${USAGE}`);
    return 2;
  }
  if (!/^coap:\/\/[^/]+$/.test(server.replace(/\/+$/, ''))) {
    io.stderr.write('lwm2m client: --server must be coap://HOST:PORT (coaps:// is not supported yet)\n');
    return 2;
  }
  const version = (args.values.lwm2m ?? '1.1') as Lwm2mVersion;
  if (version !== '1.0' && version !== '1.1' && version !== '1.2') {
    io.stderr.write('lwm2m client: --lwm2m must be 1.0, 1.1 or 1.2\n');
    return 2;
  }
  const lifetime = Number(args.values.lifetime ?? '300');
  const interval = Number(args.values.interval ?? '5');
  const port = Number(args.values.port ?? '0');
  if (!Number.isInteger(lifetime) || lifetime < 1 || !(interval >= 0) || !Number.isInteger(port)) {
    io.stderr.write('lwm2m client: bad --lifetime, --interval or --port\n');
    return 2;
  }
  const log = (line: string) => io.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const endpoint = await createUdpEndpoint({ address: args.values.host, port });
  const client = new Lwm2mClient({
    endpointName: name,
    endpoint,
    serverUri: server,
    lifetime,
    version,
    queueMode: args.values.queue,
    // a command-line device keeps trying: sequences of 5 attempts (10, 20, 40, 80 s apart), for ever
    retry: { count: 5, timer: 10, sequenceDelay: 60, sequenceCount: Number.POSITIVE_INFINITY },
    objectVersions: EXAMPLE_OBJECT_VERSIONS,
  });
  const device = installExampleDevice(client, {
    serverUri: server,
    lifetime,
    clock: systemClock,
    interval,
    log,
  });
  client.on('registered', (loc) => log(`registered at ${loc}`));
  client.on('updated', () => log('registration updated'));
  client.on('deregistered', () => log('de-registered'));
  client.on('error', (e) => log(`error: ${e.message}`));
  client.on('operation', (op) => {
    if (op.operation === 'Notify') return;
    log(`${op.operation} ${op.path} -> ${op.code}${op.detail ? ` (${op.detail})` : ''}`);
  });
  const local = endpoint.transport.local;
  log(`lwm2m client "${name}" (LwM2M ${version}) on ${local.address}:${local.port} -> ${server}`);
  client.start();
  await new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
    if (signal === undefined) {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }
  });
  device.stop();
  const stopping = client.stop();
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
  await Promise.race([stopping, timeout]);
  await endpoint.close();
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      endpoint: { type: 'string', short: 'e' },
      server: { type: 'string', short: 's' },
      lifetime: { type: 'string', short: 'l' },
      lwm2m: { type: 'string' },
      queue: { type: 'boolean', short: 'q' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      interval: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
