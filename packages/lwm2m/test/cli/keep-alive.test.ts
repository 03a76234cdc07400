/**
 * `lwm2m client` with a coaps:// server that is down (issue 16, item 4): the DTLS handshake fails, the
 * socket closes, and the process must keep running and retrying (Core §6.2.1.1, retry sequences for ever
 * in the command) until it is stopped, instead of exiting 0 when nothing holds the event loop any more.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from '@thimble/test-support/peers';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../src/cli/lwm2m.ts', import.meta.url));

describe('lwm2m client with coaps:// and the server down (Core §6.2.1.1)', () => {
  it('keeps running and retries the handshake after it fails, until SIGTERM', async () => {
    const port = await freeUdpPort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        BIN,
        'client',
        '-e',
        'keepalive',
        '-s',
        `coaps://127.0.0.1:${port}`,
        '--psk-identity',
        'id',
        '--psk-key',
        '00112233',
        '--host',
        '127.0.0.1',
        '--interval',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let exit: number | null | undefined;
    const exited = new Promise<void>((resolve) =>
      child.on('exit', (code) => {
        exit = code;
        resolve();
      }),
    );
    const failures = () => out.split('\n').filter((l) => l.includes('error: security')).length;
    try {
      // first attempt (handshake timeout), then the retry 10 s later fails the same way
      const deadline = Date.now() + 50_000;
      while (failures() < 2 && exit === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(exit, `the client exited; output:\n${out}`).toBeUndefined();
      expect(failures(), out).toBeGreaterThanOrEqual(2);
      child.kill('SIGTERM');
      await exited;
      expect(exit).toBe(0);
    } finally {
      if (exit === undefined) child.kill('SIGKILL');
    }
  }, 70_000);
});
