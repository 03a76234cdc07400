/**
 * Issue 15, items 4 and 6: `coap serve` as an attacker probes it. Symbolic links never lead out of the
 * served directory (GET) nor are followed at all (PUT, DELETE); read-only and loopback by default; file
 * count and byte limits; concurrent PUTs of one file; pollers of observed files.
 */

import { createSocket, type Socket } from 'node:dgram';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CoapEndpoint,
  Code,
  decodeMessage,
  encodeMessage,
  MessageType,
  OptionNumber,
} from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { captureIo, freeUdpPort } from '@thimble/test-support/peers';
import { afterEach, describe, expect, it } from 'vitest';
import { type FileServerStartOptions, runCli, startFileServer } from '../src/main.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A served directory `root` with a secret file outside it, a file link and a directory link to it. */
async function setup(options: FileServerStartOptions = {}, files: Record<string, string> = {}) {
  const base = mkdtempSync(join(tmpdir(), 'thimble-serve-sec-'));
  const root = join(base, 'served');
  const outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'top secret');
  writeFileSync(join(root, 'hello.txt'), 'hello');
  symlinkSync(join(outside, 'secret.txt'), join(root, 'leak.txt'));
  symlinkSync(outside, join(root, 'out'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content);
  const port = await freeUdpPort();
  const server = await startFileServer(root, '127.0.0.1', port, options);
  const client = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
  cleanups.push(async () => {
    await client.close();
    await server.close();
  });
  return { base, root, outside, server, client, uri: (p: string) => `coap://127.0.0.1:${port}/${p}` };
}

const until = async (test: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('coap serve containment (issue 15 item 4)', () => {
  it('GET through a file link or a directory link out of the directory is 4.04', async () => {
    const s = await setup();
    expect((await s.client.get(s.uri('hello.txt'))).code).toBe(Code.Content);
    for (const p of ['leak.txt', 'out/secret.txt']) {
      const res = await s.client.get(s.uri(p));
      expect(res.code).toBe(Code.NotFound);
      expect(new TextDecoder().decode(res.payload)).not.toContain('top secret');
    }
  });

  it('a link inside the directory to a file inside it is still served', async () => {
    const s = await setup();
    symlinkSync(join(s.root, 'hello.txt'), join(s.root, 'alias.txt'));
    expect(new TextDecoder().decode((await s.client.get(s.uri('alias.txt'))).payload)).toBe('hello');
  });

  it('PUT through a directory link or onto a file link is 4.03 and writes nothing outside', async () => {
    const s = await setup({ writable: true });
    expect((await s.client.put(s.uri('out/planted.txt'), 'pwned')).code).toBe(Code.Forbidden);
    expect(existsSync(join(s.outside, 'planted.txt'))).toBe(false);
    expect((await s.client.put(s.uri('leak.txt'), 'overwritten')).code).toBe(Code.Forbidden);
    expect(readFileSync(join(s.outside, 'secret.txt'), 'utf8')).toBe('top secret');
    expect((await s.client.delete(s.uri('out/secret.txt'))).code).toBe(Code.NotFound);
    expect((await s.client.delete(s.uri('leak.txt'))).code).toBe(Code.NotFound);
    expect(existsSync(join(s.outside, 'secret.txt'))).toBe(true);
  });

  it('read-only by default: PUT and DELETE are 4.05 without writable', async () => {
    const s = await setup();
    expect((await s.client.put(s.uri('new.txt'), 'x')).code).toBe(Code.MethodNotAllowed);
    expect((await s.client.delete(s.uri('hello.txt'))).code).toBe(Code.MethodNotAllowed);
    expect(existsSync(join(s.root, 'new.txt'))).toBe(false);
    expect(existsSync(join(s.root, 'hello.txt'))).toBe(true);
  });

  it('maxFiles and maxBytes bound what PUT may add', async () => {
    const s = await setup({ writable: true, maxFiles: 2, maxBytes: 100 });
    expect((await s.client.put(s.uri('a.txt'), 'a')).code).toBe(Code.Created);
    // hello.txt + a.txt: a third file is refused, replacing one is not
    expect((await s.client.put(s.uri('b.txt'), 'b')).code).toBe(Code.Forbidden);
    expect((await s.client.put(s.uri('a.txt'), 'a'.repeat(90))).code).toBe(Code.Changed);
    expect((await s.client.put(s.uri('a.txt'), 'a'.repeat(96))).code).toBe(Code.RequestEntityTooLarge);
    expect(readFileSync(join(s.root, 'a.txt'), 'utf8')).toHaveLength(90);
  });

  it('concurrent PUTs of one file each use their own temporary file: all succeed, one whole body wins', async () => {
    const s = await setup({ writable: true, maxFiles: 100 });
    // large enough (Block1, RFC 7959) that the handlers' writes overlap
    const bodies = Array.from({ length: 6 }, (_, i) => String(i).repeat(200_000));
    const codes = await Promise.all(
      bodies.map((b) => s.client.put(s.uri('race.txt'), b).then((r) => r.code)),
    );
    for (const c of codes) expect([Code.Created, Code.Changed]).toContain(c);
    expect(bodies).toContain(readFileSync(join(s.root, 'race.txt'), 'utf8'));
    expect(readdirSync(s.root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('coap serve defaults (issue 15 item 4)', () => {
  it('coap serve listens on loopback unless --host says otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-serve-host-'));
    const c = captureIo();
    const stop = new AbortController();
    const exit = runCli(['serve', dir, '--port', '0'], c.io, stop.signal);
    await until(() => c.stderr().includes('serving'));
    expect(c.stderr()).toMatch(/on coap:\/\/127\.0\.0\.1:\d+/);
    stop.abort();
    expect(await exit).toBe(0);
    const d = captureIo();
    expect(await runCli(['serve', dir, '--max-files', '3'], d.io)).toBe(64);
    expect(d.stderr()).toContain('--max-files needs --writable');
  });
});

describe('coap serve amplification (issue 15 item 5; RFC 9175 §2.4)', () => {
  /** One raw CoAP GET over UDP: the bytes sent, the bytes that came back, the response. */
  let nextMid = 0x1234;
  async function rawGet(socket: Socket, port: number, path: string[], echo?: Uint8Array) {
    const request = encodeMessage({
      type: MessageType.CON,
      code: Code.GET,
      messageId: nextMid++,
      token: Uint8Array.of(7, 7),
      options: [
        ...path.map((p) => ({ number: OptionNumber.UriPath, value: p })),
        ...(echo === undefined ? [] : [{ number: OptionNumber.Echo, value: echo }]),
      ],
    }).slice();
    const reply = new Promise<Uint8Array>((resolve) =>
      socket.once('message', (m) => resolve(new Uint8Array(m))),
    );
    socket.send(request, port, '127.0.0.1');
    const data = await reply;
    return { sent: request.length, received: data.length, response: decodeMessage(data) };
  }

  it('a spoofable GET of /.well-known/core or a large file gets ≤ 3× its size (a first block), then the full answer after Echo', async () => {
    const files: Record<string, string> = { 'large.bin': 'L'.repeat(1000) };
    for (let i = 0; i < 20; i++) files[`reading-${i}.json`] = '{}';
    const s = await setup({}, files);
    const port = s.server.endpoint.local.port;
    for (const path of [['.well-known', 'core'], ['large.bin']]) {
      // a new source port each: a verified one is no longer limited
      const socket = createSocket('udp4');
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
      cleanups.push(async () => {
        socket.close();
      });
      const r = await rawGet(socket, port, path);
      expect(r.received / r.sent).toBeLessThanOrEqual(3);
      // a GET: cut to a first Block2 block with an Echo value, not challenged (RFC 7959 §2.4)
      expect(r.response.code).toBe(Code.Content);
      expect(r.response.getUint(OptionNumber.Block2)! & 8).toBe(8);
      const echo = r.response.getOption(OptionNumber.Echo)!.slice();
      const full = await rawGet(socket, port, path, echo);
      expect(full.response.code).toBe(Code.Content);
      expect(full.received / full.sent).toBeGreaterThan(3);
    }
  });
});

describe('coap serve Observe pollers (issue 15 item 6; RFC 7641 §4.1)', () => {
  it('Observe of a missing file is 4.04 and starts no poller', async () => {
    const s = await setup();
    for (let i = 0; i < 20; i++) {
      const res = await s.client.request({
        method: 'GET',
        uri: s.uri(`missing${i}.txt`),
        options: [{ number: OptionNumber.Observe, value: 0 }],
      });
      expect(res.code).toBe(Code.NotFound);
    }
    expect(s.server.files.pollers).toBe(0);
  });

  it('a poller ends with the last observer of its file', async () => {
    const s = await setup({ watchInterval: 20 });
    const observe = (ep: CoapEndpoint) => ep.observe({ uri: s.uri('hello.txt') });
    const second = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    cleanups.push(() => second.close());
    const a = await observe(s.client);
    const b = await observe(second);
    expect(s.server.files.pollers).toBe(1);
    await a.cancel();
    await new Promise((r) => setTimeout(r, 200));
    expect(s.server.files.pollers).toBe(1); // b still observes
    await b.cancel();
    await until(() => s.server.files.pollers === 0);
    expect(s.server.endpoint.observerTotal()).toBe(0);
  });
});
