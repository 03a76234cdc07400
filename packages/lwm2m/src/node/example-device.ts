/**
 * The example device the `lwm2m client` command runs: Security (NoSec), Server, Device, Connectivity
 * Monitoring, Location, a Temperature sensor whose value drifts every few seconds, and Firmware Update
 * (push, or pull over coap:// and http(s)://) with a simulated install that "reboots" (registers again)
 * and then reports the new version in /3/0/3.
 *
 * The example device's package format: any bytes; a package that starts with the line
 * `THIMBLE-FW <version>\n` installs that version, any other package the current version with its patch
 * number plus one. A package larger than the simulated flash (`flashSize`) fails with Update Result 2.
 */
import type { Clock } from '@thimble/coap-core';
import type { ContextSettings } from '@thimble/oscore';
import type { Lwm2mClient } from '../client/client.js';
import {
  FirmwareOutOfSpaceError,
  type FirmwareSink,
  type FirmwareUpdate,
  installFirmwareUpdate,
} from '../client/firmware/firmware.js';
import type { ResourceInit } from '../client/objects/store.js';
import { Sha256, toHexString } from '../util/sha256.js';
import { httpPackageFetcher } from './firmware-http.js';

/** How the example device secures its server account (Security object, TS Core 1.1 Appendix E.1). */
export interface ExampleSecurity {
  /** /0/x/2: 0 PSK, 1 RPK, 2 Certificate (DTLS), 3 NoSec. */
  readonly mode: 0 | 1 | 2 | 3;
  /** /0/x/3: the PSK identity, or our public key (RPK) or certificate (Certificate), DER. */
  readonly identity?: Uint8Array;
  /** /0/x/4: the server's public key (RPK), or its certificate or CA certificate (Certificate), DER. */
  readonly serverKey?: Uint8Array;
  /** /0/x/5: the PSK, or our private key (PKCS#8 DER). */
  readonly key?: Uint8Array;
  /** An OSCORE context: written to /21/0, linked from /0/0/17. */
  readonly oscore?: ContextSettings;
}

export interface ExampleDeviceOptions {
  readonly serverUri: string;
  /** Default NoSec. */
  readonly security?: ExampleSecurity;
  readonly lifetime: number;
  readonly clock: Clock;
  /** Seconds between temperature changes (default 5; 0 keeps it still). */
  readonly interval?: number;
  readonly log?: (line: string) => void;
  readonly firmwareVersion?: string;
  /** `serverUri` is a bootstrap server: a bootstrap-server account instead of the server account. */
  readonly bootstrap?: boolean;
  /** Milliseconds the simulated firmware install takes before the reboot (default 2000). */
  readonly installTime?: number;
  /** Bytes of simulated flash for a firmware package (default 8 MiB). */
  readonly flashSize?: number;
}

export interface ExampleDevice {
  /** Stops the temperature timer. */
  stop(): void;
  /** The Firmware Update object (/5/0). */
  readonly firmware: FirmwareUpdate;
}

const SHORT_SERVER_ID = 123;

/**
 * The example device only uses resources of Server 1.1, Device 1.1 and Connectivity Monitoring 1.2, so it
 * registers those versions (servers that predate the newer definitions, like Leshan 2.0.0-M4, know them).
 */
export const EXAMPLE_OBJECT_VERSIONS: { readonly [objectId: number]: string } = {
  1: '1.1',
  3: '1.1',
  4: '1.2',
  // resources 0–9 of Firmware Update, all in its version 1.0
  5: '1.0',
};

/** The version a package installs (see the module comment). */
export function exampleFirmwareVersion(header: Uint8Array, current: string): string {
  const text = new TextDecoder().decode(header);
  const m = /^THIMBLE-FW ([^\s]{1,64})\n/.exec(text);
  if (m !== null) return m[1]!;
  const v = /^(\d+)\.(\d+)\.(\d+)$/.exec(current);
  return v === null ? `${current}+1` : `${v[1]}.${v[2]}.${Number(v[3]) + 1}`;
}

export function installExampleDevice(client: Lwm2mClient, options: ExampleDeviceOptions): ExampleDevice {
  const clock = options.clock;
  const log = options.log ?? (() => {});
  let timeOffset = 0;
  const nowSeconds = () => Math.floor(Date.now() / 1000) + timeOffset;
  if (options.bootstrap) {
    // Security (0): the bootstrap-server account (NoSec, or DTLS with `security`); the bootstrap server
    // writes the rest
    const sec = options.security;
    client.addInstance(0, 0, {
      0: options.serverUri,
      1: true,
      2: sec?.mode ?? 3,
      3: sec?.identity ?? new Uint8Array(0),
      4: sec?.serverKey ?? new Uint8Array(0),
      5: sec?.key ?? new Uint8Array(0),
    });
  } else {
    // Security (0): NoSec, PSK or OSCORE towards the server (TS Core 1.1 Appendix E.1, E.5)
    const sec = options.security;
    const oscore = sec?.oscore;
    if (oscore !== undefined) {
      const r: { [rid: number]: ResourceInit } = {
        0: oscore.masterSecret,
        1: oscore.senderId,
        2: oscore.recipientId,
        3: oscore.algorithm.id,
        4: -10,
      };
      if (oscore.masterSalt !== undefined) r[5] = oscore.masterSalt;
      if (oscore.idContext !== undefined) r[6] = oscore.idContext;
      client.addInstance(21, 0, r);
    }
    const security: { [rid: number]: ResourceInit } = {
      0: options.serverUri,
      1: false,
      2: sec?.mode ?? 3,
      3: sec?.identity ?? new Uint8Array(0),
      4: sec?.serverKey ?? new Uint8Array(0),
      5: sec?.key ?? new Uint8Array(0),
      10: SHORT_SERVER_ID,
    };
    if (oscore !== undefined) security[17] = { objectId: 21, instanceId: 0 };
    client.addInstance(0, 0, security);
    client.addInstance(1, 0, { 0: SHORT_SERVER_ID, 1: options.lifetime, 2: 0, 3: 0, 6: false, 7: 'U' });
  }
  client.addInstance(3, 0, {
    0: 'Thimble',
    1: 'Thimble example device',
    2: 'TH-0001',
    3: options.firmwareVersion ?? '0.1.0',
    4: {
      execute: () => {
        log('device: reboot requested (simulated)');
      },
    },
    5: { execute: () => log('device: factory reset requested (simulated)') },
    6: [1, 5],
    9: 100,
    10: 512,
    11: [0],
    13: {
      read: () => nowSeconds(),
      write: (v) => {
        timeOffset += (v as number) - nowSeconds();
      },
    },
    14: '+00:00',
    15: 'Etc/UTC',
    16: 'U',
    17: 'demo',
    18: '1.0',
    19: '0.1.0',
    21: 1024,
  });
  client.addInstance(4, 0, { 0: 41, 1: [41], 2: 0, 4: ['127.0.0.1'] });
  client.addInstance(6, 0, { 0: 48.8566, 1: 2.3522, 5: { read: () => nowSeconds() } });
  let temperature = 21.5;
  let min = temperature;
  let max = temperature;
  client.addInstance(3303, 0, {
    5700: temperature,
    5701: 'Cel',
    5601: min,
    5602: max,
    5605: {
      execute: () => {
        min = temperature;
        max = temperature;
        client.set('/3303/0/5601', min);
        client.set('/3303/0/5602', max);
      },
    },
  });
  const interval = (options.interval ?? 5) * 1000;
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  let step = 0;
  const tick = () => {
    step++;
    // a gentle deterministic wave so logs are readable: ±1.5 °C around 21.5
    temperature = Math.round((21.5 + 1.5 * Math.sin(step / 3)) * 100) / 100;
    client.set('/3303/0/5700', temperature);
    if (temperature < min) {
      min = temperature;
      client.set('/3303/0/5601', min);
    }
    if (temperature > max) {
      max = temperature;
      client.set('/3303/0/5602', max);
    }
    timer = clock.setTimeout(tick, interval);
  };
  if (interval > 0) timer = clock.setTimeout(tick, interval);

  // Firmware Update (5): the "flash" only keeps the package's first bytes (for its header) and a hash
  const flashSize = options.flashSize ?? 8 * 1024 * 1024;
  let header = new Uint8Array(0);
  let hash = new Sha256();
  const sink: FirmwareSink = {
    begin(info) {
      header = new Uint8Array(0);
      hash = new Sha256();
      if (info.size !== undefined && info.size > flashSize) throw new FirmwareOutOfSpaceError();
      log(`device: firmware download started (${info.method}${info.uri ? ` from ${info.uri}` : ''})`);
    },
    write(chunk, offset) {
      if (offset + chunk.length > flashSize) throw new FirmwareOutOfSpaceError();
      if (header.length < 80) {
        const h = new Uint8Array(Math.min(80, header.length + chunk.length));
        h.set(header);
        h.set(chunk.subarray(0, h.length - header.length), header.length);
        header = h;
      }
      hash.update(chunk);
    },
    finish() {
      log(`device: firmware downloaded (sha256 ${toHexString(hash.digest()).slice(0, 16)}…)`);
    },
    abort(reason) {
      log(`device: firmware download abandoned (${reason})`);
    },
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      clock.setTimeout(resolve, ms);
    });
  const firmware = installFirmwareUpdate(client, {
    sink,
    clock,
    fetchers: [httpPackageFetcher()],
    packageName: 'thimble-example',
    packageVersion: options.firmwareVersion ?? '0.1.0',
    install: async (pkg) => {
      const current = String(client.get('/3/0/3') ?? '0.1.0');
      const version = exampleFirmwareVersion(header, current);
      log(`device: installing firmware ${version} (${pkg.size} bytes)`);
      await sleep(options.installTime ?? 2000);
      log(`device: rebooting into firmware ${version} (simulated)`);
      const back = new Promise<void>((resolve) => {
        const done = () => {
          client.off('registered', done);
          resolve();
        };
        client.on('registered', done);
        clock.setTimeout(done, 30_000);
      });
      client.reregister();
      await back;
      log(`device: running firmware ${version}`);
      return { version, name: 'thimble-example' };
    },
  });
  return {
    firmware,
    stop() {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
