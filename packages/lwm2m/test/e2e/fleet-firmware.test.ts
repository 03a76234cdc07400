/**
 * Issue #8 end to end: our client and our server on UDP loopback, in real time. A fleet of 20 devices
 * (`createUdpFleet`, one socket each), every one with the Firmware Update object (LwM2M TS Core 1.1
 * Appendix E.6) and a sink that hashes what it receives, and an `Lwm2mServer` with `FirmwareCampaigns`:
 * one campaign by push (Block1 Write of /5/0/0, RFC 7959 §2.5) and one by pull (Package URI, the device
 * fetches `coap://…/fw/<id>` with Block2) both end with every device `succeeded` and every sink's SHA-256
 * equal to the image's.
 */
import type { CoapEndpoint } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import {
  FirmwareCampaigns,
  type FirmwareUpdate,
  type Fleet,
  installFirmwareUpdate,
  Lwm2mServer,
} from '@thimble/lwm2m';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUdpFleet } from '../../src/node/index.js';
import { HashingSink, image, sha256Hex } from '../firmware/harness.js';

const COUNT = 20;

describe('a firmware campaign by push and by pull to a fleet of 20 devices on UDP (issue #8)', () => {
  let endpoint: CoapEndpoint;
  let server: Lwm2mServer;
  let campaigns: FirmwareCampaigns;
  let fleet: Fleet;
  let uri: string;
  const sinks: HashingSink[] = [];
  const updates: FirmwareUpdate[] = [];
  /** The package digests each device installed, in order. */
  const installed: string[][] = [];

  beforeAll(async () => {
    endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    server = new Lwm2mServer({ endpoint });
    uri = `coap://127.0.0.1:${endpoint.transport.local.port}`;
    campaigns = new FirmwareCampaigns({ server, publicUri: uri, pollInterval: 500, retryDelay: 200 });
    fleet = createUdpFleet({
      count: COUNT,
      serverUri: uri,
      prefix: `fw-fleet-${process.pid}`,
      lifetime: 300,
      rate: 1000,
      setup: (client, index) => {
        const sink = new HashingSink();
        sinks[index] = sink;
        installed[index] = [];
        updates[index] = installFirmwareUpdate(client, {
          sink,
          install: async (pkg) => {
            installed[index]!.push(pkg.sha256);
            return { version: `2.0.${installed[index]!.length}` };
          },
        });
      },
    });
    fleet.start();
    await fleet.whenComplete();
    expect(fleet.stats()).toMatchObject({ count: COUNT, registered: COUNT, failed: 0 });
  }, 30_000);

  afterAll(async () => {
    await fleet?.stop();
    server?.close();
    await endpoint?.close();
  });

  const names = () => Array.from({ length: COUNT }, (_, i) => fleet.name(i));

  it.each([
    ['push', 24 * 1024, 1],
    ['pull', 17 * 1024 + 333, 2],
  ] as const)(
    'by %s: %i bytes, every device succeeded, every sink byte-exact',
    async (method, size, round) => {
      const img = image(size, round);
      const sha = sha256Hex(img);
      const info = await campaigns.addImage(`fleet-${method}.bin`, img);
      expect(info.sha256).toBe(sha);
      const started = campaigns.startCampaign({
        imageId: info.id,
        targets: names(),
        method,
        concurrency: 10,
      });
      const done = await campaigns.finished(started.id);
      expect([done.succeeded, done.failed]).toEqual([COUNT, 0]);
      for (const d of done.devices) {
        expect(d, d.endpoint).toMatchObject({ state: 'succeeded', bytesSent: size, updateResult: 1 });
      }
      for (let i = 0; i < COUNT; i++) {
        const name = fleet.name(i);
        expect(sinks[i]!.finished, name).toBe(sha);
        expect(sinks[i]!.received, name).toBe(size);
        // the device got it the way the campaign said: a Block1 push, or a pull of the server's image route
        const begun = sinks[i]!.begun.at(-1)!;
        expect(begun.method, name).toBe(method);
        if (method === 'pull') expect(begun.uri, name).toBe(`${uri}/fw/${info.id}`);
        expect(installed[i], name).toEqual(round === 1 ? [sha] : [expect.any(String), sha]);
        expect(updates[i]!.result, name).toBe(1);
        expect(fleet.device(i)!.client.get('/3/0/3'), name).toBe(`2.0.${round}`);
      }
      // the server sees the new version too
      const version = await server.read(fleet.name(7), '/3/0/3');
      expect(version).toMatchObject({ kind: 'resource', value: `2.0.${round}` });
    },
    60_000,
  );
});
