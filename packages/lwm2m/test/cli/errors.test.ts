/**
 * Every input error of the `lwm2m` commands is one line with a documented exit code, no stack trace and
 * no hang (issue 17, items 2-3); `--version`; no `-p` (in `coap` it is the payload).
 */
import { readFileSync } from 'node:fs';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { capture } from './io.js';

const oneLine = (text: string) => {
  expect(text.trim().split('\n')).toHaveLength(1);
  expect(text).not.toMatch(/\n\s+at /);
};

describe('lwm2m: input errors (issue 17)', () => {
  it.each([
    ['an unknown option', ['client', '-e', 'x', '-s', 'coap://127.0.0.1:1', '--frobnicate'], 2, /frobnicate/],
    [
      '-p (the payload in coap, not a port here)',
      ['client', '-e', 'x', '-s', 'coap://127.0.0.1:1', '-p', '5'],
      2,
      /-p/,
    ],
    [
      'a missing --endpoint',
      ['client', '-s', 'coap://127.0.0.1:1'],
      2,
      /--endpoint and --server are required/,
    ],
    ['an unknown command', ['frobnicate'], 2, /unknown command "frobnicate"/],
    ['bootstrap-server: an unknown option', ['bootstrap-server', '--frobnicate'], 2, /frobnicate/],
    [
      'bootstrap-server --config of a missing file',
      ['bootstrap-server', '--config', '/nonexistent/bs.json', '--coap-port', '0'],
      66,
      /--config \/nonexistent\/bs\.json: no such file/,
    ],
  ])('%s: one line, exit %2$s', async (_what, args, code, message) => {
    const c = capture();
    expect(await main(args, c.io, AbortSignal.abort())).toBe(code);
    expect(c.err()).toMatch(message);
    oneLine(c.err());
    expect(c.out()).toBe('');
  });

  it('usage errors point to --help instead of printing it', async () => {
    const c = capture();
    await main(['frobnicate'], c.io);
    expect(c.err()).toContain('`lwm2m --help` lists the options');
    expect(c.err()).not.toContain('Client options:');
  });

  it('bootstrap-server and client on a port in use: exit 69, one line', async () => {
    const taken = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    try {
      const port = String(taken.local.port);
      const bs = capture();
      expect(
        await main(
          ['bootstrap-server', '--host', '127.0.0.1', '--coap-port', port],
          bs.io,
          AbortSignal.abort(),
        ),
      ).toBe(69);
      expect(bs.err()).toMatch(/cannot listen on port \d+/);
      oneLine(bs.err());
      const client = capture();
      const args = ['client', '-e', 'x', '-s', 'coap://127.0.0.1:1', '--host', '127.0.0.1', '--port', port];
      expect(await main(args, client.io, AbortSignal.abort())).toBe(69);
      expect(client.err()).toMatch(/cannot bind port \d+/);
      oneLine(client.err());
    } finally {
      await taken.close();
    }
  });

  it('--version prints the version of package.json; --help lists the exit codes', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const v = capture();
    expect(await main(['--version'], v.io)).toBe(0);
    expect(v.out()).toBe(`lwm2m ${manifest.version}\n`);
    const h = capture();
    expect(await main(['--help'], h.io)).toBe(0);
    expect(h.out()).toContain('Exit codes:');
    expect(h.out()).not.toMatch(/-p, --port/);
  });
});
