import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, decodeMessage, encodeMessage, MessageType, OptionNumber } from '../../src/index.js';
import { createUdpEndpoint, UdpTransport } from '../../src/node.js';
import type { Peer } from '../../src/transport/types.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function rawClient(family: 'udp4' | 'udp6' = 'udp4') {
  const socket = createSocket(family);
  const received: Buffer[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (m) => {
    received.push(m);
    for (const w of waiters.splice(0)) w();
  });
  cleanup.push(() => new Promise<void>((r) => socket.close(() => r())));
  return {
    socket,
    received,
    async next(count: number): Promise<void> {
      while (received.length < count) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

describe('UDP transport (node:dgram)', () => {
  it('serves a GET over IPv4 loopback to our own client', async () => {
    const server = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const client = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    cleanup.push(
      () => server.close(),
      () => client.close(),
    );
    server.route('GET', '/hello', () => ({ code: Code.Content, payload: 'hello', contentFormat: 0 }));
    const r = await client.get(`coap://127.0.0.1:${server.local.port}/hello`);
    expect(r.code).toBe(Code.Content);
    expect(r.text()).toBe('hello');
    expect(r.contentFormat).toBe(0);
  });

  it('answers a repeated CON with the same piggybacked response and runs the handler once (RFC 7252 §4.5)', async () => {
    const server = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    cleanup.push(() => server.close());
    let calls = 0;
    server.route('GET', '/n', () => ({ code: Code.Content, payload: `call ${++calls}` }));
    const c = rawClient();
    const request = encodeMessage({
      type: MessageType.CON,
      code: Code.GET,
      messageId: 0x1234,
      token: Uint8Array.of(1, 2, 3, 4),
      options: [{ number: OptionNumber.UriPath, value: 'n' }],
    });
    c.socket.send(request, server.local.port, '127.0.0.1');
    await c.next(1);
    c.socket.send(request, server.local.port, '127.0.0.1');
    await c.next(2);
    expect(calls).toBe(1);
    expect(c.received[1]!.equals(c.received[0]!)).toBe(true);
    const ack = decodeMessage(c.received[0]!);
    expect(ack.type).toBe(MessageType.ACK);
    expect(ack.messageId).toBe(0x1234);
    expect(new TextDecoder().decode(ack.payload)).toBe('call 1');
  });

  it('reports an IPv4 client of a dual-stack socket with its plain IPv4 address', async () => {
    let transport: UdpTransport;
    try {
      transport = await UdpTransport.bind({ address: '::', port: 0 });
    } catch {
      return; // no IPv6 on this machine
    }
    cleanup.push(() => transport.close());
    const seen: Peer[] = [];
    transport.onDatagram((data, peer) => {
      seen.push(peer);
      transport.send(data, peer); // echo back through the mapped address
    });
    const c = rawClient();
    c.socket.send(Uint8Array.of(0x50, 0, 0, 1), transport.local.port, '127.0.0.1');
    await c.next(1);
    expect(seen[0]!.address).toBe('127.0.0.1');
    expect(c.received[0]!.length).toBe(4);
  });

  it('reports a failed send through onError with the peer it was for', async () => {
    const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    cleanup.push(() => transport.close());
    const errors: { error: Error; peer: Peer | undefined }[] = [];
    const reported = new Promise<void>((resolve) =>
      transport.onError((error, peer) => {
        errors.push({ error, peer });
        resolve();
      }),
    );
    // larger than any UDP datagram: EMSGSIZE
    transport.send(new Uint8Array(70_000), { address: '127.0.0.1', port: 9 });
    await reported;
    expect(errors[0]!.peer).toEqual({ address: '127.0.0.1', port: 9 });
  });

  it('resolves host names before sending (localhost)', async () => {
    const server = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const client = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    cleanup.push(
      () => server.close(),
      () => client.close(),
    );
    server.route('GET', '/x', () => ({ code: Code.Content, payload: 'x' }));
    const peer = await client.transport.resolve!('localhost', server.local.port);
    if (peer.address !== '127.0.0.1') return; // localhost is ::1 here: not reachable from a udp4 socket
    const r = await client.request({ peer, path: '/x' });
    expect(r.text()).toBe('x');
  });
});
