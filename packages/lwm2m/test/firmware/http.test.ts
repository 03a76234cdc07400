/**
 * Pull over http:// from a local node:http server (the Node adapter's fetcher), with a connection cut
 * half-way that the next attempt resumes with a Range request.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FirmwareState, singleResource, UpdateResult } from '@thimble/lwm2m';
import { httpPackageFetcher } from '@thimble/lwm2m/node';
import { afterEach, describe, expect, it } from 'vitest';
import { drive, registered, serverSetup } from '../server/harness.js';
import { fwDevice, image, sha256Hex } from './harness.js';

let http: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  http = undefined;
});

interface Served {
  ranges: (string | undefined)[];
  base: string;
}

/** Serves `img` at /fw.bin with ETag and Range support; the first response is cut after `cutAt` bytes. */
async function serve(img: Uint8Array, cutAt: number | undefined): Promise<Served> {
  const served: Served = { ranges: [], base: '' };
  let cut = cutAt;
  http = createServer((req, res) => {
    if (req.url !== '/fw.bin') {
      res.writeHead(404).end();
      return;
    }
    const range = req.headers.range;
    served.ranges.push(range);
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    const from = m === null ? 0 : Number(m[1]);
    const headers = { etag: '"v1"', 'content-type': 'application/octet-stream' };
    if (m !== null) {
      res.writeHead(206, {
        ...headers,
        'content-length': img.length - from,
        'content-range': `bytes ${from}-${img.length - 1}/${img.length}`,
      });
    } else res.writeHead(200, { ...headers, 'content-length': img.length });
    const body = Buffer.from(img.subarray(from));
    if (cut !== undefined) {
      const n = cut;
      cut = undefined;
      res.write(body.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
  served.base = `http://127.0.0.1:${(http!.address() as AddressInfo).port}`;
  return served;
}

/** Runs fake time (the firmware object's retry timers) and real time (the sockets) until `done`. */
async function realUntil(s: ReturnType<typeof serverSetup>, done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await s.clock.advance(100);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('pull over http:// (Node adapter)', () => {
  it('downloads from a local node:http server; a connection cut half-way resumes with Range', async () => {
    const img = image(200_000, 3);
    const served = await serve(img, 70_000);
    const s = serverSetup();
    const d = fwDevice(s, 1, { fetchers: [httpPackageFetcher({ timeout: 5000 })] });
    await registered(s, d.client);
    const protocols = await drive(s.clock, s.server.read('dev1', '/5/0/8'));
    expect(protocols.kind === 'multipleResource' && protocols.instances.map((i) => i.value)).toEqual([
      0, 2, 3,
    ]);
    await drive(
      s.clock,
      s.server.write('dev1', '/5/0/1', singleResource(1, 'String', `${served.base}/fw.bin`)),
    );
    await realUntil(s, () => d.fw.state !== FirmwareState.Downloading);
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    expect(d.sink.finished).toBe(sha256Hex(img));
    expect(d.sink.begun.length).toBe(1);
    expect(served.ranges.length).toBe(2);
    expect(served.ranges[0]).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(served.ranges[1]!)![1]);
    expect(resumedAt).toBeGreaterThanOrEqual(60_000);
    expect(resumedAt).toBeLessThanOrEqual(70_000);
  });

  it('a 404 is an invalid URI (7)', async () => {
    const served = await serve(image(10), undefined);
    const s = serverSetup();
    const d = fwDevice(s, 1, { fetchers: [httpPackageFetcher()] });
    await registered(s, d.client);
    await drive(
      s.clock,
      s.server.write('dev1', '/5/0/1', singleResource(1, 'String', `${served.base}/nope`)),
    );
    await realUntil(s, () => d.fw.state !== FirmwareState.Downloading);
    expect([d.fw.state, d.fw.result]).toEqual([FirmwareState.Idle, UpdateResult.InvalidUri]);
  });
});
