import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoapEndpoint, formatCode, fromHex } from '@thimble/coap-core';
import { createUdpEndpoint, DtlsClientTransport } from '@thimble/coap-core/node';
import { Lwm2mServer } from '@thimble/lwm2m';
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

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('lwm2m bootstrap-server command', () => {
  it('prints usage and refuses bad arguments or a bad file', async () => {
    const help = capture();
    expect(await main(['bootstrap-server', '--help'], help.io)).toBe(0);
    expect(help.out()).toContain('lwm2m bootstrap-server [--coap-port 5783] [--host ADDR] [--config FILE]');
    const all = capture();
    expect(await main(['--help'], all.io)).toBe(0);
    expect(all.out()).toContain('lwm2m bootstrap-server');
    expect(all.out()).toContain('--bootstrap');
    const port = capture();
    expect(await main(['bootstrap-server', '--coap-port', 'x'], port.io)).toBe(2);
    const unknown = capture();
    expect(await main(['bootstrap-server', '--nope'], unknown.io)).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), 'thimble-cli-bs-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'bad.json'),
      '{"x": {"security": {}, "servers": {"0": {"shortServerId": 1, "lifetime": 1}}}}',
    );
    const bad = capture();
    expect(await main(['bootstrap-server', '--config', join(dir, 'bad.json')], bad.io)).toBe(1);
    expect(bad.err()).toContain('endpoint "x"');
  });

  it('bootstraps `lwm2m client --bootstrap`, which then registers with the server it was given (UDP, loopback)', async () => {
    const lwm2mEndpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const lwm2m = new Lwm2mServer({ endpoint: lwm2mEndpoint });
    const serverPort = lwm2mEndpoint.transport.local.port;
    const dir = mkdtempSync(join(tmpdir(), 'thimble-cli-bs-'));
    dirs.push(dir);
    const file = join(dir, 'bootstrap.json');
    writeFileSync(
      file,
      JSON.stringify({
        'cli-bs': {
          discover: true,
          // the account in Security instance 2, not 1: the CLI names the server whatever its instance
          security: {
            2: {
              uri: `coap://127.0.0.1:${serverPort}`,
              bootstrapServer: false,
              securityMode: 'nosec',
              shortServerId: 7,
            },
          },
          servers: { 0: { shortServerId: 7, lifetime: 45 } },
        },
      }),
    );
    const bsIo = capture();
    const stopBs = new AbortController();
    const bsRun = main(
      ['bootstrap-server', '--coap-port', '0', '--host', '127.0.0.1', '--config', file],
      bsIo.io,
      stopBs.signal,
    );
    await waitFor(() => /on 127\.0\.0\.1:(\d+)/.test(bsIo.out()));
    expect(bsIo.out()).toContain('1 configuration from');
    const bsPort = Number(/on 127\.0\.0\.1:(\d+)/.exec(bsIo.out())![1]);
    const clientIo = capture();
    const stopClient = new AbortController();
    const clientRun = main(
      [
        'client',
        '-e',
        'cli-bs',
        '-s',
        `coap://127.0.0.1:${bsPort}`,
        '--bootstrap',
        '--host',
        '127.0.0.1',
        '--interval',
        '0',
      ],
      clientIo.io,
      stopClient.signal,
    );
    try {
      await waitFor(() => lwm2m.registration('cli-bs') !== undefined);
      expect(lwm2m.registration('cli-bs')!.lifetime).toBe(45);
      await waitFor(() => clientIo.out().includes('registered at'));
      expect(clientIo.out()).toContain(`Bootstrap-Request to coap://127.0.0.1:${bsPort}`);
      expect(clientIo.out()).toContain(`bootstrapped: registering with coap://127.0.0.1:${serverPort}`);
      expect(clientIo.out()).toContain('Bootstrap-Finish /bs -> 2.04');
      expect(bsIo.out()).toContain('cli-bs: Bootstrap-Request from 127.0.0.1:');
      expect(bsIo.out()).toContain('cli-bs: Bootstrap-Discover / -> 2.05');
      expect(bsIo.out()).toContain('cli-bs: Bootstrap-Write /0/2 -> 2.04');
      expect(bsIo.out()).toContain('cli-bs: bootstrap done (content format 112)');
    } finally {
      stopClient.abort();
      expect(await clientRun).toBe(0);
      stopBs.abort();
      expect(await bsRun).toBe(0);
      lwm2m.close();
      await lwm2mEndpoint.close();
    }
  });
  it("serves Bootstrap-Requests over DTLS PSK (--coaps-port): the session identity must be the endpoint's bootstrap-server identity (Core §6.1.3)", async () => {
    const lwm2mEndpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const lwm2m = new Lwm2mServer({ endpoint: lwm2mEndpoint });
    const serverPort = lwm2mEndpoint.transport.local.port;
    const dir = mkdtempSync(join(tmpdir(), 'thimble-cli-bs-dtls-'));
    dirs.push(dir);
    const file = join(dir, 'bootstrap.json');
    const account = (identity: string) => ({
      0: {
        uri: 'coaps://127.0.0.1:5784',
        bootstrapServer: true,
        securityMode: 'psk',
        pskIdentity: identity,
        pskKey: '000102030405060708090a0b0c0d0e0f',
      },
      1: {
        uri: `coap://127.0.0.1:${serverPort}`,
        bootstrapServer: false,
        securityMode: 'nosec',
        shortServerId: 7,
      },
    });
    writeFileSync(
      file,
      JSON.stringify({
        'bs-dtls': { security: account('bs-dtls-id'), servers: { 0: { shortServerId: 7, lifetime: 45 } } },
        'bs-other': { security: account('bs-other-id'), servers: { 0: { shortServerId: 7, lifetime: 45 } } },
      }),
    );
    const bsIo = capture();
    const stopBs = new AbortController();
    const bsRun = main(
      ['bootstrap-server', '--coap-port', '0', '--coaps-port', '0', '--host', '127.0.0.1', '--config', file],
      bsIo.io,
      stopBs.signal,
    );
    await waitFor(() => /coaps on 127\.0\.0\.1:(\d+)/.test(bsIo.out())).catch((e) => {
      throw new Error(`${e}\nbs:${bsIo.out()}${bsIo.err()}`);
    });
    const coaps = Number(/coaps on 127\.0\.0\.1:(\d+)/.exec(bsIo.out())![1]);
    const request = async (ep: string, identity: string) => {
      const endpoint = new CoapEndpoint({
        transport: new DtlsClientTransport({
          psk: { identity, key: fromHex('000102030405060708090a0b0c0d0e0f') },
        }),
      });
      try {
        const r = await endpoint.post(`coaps://127.0.0.1:${coaps}/bs?ep=${ep}`);
        return formatCode(r.code);
      } finally {
        await endpoint.close();
      }
    };
    try {
      // another endpoint's identity may not bootstrap as bs-dtls; its own may
      expect(await request('bs-dtls', 'bs-other-id')).toBe('4.03');
      expect(bsIo.out()).toContain('refused: credentials not bound to this endpoint');
      expect(await request('bs-dtls', 'bs-dtls-id')).toBe('2.04');
      await waitFor(() => bsIo.out().includes('bs-dtls: Bootstrap-Request from 127.0.0.1:'));
      // an unknown identity gets no DTLS session at all
      await expect(request('bs-dtls', 'nobody')).rejects.toThrow(/DTLS/);
    } finally {
      stopBs.abort();
      expect(await bsRun).toBe(0);
      lwm2m.close();
      await lwm2mEndpoint.close();
    }
  }, 30_000);
});
