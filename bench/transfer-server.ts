/**
 * Child process for bench/transfer.ts: a CoAP server that stores a PUT body in memory and serves it
 * back on GET, implemented with Thimble or with node-coap. Prints "ready <port>" when listening.
 *
 *   tsx bench/transfer-server.ts thimble|node-coap
 */
import { createRequire } from 'node:module';
import { Code } from '../packages/coap-core/src/index.js';
import { createUdpEndpoint } from '../packages/coap-core/src/node.js';

const which = process.argv[2];
let stored: Uint8Array = new Uint8Array(0);

if (which === 'thimble') {
  const server = await createUdpEndpoint({
    address: '127.0.0.1',
    port: 0,
    blockwise: { maxBodySize: 64 * 1024 * 1024 },
  });
  server.route('PUT', '/file', (req) => {
    stored = req.payload;
    return { code: Code.Changed };
  });
  server.route('GET', '/file', () => ({ code: Code.Content, payload: stored, contentFormat: 42 }));
  // the server's own CPU time so far (user + system, µs), for the CPU-per-block figure
  server.route('GET', '/cpu', () => {
    const u = process.cpuUsage();
    return { code: Code.Content, payload: String(u.user + u.system) };
  });
  console.log(`ready ${server.local.port}`);
} else if (which === 'node-coap') {
  const require = createRequire(import.meta.url);
  const coap = require('coap') as {
    createServer(opts?: object): {
      on(
        e: 'request',
        h: (
          req: { method: string; url: string; payload: Buffer },
          res: { code: string; end(b?: Buffer): void; setOption(n: string, v: unknown): void },
        ) => void,
      ): void;
      listen(port: number, address: string, cb: () => void): void;
      _sock?: { address(): { port: number } };
    };
  };
  const server = coap.createServer();
  server.on('request', (req, res) => {
    if (req.method === 'PUT') {
      stored = req.payload;
      res.code = '2.04';
      res.end();
    } else {
      res.code = '2.05';
      res.setOption('Content-Format', 'application/octet-stream');
      res.end(Buffer.from(stored));
    }
  });
  const port = Number(process.argv[3] ?? 0);
  server.listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
} else if (which === 'echo') {
  // answers every datagram with its first 12 bytes, like a 2.31 / 2.04 block acknowledgement would
  const { createSocket } = await import('node:dgram');
  const socket = createSocket('udp4');
  socket.on('message', (m, r) => socket.send(m.subarray(0, 12), r.port, r.address));
  socket.bind(0, '127.0.0.1', () => console.log(`ready ${socket.address().port}`));
} else {
  throw new Error(`unknown server ${which}`);
}
