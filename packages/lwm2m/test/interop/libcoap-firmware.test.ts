/**
 * Firmware pull over coaps:// (DTLS PSK) from libcoap's coap-server-openssl: the image is uploaded to the
 * server's dynamic resource with Block1 over plain CoAP, then the device's Firmware Update object pulls it
 * one Block2 block per request through a `DtlsClientTransport` endpoint.
 */
import { createHash } from 'node:crypto';
import { CoapEndpoint, Code, systemClock } from '@thimble/coap-core';
import { createUdpEndpoint, DtlsClientTransport } from '@thimble/coap-core/node';
import { FirmwareState, installFirmwareUpdate, Lwm2mClient, UpdateResult } from '@thimble/lwm2m';
import { freeUdpPort, requirePeers, startPeer, waitForCoap } from '@thimble/test-support/peers';
import { afterAll, describe, expect, it } from 'vitest';
import { HashingSink, image } from '../firmware/harness.js';

const available = requirePeers(
  'libcoap firmware interop',
  ['coap-server-openssl'],
  'apt-get install libcoap3-bin',
);

const endpoints: CoapEndpoint[] = [];
afterAll(async () => {
  for (const e of endpoints) await e.close();
});

describe.skipIf(!available)(
  'Firmware Update pull over coaps:// from libcoap coap-server-openssl (PSK)',
  () => {
    it('downloads a 40 KiB image block by block over DTLS and checks it against the digest in the URI', async () => {
      const port = await freeUdpPort(true);
      startPeer('coap-server-openssl', [
        '-A',
        '127.0.0.1',
        '-p',
        String(port),
        '-k',
        'thimble-secret',
        '-h',
        '',
        '-d',
        '10',
        '-v',
        '0',
      ]);
      await waitForCoap(port);
      const img = image(40 * 1024, 4);
      const plain = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
      endpoints.push(plain);
      const put = await plain.request({
        method: 'PUT',
        uri: `coap://127.0.0.1:${port}/fw.bin`,
        payload: img,
        contentFormat: 42,
      });
      expect(put.code === Code.Created || put.code === Code.Changed).toBe(true);

      const secureEndpoint = new CoapEndpoint({
        transport: new DtlsClientTransport({
          psk: { identity: 'thimble', key: new TextEncoder().encode('thimble-secret') },
        }),
      });
      endpoints.push(secureEndpoint);
      const deviceEndpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
      endpoints.push(deviceEndpoint);
      const client = new Lwm2mClient({
        endpointName: 'fw-coaps',
        endpoint: deviceEndpoint,
        serverUri: 'coap://127.0.0.1:9',
      });
      const sink = new HashingSink();
      const fw = installFirmwareUpdate(client, {
        sink,
        install: async () => ({ version: '2.0.0' }),
        secureEndpoint,
        blockSize: 512,
        clock: systemClock,
      });
      const sha = createHash('sha256').update(img).digest('hex');
      // the LwM2M server's Write of the Package URI (here from a plain CoAP endpoint, NoSec)
      const write = await plain.request({
        method: 'PUT',
        uri: `coap://127.0.0.1:${deviceEndpoint.transport.local.port}/5/0/1`,
        payload: `coaps://127.0.0.1:${port + 1}/fw.bin#sha256=${sha}`,
        contentFormat: 0,
      });
      expect(write.code).toBe(Code.Changed);
      const deadline = Date.now() + 30_000;
      while (fw.state === FirmwareState.Downloading && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect([fw.state, fw.result]).toEqual([FirmwareState.Downloaded, UpdateResult.Initial]);
      expect(sink.finished).toBe(sha);
      expect(sink.chunks.length).toBe(80);
      expect(Math.max(...sink.chunks)).toBe(512);
    }, 60_000);
  },
);
