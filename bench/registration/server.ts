/**
 * Our LwM2M server for the registration benchmark, run as a child process: `Lwm2mServer` on a UDP socket
 * on 127.0.0.1 (in-memory registration store, sized for `--max` registrations).
 *
 *   node server.js [--port P] [--max N]
 *
 * Over IPC: sends `{ kind: 'ready', port }` once listening; answers `{ kind: 'stats' }` with
 * `{ kind: 'stats', registrations, registered, deregistered, firstRegisterAt, lastRegisterAt, memory }`
 * (`gc: true` in the request runs a full GC first when started with --expose-gc); `{ kind: 'read', endpoint,
 * path }` reads from a registered device (`{ kind: 'read', ok, value | error }`); `{ kind: 'reset' }` forgets
 * the first / last Register times; `{ kind: 'stop' }` closes.
 * Without IPC it logs a line every 5 s (for manual runs).
 */
import { createUdpEndpoint } from '../../packages/coap-core/src/node.js';
import { Lwm2mServer, MemoryRegistrationStore } from '../../packages/lwm2m/src/index.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};

async function main(): Promise<void> {
  const max = Number(arg('max', '200000'));
  const endpoint = await createUdpEndpoint({
    address: '127.0.0.1',
    port: Number(arg('port', '0')),
    // a large receive buffer (the kernel caps it at net.core.rmem_max) absorbs registration bursts
    bufferSize: 8 * 1024 * 1024,
  });
  const server = new Lwm2mServer({
    endpoint,
    store: new MemoryRegistrationStore({ maxRegistrations: max }),
  });
  let registered = 0;
  let deregistered = 0;
  let firstRegisterAt: number | undefined;
  let lastRegisterAt: number | undefined;
  server.on('registered', () => {
    const now = performance.timeOrigin + performance.now();
    firstRegisterAt ??= now;
    lastRegisterAt = now;
    registered++;
  });
  server.on('deregistered', () => deregistered++);
  const stats = () => ({
    kind: 'stats',
    registrations: server.store.size,
    registered,
    deregistered,
    firstRegisterAt,
    lastRegisterAt,
    memory: process.memoryUsage(),
  });
  const port = endpoint.transport.local.port;
  if (process.send === undefined) {
    console.log(`Lwm2mServer on coap://127.0.0.1:${port}`);
    setInterval(() => {
      const s = stats();
      console.log(
        `registrations ${s.registrations} (registered ${registered}, de-registered ${deregistered}), ` +
          `rss ${(s.memory.rss / 2 ** 20).toFixed(0)} MB, heap ${(s.memory.heapUsed / 2 ** 20).toFixed(0)} MB`,
      );
    }, 5000);
    return;
  }
  process.on('message', (m: { kind: string; gc?: boolean; endpoint?: string; path?: string }) => {
    if (m.kind === 'read') {
      server.read(m.endpoint!, m.path!, { timeout: 10_000 }).then(
        (node) => process.send!({ kind: 'read', ok: true, value: 'value' in node ? node.value : node.kind }),
        (e: Error) => process.send!({ kind: 'read', ok: false, error: e.message }),
      );
    } else if (m.kind === 'reset') {
      // the measured part starts: forget when the warm-up registrations came
      firstRegisterAt = undefined;
      lastRegisterAt = undefined;
    } else if (m.kind === 'stats') {
      if (m.gc) (globalThis as { gc?: () => void }).gc?.();
      process.send!(stats());
    } else if (m.kind === 'stop') {
      server.close();
      void endpoint.close().then(() => process.exit(0));
    }
  });
  process.send({ kind: 'ready', port });
}

void main();
