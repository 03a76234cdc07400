/**
 * The Thimble demo (`npm run demo`): an LwM2M server and the example device on UDP loopback, in one
 * process. The server reads the Device object, observes the temperature for a few seconds, pushes a
 * firmware image to the device with a campaign (progress bar on stderr), waits for the device to report
 * the new version, and prints a summary. Exit code 0 when every step worked, 1 otherwise.
 *
 *   npm run demo                 # about 15 seconds
 *   npm run demo -- --short      # about 3 seconds (what the test runs)
 *   npm run demo -- --observe 10 --size 262144
 *
 * Runs from the TypeScript sources with tsx (the root tsconfig maps @thimble/* to packages/*\/src), so it
 * works right after `npm ci`, without a build.
 */
import { parseArgs } from 'node:util';
import { type CoapEndpoint, systemClock } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import {
  FirmwareCampaigns,
  type FirmwareEvent,
  Lwm2mClient,
  type Lwm2mNode,
  Lwm2mServer,
  type ServerObservation,
} from '@thimble/lwm2m';
import { EXAMPLE_OBJECT_VERSIONS, installExampleDevice } from '@thimble/lwm2m/node';

const { values: args } = parseArgs({
  options: {
    short: { type: 'boolean' },
    observe: { type: 'string' },
    size: { type: 'string' },
    quiet: { type: 'boolean' },
  },
});
const short = args.short === true;
const observeSeconds = Number(args.observe ?? (short ? 1.5 : 5));
const imageSize = Number(args.size ?? (short ? 24 * 1024 : 96 * 1024));
const temperatureInterval = short ? 0.25 : 1;
const installTime = short ? 200 : 1500;
const NEW_VERSION = '1.0.0';
const ENDPOINT = 'thimble-demo-device';

const out = (line = '') => process.stdout.write(`${line}\n`);
const log = (line: string) => {
  if (!args.quiet) process.stdout.write(`  · ${line}\n`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function value(node: Lwm2mNode): string {
  if (node.kind === 'resource' || node.kind === 'resourceInstance') return format(node.value);
  if (node.kind === 'multipleResource') return `[${node.instances.map((i) => format(i.value)).join(', ')}]`;
  return `(${node.kind})`;
}

function format(v: unknown): string {
  if (v instanceof Uint8Array) return `0x${Buffer.from(v).toString('hex')}`;
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

/** The demo firmware image: the example device's header line, then pseudo-random bytes. */
function buildImage(size: number): Uint8Array {
  const header = new TextEncoder().encode(`THIMBLE-FW ${NEW_VERSION}\n`);
  const img = new Uint8Array(Math.max(size, header.length));
  img.set(header);
  let x = 0x2545f491;
  for (let i = header.length; i < img.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    img[i] = x & 0xff;
  }
  return img;
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per quarter otherwise. */
function progressBar() {
  const tty = process.stderr.isTTY === true;
  let lastQuarter = -1;
  return {
    update(sent: number, total: number) {
      const ratio = total === 0 ? 0 : sent / total;
      const width = 30;
      const filled = Math.round(ratio * width);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${(sent / 1024).toFixed(1)}/${(total / 1024).toFixed(1)} KiB`;
      if (tty) process.stderr.write(`\r  firmware ${bar}`);
      else {
        const q = Math.floor(ratio * 4);
        if (q !== lastQuarter) {
          lastQuarter = q;
          process.stderr.write(`  firmware ${bar}\n`);
        }
      }
    },
    end() {
      if (tty) process.stderr.write('\n');
    },
  };
}

async function main(): Promise<number> {
  const started = Date.now();
  const closers: (() => unknown)[] = [];
  let serverEndpoint: CoapEndpoint | undefined;
  try {
    // --------------------------------------------------------------- the server
    serverEndpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const port = serverEndpoint.transport.local.port;
    const server = new Lwm2mServer({ endpoint: serverEndpoint });
    closers.push(() => server.close());
    const firmware = new FirmwareCampaigns({
      server,
      publicUri: `coap://127.0.0.1:${port}`,
      pollInterval: 1000,
    });
    closers.push(() => firmware.close());
    out(`LwM2M server on coap://127.0.0.1:${port} (in-memory registration store)`);

    // --------------------------------------------------------------- the device
    const deviceEndpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    closers.push(() => deviceEndpoint.close());
    const serverUri = `coap://127.0.0.1:${port}`;
    const client = new Lwm2mClient({
      endpointName: ENDPOINT,
      endpoint: deviceEndpoint,
      serverUri,
      lifetime: 60,
      objectVersions: EXAMPLE_OBJECT_VERSIONS,
    });
    const device = installExampleDevice(client, {
      serverUri,
      lifetime: 60,
      clock: systemClock,
      interval: temperatureInterval,
      installTime,
      log,
    });
    closers.unshift(async () => {
      device.stop();
      await client.stop();
    });
    const registered = new Promise<void>((resolve) => {
      server.on('registered', (r) => {
        if (r.endpoint === ENDPOINT) resolve();
      });
    });
    client.start();
    await registered;
    const reg = server.registration(ENDPOINT)!;
    out(
      `device "${ENDPOINT}" registered (LwM2M ${reg.version}, objects ${reg.objects.map((o) => `/${o.path.join('/')}`).join(' ')})`,
    );

    // --------------------------------------------------------------- read the Device object
    out();
    out('Device object (/3/0):');
    const dev = await server.read(ENDPOINT, '/3/0');
    if (dev.kind !== 'objectInstance') throw new Error('/3/0 is not an object instance');
    for (const r of dev.resources) {
      const name = server.model.getResource(3, r.id)?.name ?? `resource ${r.id}`;
      out(`  ${String(r.id).padStart(2)} ${name.padEnd(28)} ${value(r)}`);
    }
    const oldVersion = String((dev.resources.find((r) => r.id === 3) as { value?: unknown })?.value);

    // --------------------------------------------------------------- observe the temperature
    out();
    out(`Observing the temperature (/3303/0/5700) for ${observeSeconds} s:`);
    const observation: ServerObservation = await server.observe(ENDPOINT, '/3303/0/5700');
    out(`  ${observation.latest === undefined ? '?' : value(observation.latest)} °C (current value)`);
    let notifications = 0;
    observation.on('notification', (n) => {
      notifications++;
      out(`  ${value(n)} °C (notification ${notifications})`);
    });
    await sleep(observeSeconds * 1000);
    await observation.cancel();
    out(`  ${notifications} notification(s); observation cancelled`);

    // --------------------------------------------------------------- firmware campaign
    out();
    const img = buildImage(imageSize);
    const info = await firmware.addImage(`thimble-example-${NEW_VERSION}.bin`, img);
    out(`Firmware ${info.name}: ${info.size} bytes, sha256 ${info.sha256}`);
    out(`Pushing it to "${ENDPOINT}" (Block1 write of /5/0/0, then Execute /5/0/2):`);
    const bar = progressBar();
    const states: string[] = [];
    firmware.subscribe((e: FirmwareEvent) => {
      if (e.type !== 'progress') return;
      bar.update(e.bytesSent, e.totalBytes);
      if (states[states.length - 1] !== e.state) states.push(e.state);
    });
    const campaign = firmware.startCampaign({
      imageId: info.id,
      targets: [ENDPOINT],
      method: 'push',
      retries: 1,
      attemptTimeoutMs: 60_000,
    });
    const done = await firmware.finished(campaign.id);
    bar.end();
    const status = done.devices[0]!;
    out(`  campaign ${done.id}: ${states.join(' → ')}`);
    if (status.state !== 'succeeded') throw new Error(`the update failed: ${status.error ?? status.state}`);

    // --------------------------------------------------------------- the new version
    let newVersion = '';
    for (let i = 0; i < 50; i++) {
      const v = await server.read(ENDPOINT, '/3/0/3');
      newVersion = v.kind === 'resource' ? String(v.value) : '';
      if (newVersion === NEW_VERSION) break;
      await sleep(100);
    }
    const result = await server.read(ENDPOINT, '/5/0/5');

    out();
    out('Summary');
    out(`  device            ${ENDPOINT}`);
    out(`  firmware          ${oldVersion} -> ${newVersion}`);
    out(`  image             ${info.size} bytes, sha256 ${info.sha256.slice(0, 16)}…`);
    out(`  update result     ${value(result)} (${value(result) === '1' ? 'success' : 'failure'})`);
    out(
      `  campaign          ${done.succeeded} succeeded, ${done.failed} failed, ${status.attempts} attempt(s)`,
    );
    out(`  temperature       ${notifications} notification(s) in ${observeSeconds} s`);
    out(`  elapsed           ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const ok = newVersion === NEW_VERSION && value(result) === '1' && notifications > 0;
    out(ok ? 'DEMO OK' : 'DEMO FAILED');
    return ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`\ndemo failed: ${(e as Error)?.stack ?? String(e)}\n`);
    out('DEMO FAILED');
    return 1;
  } finally {
    for (const c of closers) {
      try {
        await c();
      } catch {
        // closing is best effort
      }
    }
    await serverEndpoint?.close();
  }
}

// a demo that hangs is a failed demo
const watchdog = setTimeout(() => {
  process.stderr.write('demo failed: did not finish within 120 s\n');
  process.exit(1);
}, 120_000);
watchdog.unref();
process.exitCode = await main();
