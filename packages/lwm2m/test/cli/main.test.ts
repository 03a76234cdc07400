import { type CoapEndpoint, Code } from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

function capture() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (d: string) => (out += d) }, stderr: { write: (d: string) => (err += d) } },
    out: () => out,
    err: () => err,
  };
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('lwm2m client command', () => {
  let server: CoapEndpoint | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('prints usage and rejects bad arguments with exit code 2', async () => {
    const help = capture();
    expect(await main(['--help'], help.io)).toBe(0);
    expect(help.out()).toContain('lwm2m client --endpoint NAME --server coap://HOST:PORT');
    const none = capture();
    expect(await main(['client'], none.io)).toBe(2);
    expect(none.err()).toContain('--endpoint and --server are required');
    const scheme = capture();
    expect(await main(['client', '-e', 'x', '-s', 'http://127.0.0.1:1'], scheme.io)).toBe(2);
    const version = capture();
    expect(await main(['client', '-e', 'x', '-s', 'coap://127.0.0.1:1', '--lwm2m', '2.0'], version.io)).toBe(
      2,
    );
    const unknown = capture();
    expect(await main(['bogus'], unknown.io)).toBe(2);
  });

  it('registers the example device, logs what it serves and de-registers when stopped', async () => {
    const requests: string[] = [];
    server = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    let registeredQuery: readonly string[] = [];
    let links = '';
    server.route('POST', '/rd', (req) => {
      registeredQuery = req.query;
      links = req.text();
      requests.push('register');
      return {
        code: Code.Created,
        options: [
          { number: 8, value: 'rd' },
          { number: 8, value: 'x1' },
        ],
      };
    });
    server.route(['POST', 'DELETE'], '/rd/x1', (req) => {
      requests.push(req.method === Code.DELETE ? 'deregister' : 'update');
      return { code: req.method === Code.DELETE ? Code.Deleted : Code.Changed };
    });
    const port = server.transport.local.port;
    const io = capture();
    const stop = new AbortController();
    const run = main(
      ['client', '-e', 'cli-test', '-s', `coap://127.0.0.1:${port}`, '--host', '127.0.0.1', '-l', '60'],
      io.io,
      stop.signal,
    );
    await waitFor(() => requests.includes('register'));
    expect(registeredQuery).toEqual(['ep=cli-test', 'lt=60', 'lwm2m=1.1', 'b=U']);
    expect(links).toContain('</3>;ver=1.1');
    expect(links).toContain('</3303/0>');
    await waitFor(() => io.out().includes('registered at /rd/x1'));
    // the device answers a Read from the server and logs it
    const clientPort = Number(/on 127\.0\.0\.1:(\d+)/.exec(io.out())![1]);
    const res = await server.get(`coap://127.0.0.1:${clientPort}/3/0/0`, { accept: 0 });
    expect(res.text()).toBe('Thimble');
    await waitFor(() => io.out().includes('Read /3/0/0 -> 2.05'));
    stop.abort();
    expect(await run).toBe(0);
    expect(requests).toContain('deregister');
    expect(io.out()).toContain('de-registered');
  });
});
