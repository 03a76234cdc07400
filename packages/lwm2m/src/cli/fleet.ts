/**
 * `lwm2m fleet`: N simulated devices in one process (Node adapter), each on its own UDP socket, registering
 * with one LwM2M server at a bounded rate. Logs progress, stays up until SIGINT / SIGTERM (or `signal`),
 * then de-registers every device. See README.md, "Fleet mode".
 */
import { parseArgs } from 'node:util';
import { createUdpFleet, fileDescriptorLimit } from '../node/fleet.js';
import type { CliIo } from './io.js';

export const FLEET_USAGE = `Usage:
  lwm2m fleet --count N --server coap://HOST:PORT [options]

Options:
  -n, --count N           number of devices
  -s, --server URI        LwM2M server, coap://HOST:PORT
      --prefix NAME       endpoint names NAME-00000… (default "fleet")
  -l, --lifetime SECONDS  registration lifetime (default 300)
  -r, --rate N            registrations started per second (default 500)
      --in-flight N       most registrations waiting for an answer at once (default 200)
      --bind ADDR         local address of the devices' sockets (default 127.0.0.1 for a loopback server)
      --interval SECONDS  seconds between temperature changes of a device (default 60, 0 = never)
      --lwm2m VERSION     1.0, 1.1 (default) or 1.2
      --progress SECONDS  progress log period (default 1 while registering, then 10× that)
      --json              progress as JSON lines (for scripts)
  -h, --help              this text

Each device uses one UDP socket, so one file descriptor: --count must stay below \`ulimit -n\`.
`;

const MB = 1024 * 1024;

export async function fleetMain(argv: readonly string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    io.stderr.write(`lwm2m fleet: ${(e as Error).message} (\`lwm2m fleet --help\` lists the options)\n`);
    return 2;
  }
  const v = args.values;
  if (v.help) {
    io.stdout.write(FLEET_USAGE);
    return 0;
  }
  const count = Number(v.count);
  const server = v.server?.replace(/\/+$/, '');
  if (v.count === undefined || server === undefined) {
    io.stderr.write(
      'lwm2m fleet: --count and --server are required (`lwm2m fleet --help` lists the options)\n',
    );
    return 2;
  }
  if (!/^coap:\/\/[^/]+$/.test(server)) {
    io.stderr.write('lwm2m fleet: --server must be coap://HOST:PORT\n');
    return 2;
  }
  const lifetime = Number(v.lifetime ?? '300');
  const rate = Number(v.rate ?? '500');
  const inFlight = Number(v['in-flight'] ?? '200');
  const interval = Number(v.interval ?? '60');
  const progress = Number(v.progress ?? '1');
  const version = v.lwm2m ?? '1.1';
  if (
    !Number.isInteger(count) ||
    count < 1 ||
    !Number.isInteger(lifetime) ||
    lifetime < 1 ||
    !(rate > 0) ||
    !Number.isInteger(inFlight) ||
    inFlight < 1 ||
    !(interval >= 0) ||
    !(progress > 0)
  ) {
    io.stderr.write('lwm2m fleet: bad --count, --lifetime, --rate, --in-flight, --interval or --progress\n');
    return 2;
  }
  if (version !== '1.0' && version !== '1.1' && version !== '1.2') {
    io.stderr.write('lwm2m fleet: --lwm2m must be 1.0, 1.1 or 1.2\n');
    return 2;
  }
  const limit = fileDescriptorLimit();
  if (limit !== undefined && count + 32 > limit) {
    io.stderr.write(
      `lwm2m fleet: ${count} devices need ${count} UDP sockets but the open-file limit is ${limit} (ulimit -n)\n`,
    );
    return 2;
  }
  const json = v.json === true;
  const log = (line: string) => io.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const fleet = createUdpFleet({
    count,
    serverUri: server,
    prefix: v.prefix ?? 'fleet',
    lifetime,
    rate,
    maxInFlight: inFlight,
    temperatureInterval: interval,
    version,
    ...(v.bind === undefined ? {} : { bindAddress: v.bind }),
  });
  const start = Date.now();
  let lastErrors = 0;
  let firstError: string | undefined;
  fleet.on('error', (_d, index, e) => {
    if (firstError === undefined) firstError = `${fleet.name(index)}: ${e.message}`;
  });
  const report = (phase: string) => {
    const s = fleet.stats();
    const mem = process.memoryUsage();
    const elapsed = (Date.now() - start) / 1000;
    if (json) {
      io.stdout.write(
        `${JSON.stringify({
          phase,
          elapsed,
          ...s,
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          allRegisteredIn:
            s.allRegisteredAt === undefined || s.firstStartAt === undefined
              ? undefined
              : (s.allRegisteredAt - s.firstStartAt) / 1000,
        })}\n`,
      );
      return;
    }
    const newErrors = s.errors - lastErrors;
    lastErrors = s.errors;
    log(
      `${phase}: registered ${s.registered}/${count} (started ${s.started}, failed ${s.failed}, errors ${s.errors}` +
        `${newErrors > 0 && firstError !== undefined ? `, e.g. ${firstError}` : ''}) ` +
        `rss ${(mem.rss / MB).toFixed(0)} MB, heap ${(mem.heapUsed / MB).toFixed(0)} MB, ${elapsed.toFixed(1)} s`,
    );
    firstError = undefined;
  };
  if (!json)
    log(
      `lwm2m fleet: ${count} devices "${v.prefix ?? 'fleet'}-*" -> ${server}, ${rate}/s, lifetime ${lifetime} s` +
        `${limit === undefined ? '' : ` (open-file limit ${limit})`}`,
    );
  fleet.on('complete', (s) => {
    if (s.allRegisteredAt !== undefined && s.firstStartAt !== undefined && !json)
      log(
        `all ${count} devices registered in ${((s.allRegisteredAt - s.firstStartAt) / 1000).toFixed(2)} s ` +
          `(${((count * 1000) / Math.max(1, s.allRegisteredAt - s.firstStartAt)).toFixed(0)} registrations/s)`,
      );
    report('registered');
  });
  fleet.start();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    const s = fleet.stats();
    const ramping = s.everRegistered + s.failed < count;
    report(ramping ? 'registering' : 'up');
    timer = setTimeout(tick, progress * 1000 * (ramping ? 1 : 10));
  };
  timer = setTimeout(tick, progress * 1000);
  await new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
    if (signal === undefined) {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }
  });
  clearTimeout(timer);
  if (!json) log(`stopping: de-registering ${fleet.stats().registered} devices`);
  const t0 = Date.now();
  await fleet.stop();
  if (json) report('stopped');
  else log(`stopped (de-registration took ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: false,
    options: {
      count: { type: 'string', short: 'n' },
      server: { type: 'string', short: 's' },
      prefix: { type: 'string' },
      lifetime: { type: 'string', short: 'l' },
      rate: { type: 'string', short: 'r' },
      'in-flight': { type: 'string' },
      bind: { type: 'string' },
      interval: { type: 'string' },
      lwm2m: { type: 'string' },
      progress: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
