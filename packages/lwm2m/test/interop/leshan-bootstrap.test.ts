/**
 * Interop with Eclipse Leshan's bootstrap server (2.0.0-M4 library, our small Java peer): our Lwm2mClient
 * bootstraps from it over UDP on loopback, then registers with the LwM2M server it was given: Leshan's
 * server demo (checked through its REST API) or our own Lwm2mServer.
 */
import { type CoapEndpoint, systemClock } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { Lwm2mClient, Lwm2mServer, type Lwm2mVersion } from '@thimble/lwm2m';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_OBJECT_VERSIONS, installExampleDevice } from '../../src/node/example-device.js';
import { eventually, type Leshan, requireLeshan, rest, startLeshan } from './leshan.js';
import { type LeshanBootstrap, requireLeshanBootstrap, startLeshanBootstrap } from './leshan-bsserver.js';

const available = requireLeshanBootstrap() && requireLeshan();

interface Device {
  client: Lwm2mClient;
  endpoint: CoapEndpoint;
  log: string[];
  stop: () => Promise<void>;
}

async function bootstrapDevice(bsUri: string, name: string, version: Lwm2mVersion): Promise<Device> {
  const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
  const client = new Lwm2mClient({
    endpointName: name,
    endpoint,
    lifetime: 60,
    version,
    objectVersions: EXAMPLE_OBJECT_VERSIONS,
    requestTimeout: 3_000,
    bootstrap: { timeout: 20_000, retry: { initialDelay: 1, maxDelay: 2 } },
  });
  const log: string[] = [];
  const device = installExampleDevice(client, {
    serverUri: bsUri,
    bootstrap: true,
    lifetime: 60,
    clock: systemClock,
    interval: 0,
    log: (l) => log.push(l),
  });
  client.on('operation', (op) =>
    log.push(`${op.operation} ${op.path} ${op.code}${op.detail ? ` ${op.detail}` : ''}`),
  );
  client.on('bootstrapped', () => log.push('bootstrapped'));
  client.on('bootstrapFailed', (e) => log.push(`bootstrap failed: ${e.message}`));
  client.on('error', (e) => log.push(`error: ${e.message}`));
  client.start();
  return {
    client,
    endpoint,
    log,
    stop: async () => {
      device.stop();
      await client.stop();
      await endpoint.close();
    },
  };
}

describe.skipIf(!available)('Lwm2mClient bootstraps from Leshan bootstrap server (2.0.0-M4)', () => {
  let leshan: Leshan;
  let bs: LeshanBootstrap;
  let ours: Lwm2mServer;
  let oursEndpoint: CoapEndpoint;
  const devices: Device[] = [];
  const EP = `thimble-bs-${process.pid}`;

  beforeAll(async () => {
    oursEndpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    ours = new Lwm2mServer({ endpoint: oursEndpoint });
    leshan = await startLeshan();
    const leshanUri = `coap://127.0.0.1:${leshan.coapPort}`;
    bs = await startLeshanBootstrap([
      { endpoint: `${EP}-11`, serverUri: leshanUri, ssid: 123, lifetime: 90 },
      { endpoint: `${EP}-10`, serverUri: leshanUri, ssid: 124, lifetime: 80 },
      { endpoint: `${EP}-ours`, serverUri: `coap://127.0.0.1:${oursEndpoint.transport.local.port}`, ssid: 7 },
      { endpoint: `${EP}-tlv`, serverUri: leshanUri, ssid: 125, format: 11542, autoId: false },
      {
        endpoint: `${EP}-psk`,
        serverUri: 'coaps://127.0.0.1:5684',
        ssid: 9,
        psk: { identity: 'dev-psk', keyHex: '0a0b0c0d' },
      },
    ]);
  }, 120_000);

  afterAll(async () => {
    for (const d of devices) await d.stop();
    bs?.stop();
    ours?.close();
    await oursEndpoint?.close();
  }, 30_000);

  const run = async (suffix: string, version: Lwm2mVersion) => {
    const d = await bootstrapDevice(bs.uri, `${EP}-${suffix}`, version);
    devices.push(d);
    return d;
  };
  const diagnose = (d: Device) =>
    `\ndevice:\n${d.log.join('\n')}\nbootstrap server:\n${bs.events().join('\n')}`;

  it('LwM2M 1.1 (pct=112, SenML CBOR writes, Discover first): bootstraps, then registers with Leshan', async () => {
    const d = await run('11', '1.1');
    await eventually(
      () => d.client.registrationState === 'registered',
      30_000,
      `registered${diagnose(d)}`,
    ).catch((e) => {
      throw new Error(`${e.message}${diagnose(d)}`);
    });
    const ep = `${EP}-11`;
    const mine = bs.events().filter((l) => l.includes(`ep=${ep} `));
    expect(mine.some((l) => l.includes('pct=SENML_CBOR'))).toBe(true);
    expect(mine.some((l) => /success .*BootstrapDiscoverRequest/.test(l))).toBe(true);
    expect(mine.some((l) => /success .*BootstrapWriteRequest \/0\/1 /.test(l))).toBe(true);
    expect(mine.some((l) => /success .*BootstrapFinishRequest/.test(l))).toBe(true);
    expect(bs.events()).toContain(`EVENT end ep=${ep}`);
    // the device kept its bootstrap account at /0/0; Leshan's server account went to /0/1
    expect(d.client.get('/0/0/1')).toBe(true);
    expect(d.client.get('/0/1/0')).toBe(`coap://127.0.0.1:${leshan.coapPort}`);
    expect(d.client.get('/0/1/10')).toBe(123);
    expect(d.client.get('/1/0/1')).toBe(90);
    const { status, json } = await rest('GET', `${leshan.api}/clients/${ep}`);
    expect(status).toBe(200);
    expect(json.endpoint).toBe(ep);
    expect(json.lifetime).toBe(90);
    expect(json.lwM2mVersion).toBe('1.1');
    // and Leshan can manage it
    const read = await rest('GET', `${leshan.api}/clients/${ep}/3/0/0?format=TEXT`);
    expect(read.json.content).toEqual({ id: 0, value: 'Thimble' });
  }, 60_000);

  it('LwM2M 1.0 (no pct: TLV writes): bootstraps, then registers with Leshan in 1.0', async () => {
    const d = await run('10', '1.0');
    await eventually(() => d.client.registrationState === 'registered', 30_000, 'registered').catch((e) => {
      throw new Error(`${e.message}${diagnose(d)}`);
    });
    expect(bs.events().some((l) => l.includes(`ep=${EP}-10 `) && l.includes('format=TLV'))).toBe(true);
    const { json } = await rest('GET', `${leshan.api}/clients/${EP}-10`);
    expect(json.lwM2mVersion).toBe('1.0');
    expect(json.lifetime).toBe(80);
  }, 60_000);

  it('TLV forced by the configuration, without Discover: the writes land on the configured instance ids', async () => {
    const d = await run('tlv', '1.1');
    // Leshan writes Security /0/1 (its config id): the device's bootstrap account at /0/0 is untouched
    await eventually(() => d.client.registrationState === 'registered', 30_000, 'registered').catch((e) => {
      throw new Error(`${e.message}${diagnose(d)}`);
    });
    expect(d.client.get('/0/0/1')).toBe(true);
    expect(d.client.get('/0/1/10')).toBe(125);
  }, 60_000);

  it('bootstraps, then registers with our own Lwm2mServer', async () => {
    const d = await run('ours', '1.1');
    await eventually(
      () => ours.registration(`${EP}-ours`) !== undefined,
      30_000,
      'registered with ours',
    ).catch((e) => {
      throw new Error(`${e.message}${diagnose(d)}`);
    });
    expect(ours.registration(`${EP}-ours`)!.lifetime).toBe(300);
  }, 60_000);

  it('PSK credentials handed out are stored as the Security instance says (identity UTF-8, key opaque)', async () => {
    const d = await run('psk', '1.1');
    await eventually(() => d.log.includes('bootstrapped'), 30_000, 'bootstrapped').catch((e) => {
      throw new Error(`${e.message}${diagnose(d)}`);
    });
    expect(d.client.get('/0/1/2')).toBe(0);
    expect(d.client.get('/0/1/3')).toEqual(new TextEncoder().encode('dev-psk'));
    expect(d.client.get('/0/1/5')).toEqual(new Uint8Array([10, 11, 12, 13]));
    expect(d.client.get('/0/1/0')).toBe('coaps://127.0.0.1:5684');
  }, 60_000);
});
