/**
 * Outer Block-wise on OSCORE messages (RFC 8613 §4.1.3.4.2, RFC 7959): the protected message is split
 * and reassembled hop by hop, below the security layer, on an in-memory network whose MTU is too small
 * for the whole protected message, like a proxy's constrained link. Our client and server, fake time.
 */
import {
  CoapEndpoint,
  type CoapEndpointOptions,
  type CoapResponse,
  Code,
  seededRandom as coapRandom,
  decodeBlock,
  decodeMessage,
  encodeBlock,
  FakeClock,
  MemoryNetwork,
  type MemoryTransport,
  OptionNumber,
  type Transport,
  toHex,
} from '@thimble/coap-core';
import { drive, requestRejection as rejection } from '@thimble/test-support';
import { describe, expect, it } from 'vitest';
import { oscoreClient, oscoreServer, protectRequest, type SecurityContext } from '../src/index.js';
import { contextOf } from './helpers.js';

const SERVER = { address: '10.0.0.1', port: 5683 };
const URI = 'coap://10.0.0.1/';

interface Datagram {
  code: number;
  block1: number | undefined;
  block2: number | undefined;
  size1: number | undefined;
  oscore: string | undefined;
  token: string;
  length: number;
}

function datagram(bytes: Uint8Array): Datagram {
  const m = decodeMessage(bytes.slice());
  const o = m.getOption(OptionNumber.OSCORE);
  return {
    code: m.code,
    block1: m.getUint(OptionNumber.Block1),
    block2: m.getUint(OptionNumber.Block2),
    size1: m.getUint(OptionNumber.Size1),
    oscore: o === undefined ? undefined : toHex(o),
    token: toHex(m.token),
    length: bytes.length,
  };
}

/** Flips one bit in the last payload byte of the datagrams `pick` selects (an attacker on the path). */
function tampering(t: MemoryTransport, pick: (m: Datagram) => boolean): Transport {
  return {
    scheme: t.scheme,
    get local() {
      return t.local;
    },
    maxDatagramSize: t.maxDatagramSize,
    send(data, peer) {
      let out = data;
      if (pick(datagram(data))) {
        out = data.slice();
        out[out.length - 1]! ^= 0x01;
      }
      t.send(out, peer);
    },
    onDatagram: (h) => t.onDatagram(h),
    onError: (h) => t.onError(h),
    resolve: (host, port) => t.resolve(host, port),
    close: () => t.close(),
  };
}

interface Setup {
  clock: FakeClock;
  network: MemoryNetwork;
  client: CoapEndpoint;
  plain: CoapEndpoint;
  server: CoapEndpoint;
  clientCtx: SecurityContext;
  serverCtx: SecurityContext;
  /** Datagrams the server received / sent. */
  toServer: Datagram[];
  fromServer: Datagram[];
  calls: string[];
  stored: () => string;
}

function setup(
  opts: {
    client?: Partial<CoapEndpointOptions>;
    server?: Partial<CoapEndpointOptions>;
    mtu?: number;
    tamperClient?: (m: Datagram) => boolean;
    tamperServer?: (m: Datagram) => boolean;
  } = {},
): Setup {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 5, mtu: opts.mtu });
  const clientCtx = contextOf(0);
  const serverCtx = contextOf(1);
  const toServer: Datagram[] = [];
  const fromServer: Datagram[] = [];
  const serverTransport = network.bind('10.0.0.1', 5683);
  const server = new CoapEndpoint({
    transport: opts.tamperServer ? tampering(serverTransport, opts.tamperServer) : serverTransport,
    clock,
    random: coapRandom(1),
    serverSecurity: oscoreServer([serverCtx]),
    trace: (direction, bytes) => (direction === 'in' ? toServer : fromServer).push(datagram(bytes)),
    ...opts.server,
  });
  const clientTransport = network.bind('10.0.0.2', 0);
  const client = new CoapEndpoint({
    transport: opts.tamperClient ? tampering(clientTransport, opts.tamperClient) : clientTransport,
    clock,
    random: coapRandom(2),
    clientSecurity: oscoreClient(clientCtx),
    ...opts.client,
  });
  const plain = new CoapEndpoint({ transport: network.bind('10.0.0.3', 0), clock, random: coapRandom(3) });
  const calls: string[] = [];
  let stored = '';
  server.route('PUT', '/store', (req) => {
    calls.push(`store ${req.payload.length}`);
    stored = req.text();
    return { code: Code.Changed };
  });
  server.route('GET', '/store', () => ({ code: Code.Content, payload: stored }));
  server.route('POST', '/echo', (req) => {
    calls.push(`echo ${req.payload.length}`);
    return { code: Code.Content, payload: req.payload };
  });
  server.route('GET', '/big', () => ({ code: Code.Content, payload: 'B'.repeat(3000) }));
  return {
    clock,
    network,
    client,
    plain,
    server,
    clientCtx,
    serverCtx,
    toServer,
    fromServer,
    calls,
    stored: () => stored,
  };
}

/** A body that shows misplaced blocks: every byte depends on its offset. */
function body(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + ((i * 7 + (i >> 5)) % 26));
  return s;
}

describe('Outer Block-wise on OSCORE messages (RFC 8613 §4.1.3.4.2)', () => {
  it('client: a protected request larger than the outer block size goes in Outer Block1 blocks, protected once', async () => {
    // an MTU of 160 bytes drops the whole protected message: only the outer blocks get through
    const s = setup({ client: { outerBlockwise: { blockSize: 64 } }, mtu: 160 });
    const seq = s.clientCtx.senderSequenceNumber;
    const text = body(400);
    const r = await drive(s.clock, s.client.put(`${URI}store`, text));
    expect(r.code).toBe(Code.Changed);
    expect(s.stored()).toBe(text);
    expect(s.calls).toEqual(['store 400']);
    // one protected message: one sender sequence number, the same OSCORE option on every block
    expect(s.clientCtx.senderSequenceNumber).toBe(seq + 1);
    expect(s.toServer.length).toBeGreaterThanOrEqual(7);
    expect(new Set(s.toServer.map((d) => d.oscore)).size).toBe(1);
    const blocks = s.toServer.map((d) => decodeBlock(d.block1!));
    expect(blocks.map((b) => b.num)).toEqual(blocks.map((_, i) => i));
    expect(blocks.every((b, i) => b.size === 64 && b.more === i < blocks.length - 1)).toBe(true);
    expect(s.toServer[0]!.size1).toBeGreaterThan(400); // Size1: the whole protected payload
    // every block but the last answered 2.31 Continue (unprotected, outer); the last one protected 2.04
    expect(s.fromServer.slice(0, -1).every((d) => d.code === Code.Continue && d.oscore === undefined)).toBe(
      true,
    );
    const last = s.fromServer.at(-1)!;
    expect(last.code).toBe(Code.Changed);
    expect(last.oscore).toBeDefined();
    // RFC 7959 §2.3: the final response confirms the last Outer Block1
    expect(decodeBlock(last.block1!).num).toBe(blocks.length - 1);
    expect(s.server.transfersInProgress).toBe(0);
  });

  it('server: a protected response larger than its outer block size goes in Outer Block2 blocks', async () => {
    const s = setup({ server: { outerBlockwise: { blockSize: 64 } }, mtu: 160 });
    const text = body(300);
    await drive(s.clock, s.client.put(`${URI}store`, text, { blockSize: 64 })); // inner blocks fit the MTU
    const before = s.serverCtx.senderSequenceNumber;
    s.toServer.length = 0;
    s.fromServer.length = 0;
    const r = await drive(s.clock, s.client.get(`${URI}store`));
    expect(r.code).toBe(Code.Content);
    expect(r.text()).toBe(text);
    // the response reuses the request's nonce: no server sequence number spent, whatever the block count
    expect(s.serverCtx.senderSequenceNumber).toBe(before);
    expect(s.fromServer.length).toBeGreaterThanOrEqual(5);
    expect(s.fromServer.every((d) => d.block2 !== undefined && d.code === Code.Changed)).toBe(true);
    // every block request repeats the OSCORE option of the one protected request
    expect(new Set(s.toServer.map((d) => d.oscore)).size).toBe(1);
    expect(s.toServer.slice(1).every((d) => decodeBlock(d.block2!).num > 0)).toBe(true);
    expect(s.server.transfersInProgress).toBe(0);
  });

  it('both directions through a small-MTU path: Outer Block1 request and Outer Block2 response', async () => {
    const outer = { outerBlockwise: { blockSize: 128 } };
    const s = setup({ client: outer, server: outer, mtu: 240 });
    const text = body(700);
    const r = await drive(s.clock, s.client.post(`${URI}echo`, text));
    expect(r.code).toBe(Code.Content);
    expect(r.text()).toBe(text);
    expect(s.calls).toEqual(['echo 700']);
    expect(s.toServer.some((d) => d.block1 !== undefined)).toBe(true);
    expect(s.fromServer.some((d) => d.block2 !== undefined)).toBe(true);
    // the response to the last Outer Block1 block carries Block1 (M=0) and Outer Block2 0 (RFC 7959 §3.2)
    const first2 = s.fromServer.find((d) => d.block2 !== undefined)!;
    expect(first2.block1).toBeDefined();
    expect(decodeBlock(first2.block2!).num).toBe(0);
  });

  it('inner and outer Block-wise together: each inner block a protected message, split again outside', async () => {
    const outer = { outerBlockwise: { blockSize: 64 } };
    const s = setup({ client: outer, server: outer, mtu: 160 });
    const text = body(2500);
    const seq = s.clientCtx.senderSequenceNumber;
    const put = await drive(s.clock, s.client.put(`${URI}store`, text, { blockSize: 256 }));
    expect(put.code).toBe(Code.Changed);
    expect(s.stored()).toBe(text);
    // 10 inner blocks = 10 protected requests, however many outer blocks each took
    expect(s.clientCtx.senderSequenceNumber).toBe(seq + 10);
    expect(s.calls).toEqual(['store 2500']);
    const big = await drive(s.clock, s.client.get(`${URI}big`, { blockSize: 512 }));
    expect(big.text()).toBe('B'.repeat(3000));
    const back = await drive(s.clock, s.client.get(`${URI}store`, { blockSize: 128 }));
    expect(back.text()).toBe(text);
    expect(s.network.stats.tooBig).toBe(0);
    expect(s.server.transfersInProgress).toBe(0);
  });

  it('a client that asks for small Outer Block2 blocks gets them; later blocks come from the snapshot, unprotected once', async () => {
    const s = setup();
    await drive(s.clock, s.client.put(`${URI}store`, body(500)));
    const { message } = protectRequest(s.clientCtx, {
      type: 0,
      code: Code.GET,
      messageId: 1,
      options: [{ number: OptionNumber.UriPath, value: 'store' }],
    });
    const ask = (num: number, withPayload: boolean) =>
      drive(
        s.clock,
        s.plain.request({
          peer: SERVER,
          method: message.code,
          options: [
            ...message.options!,
            { number: OptionNumber.Block2, value: encodeBlock({ num, more: false, szx: 2 }) },
          ],
          payload: withPayload ? message.payload : undefined,
        }),
      );
    const first = await ask(0, true);
    expect(first.code).toBe(Code.Changed);
    const b0 = decodeBlock(first.message.getUint(OptionNumber.Block2)!);
    expect(b0).toMatchObject({ num: 0, more: true, size: 64 });
    const total = first.message.getUint(OptionNumber.Size2)!;
    const chunks: Uint8Array[] = [first.payload.slice()];
    for (let num = 1; num * 64 < total; num++) {
      const r: CoapResponse = await ask(num, false); // RFC 7959 §3.2: no payload on later block requests
      expect(decodeBlock(r.message.getUint(OptionNumber.Block2)!).num).toBe(num);
      chunks.push(r.payload.slice());
    }
    // the snapshot is gone after the last block: asking again is a replay of the protected request
    const again = await ask(1, true);
    expect(again.code).toBe(Code.Unauthorized);
    expect(s.server.transfersInProgress).toBe(0);
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(total);
  });

  it('one flipped bit in one Outer Block1 block: the reassembled request fails verification (4.00), no handler call', async () => {
    const s = setup({
      client: { outerBlockwise: { blockSize: 64 } },
      tamperClient: (d) => d.block1 !== undefined && decodeBlock(d.block1).num === 2,
    });
    const e = await rejection(s.clock, s.client.put(`${URI}store`, body(300)));
    expect(e.reason).toBe('security');
    expect(e.message).toContain('4.00');
    expect(s.calls).toEqual([]);
    expect(s.fromServer.at(-1)!.code).toBe(Code.BadRequest);
    expect(s.fromServer.at(-1)!.oscore).toBeUndefined();
    // the replay window took nothing from the forgery: the next request goes through
    const ok = await drive(s.clock, s.client.put(`${URI}store`, 'short'));
    expect(ok.code).toBe(Code.Changed);
    expect(s.calls).toEqual(['store 5']);
  });

  it('one flipped bit in one Outer Block2 block: the reassembled response fails verification, never accepted', async () => {
    const s = setup({
      server: { outerBlockwise: { blockSize: 64 } },
      tamperServer: (d) => d.block2 !== undefined && decodeBlock(d.block2).num === 1,
    });
    await drive(s.clock, s.client.put(`${URI}store`, body(300)));
    const e = await rejection(s.clock, s.client.get(`${URI}store`));
    expect(e.reason).toBe('security');
    expect(e.message).toMatch(/security layer/);
  });

  it('4.13 with Size1 when the announced protected message exceeds MAX_UNFRAGMENTED_SIZE', async () => {
    const s = setup({
      client: { outerBlockwise: { blockSize: 64 } },
      server: { outerBlockwise: { maxMessageSize: 256 } },
    });
    const e = await rejection(s.clock, s.client.put(`${URI}store`, body(600)));
    expect(e.reason).toBe('security');
    expect(e.message).toContain('4.13');
    const answer = s.fromServer.at(-1)!;
    expect(answer.code).toBe(Code.RequestEntityTooLarge);
    expect(s.calls).toEqual([]);
    expect(s.server.transfersInProgress).toBe(0);
  });

  it('4.13 when the blocks add up past the limit without Size1; 4.08 for a block out of sequence or after expiry', async () => {
    const s = setup({
      server: { outerBlockwise: { maxMessageSize: 128 }, blockwise: { transferTimeout: 10_000 } },
    });
    const { message } = protectRequest(s.clientCtx, {
      type: 0,
      code: Code.PUT,
      messageId: 1,
      options: [{ number: OptionNumber.UriPath, value: 'store' }],
      payload: new TextEncoder().encode(body(300)),
    });
    const whole = message.payload!;
    const send = (num: number, more: boolean) =>
      drive(
        s.clock,
        s.plain.request({
          peer: SERVER,
          method: message.code,
          options: [
            ...message.options!,
            { number: OptionNumber.Block1, value: encodeBlock({ num, more, szx: 2 }) },
          ],
          payload: whole.subarray(num * 64, num * 64 + 64),
        }),
      );
    expect((await send(0, true)).code).toBe(Code.Continue);
    expect((await send(1, true)).code).toBe(Code.Continue);
    const over = await send(2, true);
    expect(over.code).toBe(Code.RequestEntityTooLarge);
    expect(over.message.getUint(OptionNumber.Size1)).toBe(128);
    expect(s.server.transfersInProgress).toBe(0);
    // a block whose start the server never saw
    expect((await send(1, true)).code).toBe(Code.RequestEntityIncomplete);
    // block 0, then silence past the transfer timeout: the buffer is dropped, block 1 is incomplete
    expect((await send(0, true)).code).toBe(Code.Continue);
    expect(s.server.transfersInProgress).toBe(1);
    await s.clock.advance(11_000);
    expect(s.server.transfersInProgress).toBe(0);
    expect((await send(1, true)).code).toBe(Code.RequestEntityIncomplete);
    expect(s.calls).toEqual([]);
  });

  it('a client refuses a protected response that outgrows its maximum message size', async () => {
    const s = setup({
      client: { outerBlockwise: { maxMessageSize: 200 } },
      server: { outerBlockwise: { blockSize: 64 } },
    });
    await drive(s.clock, s.client.put(`${URI}store`, body(500)));
    const e = await rejection(s.clock, s.client.get(`${URI}store`));
    expect(e.reason).toBe('security');
    expect(e.message).toContain('maximum message size');
  });

  it('Observe with Outer Block-wise configured: registration and notifications go whole (not split)', async () => {
    const outer = { outerBlockwise: { blockSize: 64 } };
    const s = setup({ client: outer, server: outer });
    let state = 'x'.repeat(200); // protected notifications > 64 bytes
    s.server.route('GET', '/state', () => ({ code: Code.Content, payload: state }), { observable: true });
    const observation = await drive(s.clock, s.client.observe(`${URI}state`));
    const got: string[] = [];
    observation.on('notification', (r) => got.push(r.text()));
    state = 'y'.repeat(200);
    s.server.notify('/state');
    await s.clock.advance(100);
    expect(got).toEqual(['y'.repeat(200)]);
    expect(s.fromServer.every((d) => d.block2 === undefined)).toBe(true);
    await drive(s.clock, observation.cancel());
    expect(s.server.observerTotal('state')).toBe(0);
  });

  it('plain (unprotected) Block-wise is untouched by the outer layer', async () => {
    const s = setup({ server: { outerBlockwise: { blockSize: 64 } } });
    const r = await drive(s.clock, s.plain.get(`${URI}big`, { blockSize: 256 }));
    expect(r.text()).toBe('B'.repeat(3000));
    expect(s.fromServer.every((d) => d.oscore === undefined)).toBe(true);
  });
});
