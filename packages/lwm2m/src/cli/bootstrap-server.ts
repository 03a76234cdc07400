/**
 * `lwm2m bootstrap-server`: our LwM2M bootstrap server (LwM2M TS Core 1.1 §6.1) on UDP (and DTLS PSK with
 * `--coaps-port`: the keys are the bootstrap-server accounts' `pskIdentity`/`pskKey`), with the
 * configurations of a JSON file (`{ "<endpoint>": BootstrapConfig }`, see README.md "Bootstrap"). Logs
 * every Bootstrap-Request, every operation of a session and how it ended.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CoapEndpoint, fromHex } from '@thimble/coap-core';
import { DtlsServerTransport, UdpTransport } from '@thimble/coap-core/node';
import type { BootstrapConfigStore } from '../bootstrap/types.js';
import { JsonFileBootstrapConfigStore } from '../node/bootstrap-store.js';
import { DualTransport } from '../node/secure-transport.js';
import { Lwm2mBootstrapServer } from '../server/bootstrap/server.js';
import { MemoryBootstrapConfigStore } from '../server/bootstrap/store.js';
import { HELP_HINT } from './exit.js';
import type { CliIo } from './io.js';

export const BOOTSTRAP_SERVER_USAGE = `Usage:
  lwm2m bootstrap-server [--coap-port 5783] [--host ADDR] [--config FILE] [--coaps-port PORT]

Options:
      --coap-port PORT    UDP port (default 5783; 0 picks a free one)
      --coaps-port PORT   also serve DTLS (PSK) on this port: a device's PSK is the pskIdentity / pskKey of
                          the bootstrap-server account in its configuration, and binds it to that endpoint
      --host ADDR         local address to bind (default: any)
  -c, --config FILE       bootstrap configurations, JSON: { "<endpoint>": { "security": ..., "servers": ... } }
  -h, --help              this text
`;

export async function bootstrapServerMain(
  argv: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  let values: { 'coap-port'?: string; 'coaps-port'?: string; host?: string; config?: string; help?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        'coap-port': { type: 'string' },
        'coaps-port': { type: 'string' },
        host: { type: 'string' },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    io.stderr.write(`lwm2m bootstrap-server: ${(e as Error).message} (${HELP_HINT})\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(BOOTSTRAP_SERVER_USAGE);
    return 0;
  }
  const port = Number(values['coap-port'] ?? '5783');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.stderr.write('lwm2m bootstrap-server: bad --coap-port\n');
    return 2;
  }
  if (values.config !== undefined && !existsSync(values.config)) {
    // the store would start empty on a missing file (the REST API creates it); the command refuses a typo
    io.stderr.write(`lwm2m bootstrap-server: --config ${values.config}: no such file\n`);
    return 66;
  }
  const coapsPort = values['coaps-port'] === undefined ? undefined : Number(values['coaps-port']);
  if (coapsPort !== undefined && (!Number.isInteger(coapsPort) || coapsPort < 0 || coapsPort > 65535)) {
    io.stderr.write('lwm2m bootstrap-server: bad --coaps-port\n');
    return 2;
  }
  let store: BootstrapConfigStore;
  try {
    store =
      values.config === undefined
        ? new MemoryBootstrapConfigStore()
        : new JsonFileBootstrapConfigStore(values.config);
  } catch (e) {
    io.stderr.write(`lwm2m bootstrap-server: ${(e as Error).message}\n`);
    return 1;
  }
  const log = (line: string) => io.stdout.write(`${new Date().toISOString()} ${line}\n`);
  let udp: UdpTransport;
  try {
    udp = await UdpTransport.bind({ address: values.host, port });
  } catch (e) {
    io.stderr.write(`lwm2m bootstrap-server: cannot listen on port ${port}: ${(e as Error).message}\n`);
    return 69;
  }
  let dtls: DtlsServerTransport | undefined;
  if (coapsPort !== undefined) {
    dtls = await DtlsServerTransport.listen({
      address: values.host ?? (udp.local.address.includes(':') ? '::' : '0.0.0.0'),
      port: coapsPort,
      pskLookup: (identity) => {
        for (const { config } of store.list()) {
          for (const s of Object.values(config.security)) {
            if (s.bootstrapServer && s.securityMode === 'psk' && s.pskIdentity === identity && s.pskKey)
              return fromHex(s.pskKey);
          }
        }
        return undefined;
      },
    });
  }
  const endpoint = new CoapEndpoint({ transport: dtls === undefined ? udp : new DualTransport(udp, dtls) });
  const server = new Lwm2mBootstrapServer({ endpoint, store });
  server.on('rejected', (ep, peer, reason) =>
    log(`Bootstrap-Request from ${peer.address}:${peer.port} (ep=${ep ?? '-'}) refused: ${reason}`),
  );
  server.on('sessionStarted', (s) =>
    log(
      `${s.endpoint}: Bootstrap-Request from ${s.peer.address}:${s.peer.port}${s.preferredFormat === undefined ? '' : ` pct=${s.preferredFormat}`}`,
    ),
  );
  server.on('operation', (s, op) =>
    log(`${s.endpoint}: ${op.operation} ${op.path} -> ${op.code}${op.detail ? ` (${op.detail})` : ''}`),
  );
  server.on('sessionSucceeded', (s, r) => log(`${s.endpoint}: bootstrap done (content format ${r.format})`));
  server.on('sessionFailed', (s, reason) => log(`${s.endpoint}: bootstrap failed: ${reason}`));
  const local = udp.local;
  if (dtls !== undefined) log(`lwm2m bootstrap-server: coaps on ${dtls.local.address}:${dtls.local.port}`);
  const count = store.list().length;
  log(
    `lwm2m bootstrap-server on ${local.address}:${local.port}, ${count} configuration${count === 1 ? '' : 's'}${values.config === undefined ? ' (no --config: every endpoint is unknown)' : ` from ${values.config}`}`,
  );
  await new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
    if (signal === undefined) {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }
  });
  server.close();
  await endpoint.close();
  return 0;
}
