/**
 * Firmware Update (object 5) of our example device driven by Eclipse Leshan's server demo: Leshan writes
 * an image of a few KiB to /5/0/0 (so Californium sends it Block1), executes Update /5/0/2, and reads the
 * new version from /3/0/3 once the device has "rebooted".
 */
import { createHash } from 'node:crypto';
import { type CoapEndpoint, systemClock } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { Lwm2mClient, type ResourceStream } from '@thimble/lwm2m';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE_OBJECT_VERSIONS,
  type ExampleDevice,
  installExampleDevice,
} from '../../src/node/example-device.js';
import { eventually, type Leshan, type LeshanNode, requireLeshan, rest, startLeshan } from './leshan.js';

const available = requireLeshan();

describe.skipIf(!available)('Firmware Update against Leshan server demo', () => {
  let leshan: Leshan;
  let endpoint: CoapEndpoint;
  let client: Lwm2mClient;
  let device: ExampleDevice;
  const log: string[] = [];
  const blocks: number[] = [];
  const EP = `thimble-fw-${process.pid}`;
  let base = '';

  beforeAll(async () => {
    leshan = await startLeshan();
    endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const serverUri = `coap://127.0.0.1:${leshan.coapPort}`;
    client = new Lwm2mClient({
      endpointName: EP,
      endpoint,
      serverUri,
      lifetime: 60,
      objectVersions: EXAMPLE_OBJECT_VERSIONS,
      requestTimeout: 2_000,
    });
    device = installExampleDevice(client, {
      serverUri,
      lifetime: 60,
      clock: systemClock,
      interval: 0,
      installTime: 300,
      log: (l) => log.push(l),
    });
    client.on('operation', (op) => log.push(`${op.operation} ${op.path} ${op.code}`));
    // count the blocks the Package resource receives (the firmware object's own stream, wrapped)
    const fw = device.firmware as unknown as { pushBlock: ResourceStream['block'] };
    const inner = fw.pushBlock.bind(device.firmware);
    client.streamWrites('/5/0/0', {
      block: (chunk, offset, more, info) => {
        blocks.push(chunk.length);
        return inner(chunk, offset, more, info);
      },
    });
    client.start();
    await eventually(() => client.registrationState === 'registered', 15_000, 'registered');
    base = `${leshan.api}/clients/${EP}`;
  }, 90_000);

  afterAll(async () => {
    device?.stop();
    await client?.stop();
    await endpoint?.close();
  }, 20_000);

  it('registers the Firmware Update object; Leshan reads its state', async () => {
    const { json } = await rest('GET', base);
    const urls = (json.objectLinks as { url: string }[]).map((l) => l.url);
    expect(urls).toContain('/5/0');
    const state = await rest('GET', `${base}/5/0/3?format=TEXT`);
    expect(state.json.content).toEqual({ id: 3, value: 0 });
  });

  it('Leshan writes a 6 KiB image to /5/0/0 (Block1), executes /5/0/2, then reads the new version in /3/0/3', async () => {
    const header = new TextEncoder().encode('THIMBLE-FW 3.1.4\n');
    const img = new Uint8Array(6 * 1024);
    img.set(header);
    for (let i = header.length; i < img.length; i++) img[i] = (i * 37 + 11) & 0xff;
    const write = await rest('PUT', `${base}/5/0/0?format=OPAQUE&timeout=20`, {
      id: 0,
      kind: 'singleResource',
      type: 'opaque',
      value: Buffer.from(img).toString('hex'),
    });
    expect(write.json.status, JSON.stringify(write.json)).toBe('CHANGED(204)');
    expect(device.firmware.state).toBe(2);
    expect(device.firmware.package?.sha256).toBe(createHash('sha256').update(img).digest('hex'));
    // the image came in Block1 blocks, streamed to the firmware object one by one
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    expect(blocks.reduce((a, b) => a + b, 0)).toBe(img.length);
    const state = await rest('GET', `${base}/5/0/3?format=TEXT`);
    expect(state.json.content).toEqual({ id: 3, value: 2 });
    const exec = await rest('POST', `${base}/5/0/2`);
    expect(exec.json.status).toBe('CHANGED(204)');
    await eventually(() => device.firmware.result === 1, 15_000, 'update result 1');
    await eventually(
      async () => {
        const r = await rest('GET', `${base}/3/0/3?format=TEXT`);
        return (r.json.content as LeshanNode | undefined)?.value === '3.1.4';
      },
      15_000,
      'Leshan reads firmware version 3.1.4',
    );
    const result = await rest('GET', `${base}/5/0/5?format=TEXT`);
    expect(result.json.content).toEqual({ id: 5, value: 1 });
    expect(log).toContain('device: rebooting into firmware 3.1.4 (simulated)');
  }, 60_000);
});
