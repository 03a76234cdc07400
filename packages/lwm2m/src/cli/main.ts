/**
 * The `lwm2m` command (Node adapter). `lwm2m client` runs the example device against an LwM2M server and
 * logs every operation it serves (see README.md, "The lwm2m client command"); `lwm2m bootstrap-server`
 * is in bootstrap-server.ts; `lwm2m server` (server.ts) runs a server with its REST API; `lwm2m firmware
 * push` (firmware.ts) updates a device through that API.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type CoapEndpoint, fromHex, systemClock } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { type ContextSettings, parseContextSettings } from '@thimble/oscore';
import { nodeCrypto } from '@thimble/oscore/node';
import { Lwm2mClient, type Lwm2mVersion } from '../client/client.js';
import { FileClientStateStore, nodeServerTransports } from '../node/client.js';
import {
  EXAMPLE_OBJECT_VERSIONS,
  type ExampleSecurity,
  installExampleDevice,
} from '../node/example-device.js';
import { loadCertificate, loadEcdsaKey, loadPublicKey } from '../node/keys.js';
import { BOOTSTRAP_SERVER_USAGE, bootstrapServerMain } from './bootstrap-server.js';
import { EXIT_CODES, HELP_HINT, VERSION } from './exit.js';
import { FIRMWARE_USAGE, runFirmware } from './firmware.js';
import { fleetMain } from './fleet.js';
import type { CliIo } from './io.js';
import { runServer, SERVER_USAGE } from './server.js';
import { untilStopped } from './signals.js';

export type { CliIo } from './io.js';

const USAGE = `Usage:
  lwm2m client --endpoint NAME --server coap://HOST:PORT [options]
  lwm2m client --endpoint NAME --server coaps://HOST:PORT --psk-identity ID --psk-key HEX [options]
  lwm2m client --endpoint NAME --server coaps://HOST:PORT --rpk-key KEY.pem --server-key SERVER.pem [options]
  lwm2m client --endpoint NAME --server coaps://HOST:PORT --cert CERT.pem --key KEY.pem --ca CA.pem [options]
${SERVER_USAGE.split('\n')[0]}
${FIRMWARE_USAGE.split('\n')[0]}
  lwm2m fleet --count N --server coap://HOST:PORT [options]   (lwm2m fleet --help)

Client options:
  -e, --endpoint NAME     endpoint client name (ep)
  -s, --server URI        LwM2M server, coap://HOST:PORT (NoSec, or OSCORE) or coaps://HOST:PORT (DTLS PSK)
      --psk-identity ID   DTLS PSK identity (Security Mode PSK; needs coaps://)
      --psk-key HEX       DTLS pre-shared key, hex
      --rpk-key FILE      our EC P-256 private key, PEM (Security Mode RPK, RFC 7250; needs coaps://)
      --server-key FILE   with --rpk-key: the server's public key, PEM
      --cert FILE         our certificate, PEM (Security Mode Certificate; with --key and --ca)
      --key FILE          the certificate's private key, PEM
      --ca FILE           the server's certificate or its CA certificate, PEM
      --no-cid            do not offer a DTLS Connection ID (RFC 9146; offered by default)
      --oscore FILE       OSCORE context (aiocoap settings.json format: sender-id_hex, recipient-id_hex,
                          secret_hex, salt_hex, id-context_hex, algorithm) for object 21; needs coap://
      --state-dir DIR     keep the bootstrap result, registrations and OSCORE sequence numbers in DIR;
                          a restarted client resumes its registration with an Update
  -l, --lifetime SECONDS  registration lifetime (default 300)
      --lwm2m VERSION     1.0, 1.1 (default) or 1.2: the highest version; a server that refuses it gets
                          the next lower one
  -q, --queue             queue mode
  -b, --bootstrap         --server is a bootstrap server: bootstrap first, then register with the
                          server it hands out
      --host ADDR         local address to bind (default: any)
      --port PORT         local port (default: ephemeral)
      --interval SECONDS  temperature change period (default 5, 0 = never)
  -h, --help              this text
  -V, --version           the version

${BOOTSTRAP_SERVER_USAGE}
"lwm2m server --help" and "lwm2m firmware --help" list the options of those commands.

${EXIT_CODES}`;

/** Runs the command; resolves with the exit code once it is done (for `client`: after SIGINT / `signal`). */
export async function main(argv: readonly string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout.write(`lwm2m ${VERSION}\n`);
    return 0;
  }
  if (argv[0] === 'bootstrap-server') return bootstrapServerMain(argv.slice(1), io, signal);
  if (argv[0] === 'server') return runServer(argv.slice(1), io, signal);
  if (argv[0] === 'firmware') return runFirmware(argv.slice(1), io, signal);
  if (argv[0] === 'fleet') return fleetMain(argv.slice(1), io, signal);
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    io.stderr.write(`lwm2m: ${(e as Error).message} (${HELP_HINT})\n`);
    return 2;
  }
  const [command] = args.positionals;
  if (args.values.help || command === undefined) {
    io.stdout.write(USAGE);
    return command === undefined && !args.values.help ? 2 : 0;
  }
  if (command !== 'client') {
    io.stderr.write(`lwm2m: unknown command "${command}" (${HELP_HINT})\n`);
    return 2;
  }
  const { endpoint: name, server } = args.values;
  if (name === undefined || server === undefined) {
    io.stderr.write(`lwm2m client: --endpoint and --server are required (${HELP_HINT})\n`);
    return 2;
  }
  const serverUri = server.replace(/\/+$/, '');
  if (!/^coaps?:\/\/[^/]+$/.test(serverUri)) {
    io.stderr.write('lwm2m client: --server must be coap://HOST:PORT or coaps://HOST:PORT\n');
    return 2;
  }
  const dtls = serverUri.startsWith('coaps:');
  const { 'psk-identity': pskIdentity, 'psk-key': pskKey, oscore: oscoreFile } = args.values;
  const v = args.values;
  const modes = [
    pskIdentity !== undefined || pskKey !== undefined,
    v['rpk-key'] !== undefined || v['server-key'] !== undefined,
    v.cert !== undefined || v.key !== undefined || v.ca !== undefined,
  ].filter(Boolean).length;
  if (dtls !== modes > 0 || modes > 1) {
    io.stderr.write(
      'lwm2m client: coaps:// needs --psk-identity and --psk-key (or --rpk-key/--server-key, or --cert/--key/--ca), and they need coaps://\n',
    );
    return 2;
  }
  let keyed: ExampleSecurity | undefined;
  try {
    if (v['rpk-key'] !== undefined || v['server-key'] !== undefined) {
      if (v['rpk-key'] === undefined || v['server-key'] === undefined)
        throw new Error('--rpk-key and --server-key go together');
      const own = loadEcdsaKey(v['rpk-key']);
      keyed = {
        mode: 1,
        identity: own.publicKey,
        serverKey: loadPublicKey(v['server-key']),
        key: own.privateKey,
      };
    } else if (v.cert !== undefined || v.key !== undefined || v.ca !== undefined) {
      if (v.cert === undefined || v.key === undefined || v.ca === undefined)
        throw new Error('--cert, --key and --ca go together');
      const own = loadEcdsaKey(v.key);
      keyed = {
        mode: 2,
        identity: loadCertificate(v.cert),
        serverKey: loadCertificate(v.ca),
        key: own.privateKey,
      };
    }
  } catch (e) {
    io.stderr.write(`lwm2m client: ${(e as Error).message}\n`);
    return 2;
  }
  if (dtls && keyed === undefined && (pskIdentity === undefined || pskKey === undefined)) {
    io.stderr.write('lwm2m client: --psk-identity and --psk-key go together\n');
    return 2;
  }
  let pskBytes: Uint8Array | undefined;
  if (pskKey !== undefined) {
    if (!/^([0-9a-fA-F]{2})+$/.test(pskKey)) {
      io.stderr.write('lwm2m client: --psk-key must be hex\n');
      return 2;
    }
    pskBytes = fromHex(pskKey);
  }
  let oscore: ContextSettings | undefined;
  if (oscoreFile !== undefined) {
    if (dtls) {
      io.stderr.write('lwm2m client: --oscore needs a coap:// server\n');
      return 2;
    }
    try {
      oscore = parseContextSettings(JSON.parse(readFileSync(oscoreFile, 'utf8')));
    } catch (e) {
      io.stderr.write(`lwm2m client: --oscore ${oscoreFile}: ${(e as Error).message}\n`);
      return 2;
    }
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
  const bootstrap = args.values.bootstrap === true;
  // NoSec: one UDP endpoint the client shares; DTLS and OSCORE: the client opens its own per server
  const plain = !dtls && oscore === undefined;
  let endpoint: CoapEndpoint | undefined;
  if (plain) {
    try {
      endpoint = await createUdpEndpoint({ address: args.values.host, port });
    } catch (e) {
      io.stderr.write(`lwm2m client: cannot bind port ${port}: ${(e as Error).message}\n`);
      return 69;
    }
  }
  const security: ExampleSecurity | undefined = keyed
    ? keyed
    : dtls
      ? { mode: 0, identity: new TextEncoder().encode(pskIdentity!), key: pskBytes! }
      : oscore !== undefined
        ? { mode: 3, oscore }
        : undefined;
  const client = new Lwm2mClient({
    endpointName: name,
    endpoint,
    transports: nodeServerTransports({ address: args.values.host, port, connectionId: v['no-cid'] !== true }),
    oscoreCrypto: nodeCrypto,
    stateStore:
      args.values['state-dir'] === undefined ? undefined : new FileClientStateStore(args.values['state-dir']),
    ...(bootstrap ? { bootstrap: { retry: { initialDelay: 5, maxDelay: 60 } } } : { serverUri }),
    lifetime,
    version,
    queueMode: args.values.queue,
    // a command-line device keeps trying: sequences of 5 attempts (10, 20, 40, 80 s apart), for ever
    retry: { count: 5, timer: 10, sequenceDelay: 60, sequenceCount: Number.POSITIVE_INFINITY },
    objectVersions: EXAMPLE_OBJECT_VERSIONS,
  });
  const device = installExampleDevice(client, {
    serverUri,
    security,
    bootstrap,
    lifetime,
    clock: systemClock,
    interval,
    log,
  });
  client.on('bootstrapStarted', (uri) => log(`Bootstrap-Request to ${uri}`));
  client.on('bootstrapped', () =>
    log(
      `bootstrapped: registering with ${
        client
          .serverAccounts()
          .map((a) => a.uri)
          .join(', ') || '(no server account)'
      }`,
    ),
  );
  client.on('bootstrapFailed', (e, retryIn) =>
    log(
      `bootstrap failed: ${e.message}${retryIn === undefined ? '' : `; again in ${Math.round(retryIn / 1000)} s`}`,
    ),
  );
  client.on('versionFallback', (from, to, code) =>
    log(`Register as LwM2M ${from} answered ${code}: registering as LwM2M ${to}`),
  );
  client.on('registered', (loc) => log(`registered at ${loc}`));
  client.on('updated', () => log('registration updated'));
  client.on('deregistered', () => log('de-registered'));
  client.on('error', (e) => log(`error: ${e.message}`));
  client.on('operation', (op) => {
    if (op.operation === 'Notify') return;
    log(`${op.operation} ${op.path} -> ${op.code}${op.detail ? ` (${op.detail})` : ''}`);
  });
  const local = endpoint?.transport.local;
  const on = local === undefined ? (dtls ? 'DTLS' : 'OSCORE') : `${local.address}:${local.port}`;
  log(
    `lwm2m client "${name}" (LwM2M ${version}) on ${on} -> ${bootstrap ? 'bootstrap server ' : ''}${serverUri}`,
  );
  client.start();
  await untilStopped(signal);
  device.stop();
  const stopping = client.stop();
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
  await Promise.race([stopping, timeout]);
  await endpoint?.close();
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
      bootstrap: { type: 'boolean', short: 'b' },
      host: { type: 'string' },
      // no -p: in `coap` -p is the payload
      port: { type: 'string' },
      interval: { type: 'string' },
      'psk-identity': { type: 'string' },
      'psk-key': { type: 'string' },
      'rpk-key': { type: 'string' },
      'server-key': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      'no-cid': { type: 'boolean' },
      oscore: { type: 'string' },
      'state-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
