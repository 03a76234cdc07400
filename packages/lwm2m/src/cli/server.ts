/**
 * `lwm2m server`: an `Lwm2mServer` on UDP plus its REST API, logging registrations, until SIGINT / SIGTERM
 * (see README.md, "The lwm2m server command").
 *
 * The stores behind `--store` and the firmware campaign engine come through `ServerCommandDeps`, so a
 * persistent store or a `FirmwareService` is wired in one place (`serverCommandDeps`).
 */
import { parseArgs } from 'node:util';
import type { CoapEndpoint, Transport } from '@thimble/coap-core';
import { UdpTransport } from '@thimble/coap-core/node';
import { nodeCrypto } from '@thimble/oscore/node';
import type { BootstrapConfigStore } from '../bootstrap/types.js';
import { BUILTIN_OBJECTS } from '../model/builtin.js';
import { ObjectRegistry } from '../model/registry.js';
import { addObjectDefinitionFiles } from '../node/ddf.js';
import { loadEcdsaKey } from '../node/keys.js';
import { loadRegistryModels } from '../node/registry-models.js';
import { createRestApi, startRestApi } from '../node/rest/app.js';
import { isLoopbackHost, RequestGuard } from '../node/rest/guard.js';
import { CoapMessageLog } from '../node/rest/message-log.js';
import { DualTransport, generateServerKey, listenDtls } from '../node/secure-transport.js';
import { openSqliteStores } from '../node/sqlite-store.js';
import { FirmwareCampaigns } from '../server/firmware/campaign.js';
import type { FirmwareService } from '../server/firmware/types.js';
import type { ObservationStore } from '../server/observation/store.js';
import {
  MemoryRegistrationStore,
  type Registration,
  type RegistrationStore,
} from '../server/registration/store.js';
import { MemorySecurityStore } from '../server/security/store.js';
import type { SecurityStore } from '../server/security/types.js';
import { Lwm2mServer } from '../server/server.js';
import { defaultConsoleDir } from './console-dir.js';
import type { CliIo } from './io.js';
import { untilStopped } from './signals.js';

/** What `--store` opens. */
export interface ServerStores {
  readonly registrations: RegistrationStore;
  readonly security?: SecurityStore;
  readonly observations?: ObservationStore;
  readonly bootstrap?: BootstrapConfigStore;
  close?(): void;
}

/** What the firmware engine gets to work with once the server runs. */
export interface FirmwareContext {
  readonly server: Lwm2mServer;
  readonly endpoint: CoapEndpoint;
  /** The CoAP server's address as devices would use it, e.g. `coap://127.0.0.1:5683` (for pull). */
  readonly coapUri: string;
}

export interface ServerCommandDeps {
  /** Opens the stores named by `--store` (`memory`, `sqlite:PATH`); throws an `Error` with a message. */
  openStores(spec: string): ServerStores;
  /** The firmware campaign engine; without one `/api/firmware` answers 501. */
  createFirmware?: (context: FirmwareContext) => FirmwareService & { close?(): void };
}

export function openStores(spec: string): ServerStores {
  if (spec === 'memory')
    return { registrations: new MemoryRegistrationStore(), security: new MemorySecurityStore() };
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '') throw new Error('--store sqlite:PATH needs a file path');
    return openSqliteStores(path);
  }
  throw new Error(`--store must be memory or sqlite:PATH, not "${spec}"`);
}

export const serverCommandDeps: ServerCommandDeps = {
  openStores,
  createFirmware: ({ server, coapUri }) => new FirmwareCampaigns({ server, publicUri: coapUri }),
};

export const SERVER_USAGE = `  lwm2m server [--coap-port 5683] [--http-port 8080] [--coaps-port 5684|off] [--host 127.0.0.1] [--store memory|sqlite:PATH] [--token T]
               [--allowed-host NAME]... [--cors-origin ORIGIN]... [--console DIR|none] [--require-security]
               [--allow-nosec-takeover] [--models DIR]...

Server options:
      --coap-port PORT    UDP port of the LwM2M server (default 5683, 0 = any free port)
      --coap-host ADDR    address the CoAP socket binds (default: every interface)
      --public-uri URI    the server's CoAP address as devices reach it, e.g. coap://192.0.2.10:5683: the
                          base of the firmware pull URIs (default coap://COAP-HOST:PORT, 127.0.0.1 if unset)
      --coaps-port PORT   DTLS port (coaps://) for devices with PSK or RPK credentials in the security
                          store (/api/security); default 5684, or --coap-port + 1 when --coap-port is
                          given (0 with 0); "off" serves no DTLS
      --dtls-key FILE     the server's EC P-256 private key (PEM) for RPK devices (default: a new key,
                          its public key is logged)
      --http-port PORT    port of the REST API (default 8080, 0 = any free port)
      --host ADDR         address the REST API listens on (default 127.0.0.1)
      --store SPEC        memory (default) or sqlite:PATH
      --token TOKEN       require "Authorization: Bearer TOKEN" on the API (or set LWM2M_API_TOKEN);
                          needed when --host is not a loopback address
      --allowed-host NAME a name the API answers to in the Host header besides localhost, 127.0.0.1,
                          [::1] and --host (repeatable; DNS rebinding protection)
      --cors-origin ORIGIN  an origin (https://console.example) allowed to call the API cross-origin
                          (repeatable)
      --console DIR|none  the web console's files, served at / (default: the console shipped in the package)
      --require-security  refuse NoSec devices (4.03): only devices with credentials in the store register
      --allow-nosec-takeover  let a NoSec Register from another IP address replace a live registration of
                          the same name (default: 4.03 until it expires; see SECURITY.md)
  -m, --models DIR        object definitions (DDF XML files) of a folder, or one file: vendor and test
                          objects to read and write by type; they replace built-in and registry ones
                          (repeatable; GET /api/objectspecs lists the models)
`;

function port(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || n > 65535) throw new Error(`"${text}" is not a port number`);
  return n;
}

const hostPort = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

const describe = (r: Registration): string =>
  `"${r.endpoint}" (LwM2M ${r.version}, lifetime ${r.lifetime} s, ${r.binding}${r.queueMode ? ', queue mode' : ''}) from ${r.peer.address}:${r.peer.port}`;

/** Runs `lwm2m server`; resolves with the exit code once stopped by a signal (or `signal`). */
export async function runServer(
  argv: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
  deps: ServerCommandDeps = serverCommandDeps,
): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  let coapPort: number;
  let httpPort: number;
  let publicUri: string | undefined;
  let coapsPort: number | undefined;
  let dtlsKey: ReturnType<typeof loadEcdsaKey> | undefined;
  try {
    values = parse(argv).values;
    coapPort = port(values['coap-port'], 5683);
    publicUri = values['public-uri']?.replace(/\/+$/, '');
    if (publicUri !== undefined && !/^coaps?:\/\/[^/?#\s]+$/.test(publicUri)) {
      throw new Error(
        `--public-uri must be coap://HOST[:PORT] or coaps://HOST[:PORT], not "${values['public-uri']}"`,
      );
    }
    const coapsText = values['coaps-port'];
    coapsPort =
      coapsText === 'off'
        ? undefined
        : coapsText !== undefined
          ? port(coapsText, 5684)
          : values['coap-port'] === undefined
            ? 5684
            : coapPort === 0
              ? 0
              : coapPort + 1;
    if (coapsPort !== undefined && coapsPort > 65535) throw new Error(`no port above ${coapPort} for coaps`);
    dtlsKey = values['dtls-key'] === undefined ? undefined : loadEcdsaKey(values['dtls-key']);
    httpPort = port(values['http-port'], 8080);
  } catch (e) {
    io.stderr.write(`lwm2m server: ${(e as Error).message} (\`lwm2m server --help\` lists the options)\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`Usage:\n${SERVER_USAGE}`);
    return 0;
  }
  const token = values.token ?? process.env.LWM2M_API_TOKEN;
  const host = values.host ?? '127.0.0.1';
  const hasToken = token !== undefined && token !== '';
  if (!hasToken && !isLoopbackHost(host)) {
    io.stderr.write(
      `lwm2m server: --host ${host} is not loopback: give --token (or LWM2M_API_TOKEN) to expose the API\n`,
    );
    return 2;
  }
  const guard = {
    ...(hasToken ? { token } : {}),
    allowedHosts: values['allowed-host'] ?? [],
    corsOrigins: values['cors-origin'] ?? [],
  };
  try {
    new RequestGuard(guard); // validates --allowed-host and --cors-origin before anything starts
  } catch (e) {
    io.stderr.write(`lwm2m server: ${(e as Error).message}\n`);
    return 2;
  }
  let stores: ServerStores;
  try {
    stores = deps.openStores(values.store ?? 'memory');
  } catch (e) {
    io.stderr.write(`lwm2m server: ${(e as Error).message}\n`);
    return 2;
  }
  const log = (line: string) => io.stdout.write(`${new Date().toISOString()} ${line}\n`);

  const closers: (() => unknown)[] = [() => stores.close?.()];
  const stop = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (e) {
        io.stderr.write(`lwm2m server: while stopping: ${(e as Error).message}\n`);
      }
    }
  };
  try {
    // the console's per-device CoAP log: logs only the devices someone watches
    const messageLog = new CoapMessageLog();
    const udp = await UdpTransport.bind({ address: values['coap-host'], port: coapPort });
    let transport: Transport = udp;
    closers.push(() => udp.close());
    // DTLS needs credentials: a store without a security part serves no coaps:// unless it was asked for
    if (coapsPort !== undefined && stores.security === undefined && values['coaps-port'] !== undefined)
      throw new Error('--coaps-port needs a store with credentials');
    if (coapsPort !== undefined && stores.security !== undefined) {
      const serverKey = dtlsKey ?? generateServerKey();
      const dtls = await listenDtls({
        security: stores.security,
        ecdsa: serverKey,
        address: values['coap-host'] ?? (udp.local.address.includes(':') ? '::' : '0.0.0.0'),
        port: coapsPort,
        onLog: (m, p) => log(`dtls ${hostPort(p.address, p.port)}: ${m}`),
      });
      closers.push(() => dtls.close());
      transport = new DualTransport(udp, dtls);
      const pub = Buffer.from(serverKey.publicKey).toString('hex');
      log(
        `coaps (DTLS: PSK, RPK) on udp ${hostPort(dtls.local.address, dtls.local.port)}, server public key ${pub}`,
      );
    }
    // the server builds its endpoint on the socket (with the OSCORE layer when there are credentials)
    // the model: built-in objects, the OMA registry's common objects, then --models folders (they win)
    const model = new ObjectRegistry(BUILTIN_OBJECTS);
    const shipped = await loadRegistryModels(model);
    const own = await addObjectDefinitionFiles(model, values.models ?? [], true);
    const server = new Lwm2mServer({
      transport,
      endpointOptions: { trace: messageLog.trace },
      model,
      store: stores.registrations,
      ...(stores.observations === undefined ? {} : { observationStore: stores.observations }),
      ...(stores.security === undefined ? {} : { security: stores.security, oscore: { crypto: nodeCrypto } }),
      registrationPolicy: {
        requireSecurity: values['require-security'] === true,
        allowNoSecTakeover: values['allow-nosec-takeover'] === true,
      },
    });
    closers.push(() => server.close());
    const endpoint = server.endpoint;
    server.on('registered', (r, replaced) => log(`registered ${describe(r)}${replaced ? ' (again)' : ''}`));
    server.on('updated', (r) => log(`updated "${r.endpoint}"`));
    server.on('deregistered', (r) => log(`de-registered "${r.endpoint}"`));
    server.on('expired', (r) => log(`expired "${r.endpoint}"`));
    const local = udp.local;
    const firmware = deps.createFirmware?.({
      server,
      endpoint,
      coapUri: publicUri ?? `coap://${hostPort(values['coap-host'] ?? '127.0.0.1', local.port)}`,
    });
    if (firmware?.close !== undefined) closers.push(() => firmware.close?.());
    const consoleDir = values.console === 'none' ? undefined : (values.console ?? defaultConsoleDir());
    const app = await createRestApi({
      server,
      ...(consoleDir === undefined ? {} : { console: consoleDir }),
      messageLog,
      ...(firmware === undefined ? {} : { firmware }),
      ...(stores.security === undefined ? {} : { security: stores.security }),
      ...(stores.bootstrap === undefined ? {} : { bootstrap: stores.bootstrap }),
      ...guard,
    });
    closers.push(() => app.close());
    const url = await startRestApi(app, { host, port: httpPort });
    log(
      `LwM2M server on udp ${hostPort(local.address, local.port)}, REST API on ${url}/api${token ? ' (bearer token)' : ''}${consoleDir === undefined ? '' : `, web console on ${url}/`}`,
    );
    log(
      `object models: ${model.list().length} (${shipped.length} from the OMA registry${
        own.length > 0 ? `, ${own.map((d) => d.id).join(' ')} from --models` : ''
      })`,
    );
  } catch (e) {
    io.stderr.write(`lwm2m server: ${(e as Error).message}\n`);
    await stop();
    return 1;
  }
  await untilStopped(signal);
  log('stopping');
  await stop();
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: false,
    options: {
      'coap-port': { type: 'string' },
      'coap-host': { type: 'string' },
      'public-uri': { type: 'string' },
      'coaps-port': { type: 'string' },
      'dtls-key': { type: 'string' },
      'http-port': { type: 'string' },
      host: { type: 'string' },
      store: { type: 'string' },
      token: { type: 'string' },
      'allowed-host': { type: 'string', multiple: true },
      'cors-origin': { type: 'string', multiple: true },
      console: { type: 'string' },
      'require-security': { type: 'boolean' },
      'allow-nosec-takeover': { type: 'boolean' },
      models: { type: 'string', short: 'm', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
