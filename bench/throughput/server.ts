/**
 * Server under test for the server-throughput benchmark, run as a child process:
 *
 *   thimble   - our endpoint (`createUdpEndpoint`) with a GET /hello route
 *   node-coap - the `coap` package's server with the same resource
 *   echo      - a bare node:dgram socket answering every datagram with a fixed pre-encoded
 *               ACK 2.05 "hello" (Content-Format 0), patching in the request's message ID and token
 *
 * Sends `{ kind: 'ready', port }` over IPC once listening; on `{ kind: 'stop' }` replies with its memory
 * usage and closes. All three bind 127.0.0.1 only.
 */
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { createUdpEndpoint } from '../../packages/coap-core/src/node.js';

type Kind = 'thimble' | 'node-coap' | 'echo';

const HELLO = 'hello';

async function start(kind: Kind): Promise<{ port: number; close(): Promise<void> }> {
  if (kind === 'thimble') {
    const ep = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    ep.route('GET', '/hello', () => ({ code: 0x45, payload: HELLO, contentFormat: 0 }));
    return { port: ep.local.port, close: () => ep.close() };
  }
  if (kind === 'node-coap') {
    const require = createRequire(import.meta.url);
    const coap = require('coap') as typeof import('coap');
    const server = coap.createServer({ type: 'udp4' }, (req, res) => {
      if (req.url === '/hello' && req.method === 'GET') {
        res.setOption('Content-Format', 'text/plain');
        res.end(HELLO);
      } else {
        res.code = '4.04';
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = (server as unknown as { _sock: { address(): { port: number } } })._sock.address();
    return { port: address.port, close: () => new Promise<void>((r) => server.close(() => r())) };
  }
  // Bare echo: header(4) + token(up to 8) + Content-Format 0 (1 byte: 0xC0) + 0xFF + "hello".
  const socket = createSocket({ type: 'udp4' });
  const tail = Buffer.from([0xc0, 0xff, ...Buffer.from(HELLO)]);
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 4) return;
    const tkl = msg[0]! & 0x0f;
    if (tkl > 8 || msg.length < 4 + tkl) return;
    const out = Buffer.allocUnsafe(4 + tkl + tail.length);
    out[0] = 0x60 | tkl; // ACK
    out[1] = 0x45; // 2.05 Content
    out[2] = msg[2]!;
    out[3] = msg[3]!;
    msg.copy(out, 4, 4, 4 + tkl);
    tail.copy(out, 4 + tkl);
    socket.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

const kind = process.argv[2] as Kind;
const server = await start(kind);
process.on('message', async (m: { kind: string }) => {
  if (m.kind === 'memory') {
    process.send?.({ kind: 'memory', memory: process.memoryUsage() });
  } else if (m.kind === 'stop') {
    const memory = process.memoryUsage();
    await server.close();
    process.send?.({ kind: 'stopped', memory }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ kind: 'ready', port: server.port });
