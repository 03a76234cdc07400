/**
 * The Firmware Update object (5) on Lwm2mClient, driven by our Lwm2mServer on the in-memory network:
 * the state machine of LwM2M TS Core 1.1 Appendix E.6, push (streamed Block1), pull (coap with resume,
 * coaps), the digest object 30500 and each Update Result.
 */
import {
  CoapEndpoint,
  Code,
  decodeBlock,
  encodeBlock,
  MemoryTransport,
  OptionNumber,
  seededRandom,
} from '@thimble/coap-core';
import {
  FIRMWARE_DIGEST_OBJECT_ID,
  FirmwareError,
  FirmwareState,
  type Lwm2mNode,
  Lwm2mServerError,
  singleResource,
  UpdateResult,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, registered, SERVER, serverSetup, until } from '../server/harness.js';
import { fwDevice, image, sha256Hex } from './harness.js';

const opaque = (data: Uint8Array) => singleResource(0, 'Opaque', data);
const text = (id: number, v: string) => singleResource(id, 'String', v);
const value = (node: Lwm2mNode) => (node.kind === 'resource' ? node.value : undefined);

describe('Firmware Update state machine (Appendix E.6)', () => {
  it('push in one message → Downloaded → Update → Idle with result 1; the new version is in /3/0/3; observers see each state', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1);
    await registered(s, d.client);
    const obs = await drive(s.clock, s.server.observe('dev1', '/5/0/3'));
    const states: number[] = [];
    obs.on('notification', (n) => states.push(value(n) as number));
    expect(value(await drive(s.clock, s.server.read('dev1', '/5/0/3')))).toBe(0);
    expect(value(await drive(s.clock, s.server.read('dev1', '/5/0/9')))).toBe(2);
    const img = image(600);
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(img), { format: 42 }));
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    expect(d.sink.finished).toBe(sha256Hex(img));
    await drive(s.clock, s.server.execute('dev1', '/5/0/2'));
    await until(s.clock, () => d.fw.result === UpdateResult.Success);
    expect(d.fw.state).toBe(FirmwareState.Idle);
    expect(d.installs).toEqual([sha256Hex(img)]);
    expect(value(await drive(s.clock, s.server.read('dev1', '/3/0/3')))).toBe('2.0.0');
    expect(value(await drive(s.clock, s.server.read('dev1', '/5/0/7')))).toBe('2.0.0');
    await until(s.clock, () => states.length >= 4);
    expect(states).toEqual([1, 2, 3, 0]);
  });

  it('an empty Package URI or Package resets Downloaded to Idle with result 0; Update is refused outside Downloaded', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1);
    await registered(s, d.client);
    await expect(drive(s.clock, s.server.execute('dev1', '/5/0/2'))).rejects.toThrow(/4\.00/);
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(image(100)), { format: 42 }));
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, '')));
    expect([d.fw.state, d.fw.result]).toEqual([0, 0]);
    expect(d.sink.aborted.length).toBe(0); // nothing in progress was aborted: the package was complete
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(image(100)), { format: 42 }));
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(Uint8Array.of(0)), { format: 42 }));
    expect([d.fw.state, d.fw.result]).toEqual([0, 0]);
  });

  it('a failed install goes back to Downloaded with result 8 (or the result the install throws)', async () => {
    const s = serverSetup();
    let fail: Error = new Error('flash write error');
    const d = fwDevice(s, 1, {
      install: async () => {
        throw fail;
      },
    });
    await registered(s, d.client);
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(image(300)), { format: 42 }));
    await drive(s.clock, s.server.execute('dev1', '/5/0/2'));
    await until(s.clock, () => d.fw.state === FirmwareState.Downloaded);
    expect(d.fw.result).toBe(UpdateResult.UpdateFailed);
    fail = new FirmwareError(UpdateResult.UnsupportedPackage, 'not for this board');
    await drive(s.clock, s.server.execute('dev1', '/5/0/2'));
    await until(s.clock, () => d.fw.result === UpdateResult.UnsupportedPackage);
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
  });
  it('while Updating, writes of Package / Package URI and a second Update are refused; the install ends it', async () => {
    const s = serverSetup();
    let finishInstall: (() => void) | undefined;
    const d = fwDevice(s, 1, {
      install: () =>
        new Promise((resolve) => {
          finishInstall = () => resolve({ version: '3.0.0' });
        }),
    });
    await registered(s, d.client);
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(image(500)), { format: 42 }));
    await drive(s.clock, s.server.execute('dev1', '/5/0/2'));
    expect(d.fw.state).toBe(FirmwareState.Updating);
    await until(s.clock, () => finishInstall !== undefined);
    await expect(drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, '')))).rejects.toThrow(/4\.00/);
    await expect(
      drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(image(3000)), { format: 42 })),
    ).rejects.toThrow(/4\.00/);
    await expect(drive(s.clock, s.server.execute('dev1', '/5/0/2'))).rejects.toThrow(/4\.00/);
    expect(d.fw.state).toBe(FirmwareState.Updating);
    finishInstall!();
    await until(s.clock, () => d.fw.state === FirmwareState.Idle);
    expect(d.fw.result).toBe(UpdateResult.Success);
    expect(d.client.get('/3/0/3')).toBe('3.0.0');
  });

  it('a new push while Downloading replaces the unfinished one (the sink is told to abort first)', async () => {
    const s = serverSetup({ limits: { requestTimeout: 5_000 } });
    const d = fwDevice(s, 1);
    await registered(s, d.client);
    const first = s.server.write('dev1', '/5/0/0', opaque(image(8000, 1)), {
      format: 42,
      onProgress: (sent) => {
        if (sent >= 2048) s.network.conditions = { loss: 1 };
      },
    });
    await expect(drive(s.clock, first)).rejects.toThrow();
    expect(d.fw.state).toBe(FirmwareState.Downloading);
    s.network.conditions = {};
    const img = image(5000, 2);
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(img), { format: 42 }));
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    expect(d.sink.aborted).toEqual(['replaced by a new download']);
    expect(d.sink.finished).toBe(sha256Hex(img));
  });
});

describe('push (Block1 Write of /5/0/0, streamed)', () => {
  it('the sink gets the image block by block, never whole; the server sees progress per block', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1);
    await registered(s, d.client);
    const img = image(20_000);
    const progress: number[] = [];
    await drive(
      s.clock,
      s.server.write('dev1', '/5/0/0', opaque(img), {
        format: 42,
        onProgress: (sent) => progress.push(sent),
      }),
    );
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    expect(d.sink.finished).toBe(sha256Hex(img));
    expect(d.sink.chunks.length).toBe(20);
    expect(Math.max(...d.sink.chunks)).toBe(1024);
    expect(d.sink.begun[0]).toEqual({ method: 'push', size: 20_000 });
    expect(progress.length).toBe(20);
    expect(progress[progress.length - 1]).toBe(20_000);
    // nothing of the image stays in the endpoint's Block1 buffers
    expect(d.client.endpoint.transfersInProgress).toBe(0);
  });

  it('a push cut off half-way ends in Idle with result 4 after the push timeout (never stuck in Downloading)', async () => {
    const s = serverSetup({ limits: { requestTimeout: 5_000 } });
    const d = fwDevice(s, 1, { pushTimeout: 20_000 });
    await registered(s, d.client);
    const write = s.server.write('dev1', '/5/0/0', opaque(image(10_000)), {
      format: 42,
      onProgress: (sent) => {
        // the link dies after the 4th block
        if (sent >= 4096) s.network.conditions = { loss: 1 };
      },
    });
    await expect(drive(s.clock, write)).rejects.toThrow(Lwm2mServerError);
    expect(d.fw.state === FirmwareState.Downloading || d.fw.state === FirmwareState.Idle).toBe(true);
    await until(s.clock, () => d.fw.state === FirmwareState.Idle);
    expect(d.fw.result).toBe(UpdateResult.ConnectionLost);
    expect(d.sink.aborted.length).toBe(1);
    // the link is back: a new push works
    s.network.conditions = {};
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(image(3000)), { format: 42 }));
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    expect(d.fw.result).toBe(0);
  });

  it('out of space: the block is refused with 4.13, Idle with result 2', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1);
    d.sink.capacity = 5000;
    await registered(s, d.client);
    // Size1 says it will not fit: refused at the first block
    await expect(
      drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(image(8000)), { format: 42 })),
    ).rejects.toThrow(/4\.13/);
    expect([d.fw.state, d.fw.result]).toEqual([FirmwareState.Idle, UpdateResult.NotEnoughFlash]);
    // a sink that fills up on the way
    d.sink.capacity = undefined;
    const d2 = fwDevice(s, 2, { maxPackageSize: 3000 });
    await registered(s, d2.client);
    await expect(
      drive(s.clock, s.server.write('dev2', '/5/0/0', opaque(image(8000)), { format: 42 })),
    ).rejects.toThrow(/4\.13/);
    expect([d2.fw.state, d2.fw.result]).toEqual([FirmwareState.Idle, UpdateResult.NotEnoughFlash]);
  });

  it('integrity: with the digest in /30500/0/0 a matching image is Downloaded, a different one ends with result 5', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1);
    const reg = await registered(s, d.client);
    expect(reg.objects.some((o) => o.path[0] === FIRMWARE_DIGEST_OBJECT_ID)).toBe(true);
    const img = image(5000);
    const digest = Uint8Array.from(Buffer.from(sha256Hex(img), 'hex'));
    await drive(s.clock, s.server.write('dev1', '/30500/0/0', opaque(digest), { format: 42 }));
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(img), { format: 42 }));
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, '')));
    // the digest was cleared with the reset: write it again, then a corrupted image
    await drive(s.clock, s.server.write('dev1', '/30500/0/0', opaque(digest), { format: 42 }));
    const bad = img.slice();
    bad[4321] = bad[4321]! ^ 0x01;
    await drive(s.clock, s.server.write('dev1', '/5/0/0', opaque(bad), { format: 42 }));
    expect([d.fw.state, d.fw.result]).toEqual([FirmwareState.Idle, UpdateResult.IntegrityFailure]);
    expect(d.installs).toEqual([]);
    // a digest that is not 32 bytes is refused
    await expect(
      drive(s.clock, s.server.write('dev1', '/30500/0/0', opaque(Uint8Array.of(1, 2, 3)), { format: 42 })),
    ).rejects.toThrow(/4\.00/);
  });
});

describe('pull (Package URI /5/0/1)', () => {
  /** Serves `img` at coap://10.0.0.1:5683/fw/img, recording the Block2 numbers asked for. */
  function serveImage(s: ReturnType<typeof serverSetup>, img: Uint8Array) {
    const asked: number[] = [];
    s.serverEndpoint.route('GET', '/fw/img', (req) => {
      const b2 = req.message.getUint(OptionNumber.Block2);
      const b = b2 === undefined ? { num: 0, szx: 6, size: 1024 } : decodeBlock(b2);
      asked.push(b.num);
      // one block per request, served by the handler itself (every request is seen here)
      const at = b.num * b.size;
      return {
        code: Code.Content,
        payload: img.subarray(at, at + b.size),
        contentFormat: 42,
        etag: Uint8Array.of(1, 2, 3, 4),
        options: [
          {
            number: OptionNumber.Block2,
            value: encodeBlock({ num: b.num, more: at + b.size < img.length, szx: b.szx }),
          },
        ],
      };
    });
    return asked;
  }

  it('coap:// with a break in the middle resumes from the last block received, not from zero', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1, { pullRetries: 5, pullRetryDelay: 5000 });
    await registered(s, d.client);
    const img = image(30_000);
    const asked = serveImage(s, img);
    // 5 ms each way, so the download takes (fake) time
    s.network.conditions = { delay: 5 };
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, `coap://${SERVER}:5683/fw/img`)));
    expect(d.fw.state).toBe(FirmwareState.Downloading);
    // break the link after block 10 for two minutes
    await until(s.clock, () => d.fw.bytesReceived >= 10 * 1024);
    s.network.conditions = { loss: 1 };
    const brokeAt = d.fw.bytesReceived / 1024;
    s.clock.setTimeout(() => {
      s.network.conditions = { delay: 5 };
    }, 120_000);
    await until(s.clock, () => d.fw.state !== FirmwareState.Downloading);
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    expect(d.sink.finished).toBe(sha256Hex(img));
    expect(d.sink.begun.length).toBe(1);
    // block 0 was asked for once: after the break the download went on from where it stopped
    expect(asked.filter((n) => n === 0).length).toBe(1);
    expect(asked.filter((n) => n < brokeAt).length).toBe(brokeAt);
    expect(d.sink.chunks.length).toBe(30);
  });

  it('a link that stays down ends in Idle with result 4 after the retries', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1, { pullRetries: 2, pullRetryDelay: 1000 });
    await registered(s, d.client);
    serveImage(s, image(8000));
    s.network.conditions = { delay: 5 };
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, `coap://${SERVER}:5683/fw/img`)));
    await until(s.clock, () => d.fw.bytesReceived >= 2048);
    s.network.conditions = { loss: 1 };
    await until(s.clock, () => d.fw.state === FirmwareState.Idle);
    expect(d.fw.result).toBe(UpdateResult.ConnectionLost);
  });

  it('invalid URI → 7, unsupported scheme → 9, a URI that names nothing (4.04) → 7', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1);
    await registered(s, d.client);
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, 'not a uri')));
    expect([d.fw.state, d.fw.result]).toEqual([0, UpdateResult.InvalidUri]);
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, 'ftp://example.org/fw.bin')));
    expect([d.fw.state, d.fw.result]).toEqual([0, UpdateResult.UnsupportedProtocol]);
    // no http fetcher given to this device
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, 'http://127.0.0.1/fw.bin')));
    expect([d.fw.state, d.fw.result]).toEqual([0, UpdateResult.UnsupportedProtocol]);
    expect(value(await drive(s.clock, s.server.read('dev1', '/5/0/8')))).toBeUndefined();
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, `coap://${SERVER}:5683/fw/nothing`)));
    await until(s.clock, () => d.fw.state === FirmwareState.Idle);
    expect(d.fw.result).toBe(UpdateResult.InvalidUri);
    expect(value(await drive(s.clock, s.server.read('dev1', '/5/0/5')))).toBe(7);
  });

  it('a digest in the URI fragment (#sha256=…) is checked: a match is Downloaded, a mismatch ends with 5', async () => {
    const s = serverSetup();
    const d = fwDevice(s, 1);
    await registered(s, d.client);
    const img = image(4000);
    serveImage(s, img);
    const uri = `coap://${SERVER}:5683/fw/img`;
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, `${uri}#sha256=${sha256Hex(img)}`)));
    await until(s.clock, () => d.fw.state !== FirmwareState.Downloading);
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, `${uri}#sha256=${'00'.repeat(32)}`)));
    await until(s.clock, () => d.fw.state !== FirmwareState.Downloading);
    expect([d.fw.state, d.fw.result]).toEqual([FirmwareState.Idle, UpdateResult.IntegrityFailure]);
  });

  it('coaps:// goes through the secure endpoint given (protocol 1 in /5/0/8)', async () => {
    const s = serverSetup();
    // an in-memory stand-in for a DTLS transport: the fetcher only cares that the endpoint speaks coaps
    class SecureMemoryTransport extends MemoryTransport {
      override readonly scheme = 'coaps' as 'coap';
    }
    const secureServerTransport = new SecureMemoryTransport(s.network, { address: '10.0.0.9', port: 5684 });
    (s.network as unknown as { endpoints: Map<string, unknown> }).endpoints.set(
      '10.0.0.9|5684',
      secureServerTransport,
    );
    const secureServer = new CoapEndpoint({
      transport: secureServerTransport,
      clock: s.clock,
      random: seededRandom(9),
    });
    const img = image(6000);
    secureServer.route('GET', '/fw', () => ({ code: Code.Content, payload: img }));
    const clientTransport = new SecureMemoryTransport(s.network, { address: '10.0.1.1', port: 56900 });
    (s.network as unknown as { endpoints: Map<string, unknown> }).endpoints.set(
      '10.0.1.1|56900',
      clientTransport,
    );
    const secureEndpoint = new CoapEndpoint({
      transport: clientTransport,
      clock: s.clock,
      random: seededRandom(8),
    });
    const d = fwDevice(s, 1, { secureEndpoint });
    await registered(s, d.client);
    const protocols = await drive(s.clock, s.server.read('dev1', '/5/0/8'));
    expect(protocols.kind === 'multipleResource' && protocols.instances.map((i) => i.value)).toEqual([0, 1]);
    await drive(s.clock, s.server.write('dev1', '/5/0/1', text(1, 'coaps://10.0.0.9:5684/fw')));
    await until(s.clock, () => d.fw.state !== FirmwareState.Downloading);
    expect(d.fw.state).toBe(FirmwareState.Downloaded);
    expect(d.sink.finished).toBe(sha256Hex(img));
  });
});
