import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessage, toHex } from '@thimble/coap-core';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeOscoreOption, decodePartialIv } from '../src/index.js';
import { SEQUENCE_FILE } from '../src/node.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SENDER = fileURLToPath(new URL('./concurrent/sender.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'thimble-oscore-conc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const PROCESSES = 4;
const RUNS = 6;
const PER_RUN = 10;
const BLOCK = 3;

/** Runs one sender; resolves with [requests sent, stale locks broken], or with the signal that killed it. */
function runSender(dir: string, port: number, crashAtWrite?: number): Promise<number[] | string> {
  const args = [SENDER, dir, String(port), String(RUNS), String(PER_RUN), String(BLOCK)];
  if (crashAtWrite !== undefined) args.push(String(crashAtWrite));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== null) resolve(signal);
      else if (code === 0) resolve(out.trim().split(' ').map(Number));
      else reject(new Error(`sender exited with ${code}: ${err}`));
    });
  });
}

describe('sender sequence numbers shared by processes (RFC 8613 §7.2.1, Appendix B.1.1)', () => {
  it(`${PROCESSES} processes protecting requests with one credentials directory never repeat a (kid, Partial IV) pair, and a process killed holding the lock stalls nobody`, async () => {
    const dir = join(root, 'shared');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'settings.json'),
      JSON.stringify({
        'sender-id_hex': '01',
        'recipient-id_hex': '',
        secret_hex: '0102030405060708090a0b0c0d0e0f10',
        salt_hex: '9e7ca92223786340',
        algorithm: 'AES-CCM-16-64-128',
      }),
    );
    // the wire: every protected request lands here, and its OSCORE option (9) names kid and Partial IV
    const seen = new Map<string, number>();
    let received = 0;
    const listener = createSocket('udp4');
    listener.on('message', (bytes) => {
      const option = decodeOscoreOption(decodeMessage(new Uint8Array(bytes)).getOption(9)!);
      const key = `${toHex(option.kid ?? new Uint8Array(0))}/${decodePartialIv(option.partialIv!)}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      received++;
    });
    await new Promise<void>((r) => listener.bind(0, '127.0.0.1', r));
    const port = listener.address().port;
    try {
      // first a process dies (SIGKILL) inside its fourth write, holding the lock file: after the directory's
      // "used" mark and two blocks of BLOCK numbers, which it sent
      expect(await runSender(dir, port, 4)).toBe('SIGKILL');
      expect(existsSync(join(dir, `${SEQUENCE_FILE}.lock`))).toBe(true);
      // then the others start together: one of them recovers that lock, and none repeats a number
      const counts = await Promise.all(Array.from({ length: PROCESSES }, () => runSender(dir, port)));
      expect(counts.map((c) => c[0])).toEqual(Array(PROCESSES).fill(RUNS * PER_RUN));
      // its lock was broken once, as the lock of a dead process, by one of the others
      expect(counts.reduce((n, c) => n + Number(c[1]), 0)).toBe(1);
      // loopback UDP does not drop these few datagrams; wait for the last ones to be read
      const total = PROCESSES * RUNS * PER_RUN + 2 * BLOCK;
      for (let i = 0; i < 100 && received < total; i++) await new Promise((r) => setTimeout(r, 20));
      expect(received).toBe(total);
      const repeated = [...seen].filter(([, n]) => n > 1).map(([key]) => key);
      expect(repeated).toEqual([]);
      expect(seen.size).toBe(total);
      // every number used lies below the final reservation
      const next = JSON.parse(readFileSync(join(dir, SEQUENCE_FILE), 'utf8'))['next-to-send'];
      const highest = Math.max(...[...seen.keys()].map((k) => Number(k.split('/')[1])));
      expect(highest).toBeLessThan(next);
    } finally {
      listener.close();
    }
  }, 120_000);
});
