/**
 * Interop with aiocoap 0.4.17 (PyPI `aiocoap[oscore]`, installed by .ci/run into .interop/venv) over
 * OSCORE (RFC 8613), with the RFC 8613 Appendix C.1 keying material in context directories both tools read:
 * - our client GETs and Observes resources of an aiocoap OSCORE server (aiocoap_server.py);
 * - aiocoap-client GETs from our `coap serve --oscore`;
 * - after our server restarts with the same directory (replay window lost) aiocoap-client still gets its
 *   answer, through the Echo challenge of Appendix B.1.2 / RFC 9175;
 * - Outer Block-wise (RFC 8613 §4.1.3.4.2): aiocoap's client sends an OSCORE message larger than its
 *   1024-byte payload limit in Outer Block1 blocks, and reassembles a protected response our server sends
 *   in Outer Block2 blocks before unprotecting it. (aiocoap's server, `OscoreSiteWrapper`, does no Outer
 *   Block-wise: it unprotects each datagram as it comes, so our client's Outer Block1 is tested against our
 *   own server only, in outer-blockwise.test.ts.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CoapEndpoint,
  Code,
  decodeBlock,
  decodeMessage,
  OptionNumber,
  type ServerSecurity,
  toHex,
} from '@thimble/coap-core';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import {
  AIOCOAP,
  captureIo,
  freeUdpPort,
  requireAiocoap,
  runPeer,
  startPeer,
} from '@thimble/test-support/peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, runCli, startFileServer } from '../../../coap-cli/src/main.js';
import { oscoreServer } from '../../src/index.js';
import { loadContextDirectory } from '../../src/node.js';
import { writeC1Dirs } from '../c1-dirs.js';

const PYTHON = AIOCOAP.python;
const AIOCOAP_CLIENT = AIOCOAP.client;
const SERVER_SCRIPT = fileURLToPath(new URL('./aiocoap_server.py', import.meta.url));

const available = requireAiocoap('aiocoap OSCORE interop');

/** What our OSCORE layer did with a request: verified, refused with a §8.2 error, or Echo-challenged. */
function describeOutcome(result: ReturnType<ServerSecurity['unprotectRequest']>): string {
  if (result === undefined) return 'plain';
  if (result.ok) return 'verified';
  const code = result.response.code;
  // the Echo challenge is a protected 4.01, i.e. an outer 2.04 with an OSCORE option (Appendix B.1.2)
  if (result.response.options?.some((o) => o.number === OptionNumber.OSCORE)) return 'echo challenge';
  return `refused ${code >>> 5}.${String(code & 31).padStart(2, '0')}`;
}

async function coap(...args: string[]) {
  const c = captureIo();
  const code = await runCli(args, c.io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

const root = mkdtempSync(join(tmpdir(), 'thimble-aiocoap-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(!available)('our OSCORE client against an aiocoap OSCORE server', { timeout: 30_000 }, () => {
  let base = '';
  let dirs: { client: string; server: string };
  beforeAll(async () => {
    dirs = writeC1Dirs(join(root, 'to-aiocoap'));
    const port = await freeUdpPort();
    const peer = startPeer(PYTHON, [SERVER_SCRIPT, String(port), dirs.server]);
    const deadline = Date.now() + 20_000;
    while (!peer.output().includes('ready')) {
      if (Date.now() > deadline || peer.process.exitCode !== null)
        throw new Error(`aiocoap server did not start:\n${peer.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    base = `coap://127.0.0.1:${port}`;
  }, 30_000);

  it('GET /hello through OSCORE', async () => {
    const r = await coap('get', `${base}/hello`, '--oscore', dirs.client, '--timeout', '10');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'hello from aiocoap', '']);
  });

  it('Observe /counter through OSCORE: three increasing values', async () => {
    const r = await coap(
      'observe',
      `${base}/counter`,
      '--count',
      '3',
      '--duration',
      '10',
      '--oscore',
      dirs.client,
    );
    expect(r.code).toBe(0);
    const values = r.stdout.trim().split('\n').map(Number);
    expect(values).toHaveLength(3);
    expect(values.every((v, i) => Number.isInteger(v) && (i === 0 || v > values[i - 1]!))).toBe(true);
    // aiocoap answers the registration without a Partial IV and numbers notifications from Partial IV 0:
    // the first notification must not be mistaken for a reordered one (RFC 8613 §4.1.3.5.2)
    expect(values[1]).toBe(values[0]! + 1);
  });

  it('without OSCORE aiocoap answers unprotected, and a wrong key is refused, not trusted', async () => {
    const wrong = join(root, 'wrong');
    mkdirSync(wrong);
    writeFileSync(
      join(wrong, 'settings.json'),
      JSON.stringify({ 'sender-id_hex': '', 'recipient-id_hex': '01', secret_hex: '00'.repeat(16) }),
    );
    const r = await coap('get', `${base}/hello`, '--oscore', wrong, '--timeout', '10');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('rejected by the security layer');
  });
});

describe.skipIf(!available)('aiocoap-client against our coap serve --oscore', { timeout: 30_000 }, () => {
  let dirs: { client: string; server: string };
  let files = '';
  let port = 0;
  let server: RunningServer | undefined;
  let creds = '';
  let outcomes: string[] = [];
  let restarted = false;
  let awaitingFreshness: () => boolean = () => false;

  /** Starts our file server with the server context directory, noting what the OSCORE layer did. */
  async function start() {
    const loaded = loadContextDirectory(dirs.server);
    restarted = loaded.restarted;
    awaitingFreshness = () => loaded.context.awaitingFreshness;
    const inner = oscoreServer([loaded.context]);
    const serverSecurity: ServerSecurity = {
      unprotectRequest(request, peer) {
        const result = inner.unprotectRequest(request, peer);
        outcomes.push(describeOutcome(result));
        return result;
      },
    };
    server = await startFileServer(files, '127.0.0.1', port, { serverSecurity });
  }

  beforeAll(async () => {
    dirs = writeC1Dirs(join(root, 'from-aiocoap'));
    files = join(root, 'files');
    mkdirSync(files);
    writeFileSync(join(files, 'file'), 'a file served by thimble over OSCORE');
    port = await freeUdpPort();
    creds = join(root, 'credentials.json');
    writeFileSync(
      creds,
      JSON.stringify({ [`coap://127.0.0.1:${port}/*`]: { oscore: { contextfile: dirs.client } } }),
    );
    await start();
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });

  it('aiocoap-client GETs /file', async () => {
    outcomes = [];
    const r = await runPeer(AIOCOAP_CLIENT, [`coap://127.0.0.1:${port}/file`, '--credentials', creds]);
    expect([r.code, r.stdout]).toEqual([0, 'a file served by thimble over OSCORE']);
    expect(restarted).toBe(false);
    expect(outcomes).toEqual(['verified']);
  });

  it('after our server restarts (replay window lost) aiocoap-client is challenged with Echo and gets its answer', async () => {
    await server?.close();
    outcomes = [];
    await start();
    expect(restarted).toBe(true);
    expect(awaitingFreshness()).toBe(true);
    const r = await runPeer(AIOCOAP_CLIENT, [`coap://127.0.0.1:${port}/file`, '--credentials', creds]);
    expect([r.code, r.stdout]).toEqual([0, 'a file served by thimble over OSCORE']);
    // the first request got the protected 4.01 + Echo, aiocoap repeated it with the Echo value
    expect(outcomes).toEqual(['echo challenge', 'verified']);
    expect(awaitingFreshness()).toBe(false);
  });

  it('aiocoap-client observes a file: it verifies our protected notifications (§8.3.1)', async () => {
    // aiocoap-client 0.4.17 does not print notifications when its output is not a terminal (not even from
    // aiocoap's own server), so its debug log is the evidence: every notification "Successfully unprotected".
    const file = join(files, 'observed');
    writeFileSync(file, 'state 0');
    const peer = startPeer(AIOCOAP_CLIENT, [
      `coap://127.0.0.1:${port}/observed`,
      '--credentials',
      creds,
      '--observe',
      '-vvv',
    ]);
    const unprotected = () => peer.output().split('Successfully unprotected').length - 1;
    const waitFor = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (unprotected() < n) {
        if (Date.now() > deadline) throw new Error(`aiocoap saw ${unprotected()} of ${n}:\n${peer.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor(1); // the registration response
      writeFileSync(file, 'state 1');
      await waitFor(2);
      writeFileSync(file, 'state 2');
      await waitFor(3);
      expect(peer.output()).not.toMatch(/Traceback|ProtectionInvalid|ReplayError/);
      expect(server?.endpoint.observerTotal('observed')).toBe(1);
    } finally {
      peer.process.kill('SIGKILL');
    }
  });

  it('an unknown kid is refused with the unprotected §8.2 answer (4.01 Security context not found)', async () => {
    const other = writeC1Dirs(join(root, 'other'));
    writeFileSync(
      join(other.client, 'settings.json'),
      JSON.stringify({ 'sender-id_hex': '05', 'recipient-id_hex': '01', secret_hex: '00'.repeat(16) }),
    );
    const otherCreds = join(root, 'other-credentials.json');
    writeFileSync(
      otherCreds,
      JSON.stringify({ [`coap://127.0.0.1:${port}/*`]: { oscore: { contextfile: other.client } } }),
    );
    outcomes = [];
    const r = await runPeer(AIOCOAP_CLIENT, [`coap://127.0.0.1:${port}/file`, '--credentials', otherCreds]);
    expect(r.stdout).not.toContain('a file served by thimble');
    expect(outcomes).toEqual(['refused 4.01']);
  });
});

describe.skipIf(!available)(
  'aiocoap-client and our server: Outer Block-wise on OSCORE messages (RFC 8613 §4.1.3.4.2)',
  {
    timeout: 30_000,
  },
  () => {
    interface Seen {
      direction: 'in' | 'out';
      code: number;
      block1: number | undefined;
      block2: number | undefined;
      oscore: string | undefined;
      payload: number;
    }
    let server: CoapEndpoint | undefined;
    let port = 0;
    let creds = '';
    let seen: Seen[] = [];
    let outcomes: string[] = [];
    let uploaded: string[] = [];
    const big = (n: number) =>
      Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
    const download = big(3000);

    beforeAll(async () => {
      const dirs = writeC1Dirs(join(root, 'outer'));
      const loaded = loadContextDirectory(dirs.server);
      const inner = oscoreServer([loaded.context]);
      const serverSecurity: ServerSecurity = {
        isProtected: inner.isProtected,
        unprotectRequest(request, peer) {
          const result = inner.unprotectRequest(request, peer);
          outcomes.push(describeOutcome(result));
          return result;
        },
      };
      port = await freeUdpPort();
      server = await createUdpEndpoint({
        address: '127.0.0.1',
        port,
        serverSecurity,
        // Protected responses larger than 256 bytes go in Outer Block2 blocks of 256
        outerBlockwise: { blockSize: 256 },
        trace: (direction, bytes) => {
          const m = decodeMessage(bytes.slice());
          const o = m.getOption(OptionNumber.OSCORE);
          seen.push({
            direction,
            code: m.code,
            block1: m.getUint(OptionNumber.Block1),
            block2: m.getUint(OptionNumber.Block2),
            oscore: o === undefined ? undefined : toHex(o),
            payload: m.payloadLength,
          });
        },
      });
      server.route('PUT', '/upload', (req) => {
        uploaded.push(req.text());
        return { code: Code.Changed };
      });
      server.route('GET', '/download', () => ({ code: Code.Content, payload: download }));
      creds = join(root, 'outer-credentials.json');
      writeFileSync(
        creds,
        JSON.stringify({ [`coap://127.0.0.1:${port}/*`]: { oscore: { contextfile: dirs.client } } }),
      );
    }, 30_000);
    afterAll(async () => {
      await server?.close();
    });

    it('aiocoap-client PUTs 3000 bytes with a long query: each protected inner block comes in Outer Block1 blocks', async () => {
      // aiocoap sends inner blocks of 1024 bytes and splits an OSCORE message whose payload exceeds 1124
      // bytes (its UDP payload limit) with Outer Block1: a 200-byte Uri-Query (Class E, inside the
      // ciphertext of every inner block) pushes each protected block past that.
      seen = [];
      outcomes = [];
      uploaded = [];
      const file = join(root, 'upload.txt');
      const body = big(3000);
      writeFileSync(file, body);
      const r = await runPeer(AIOCOAP_CLIENT, [
        `coap://127.0.0.1:${port}/upload?pad=${'q'.repeat(200)}`,
        '-m',
        'PUT',
        '--payload',
        `@${file}`,
        '--credentials',
        creds,
      ]);
      expect(r.code).toBe(0);
      expect(uploaded).toEqual([body]);
      // aiocoap split the protected inner blocks (1024 bytes + OSCORE overhead > 1024) with Outer Block1
      const outerBlocks = seen.filter((d) => d.direction === 'in' && d.block1 !== undefined);
      expect(outerBlocks.length).toBeGreaterThanOrEqual(2);
      expect(outerBlocks.every((d) => d.oscore !== undefined && d.code === Code.POST)).toBe(true);
      expect(
        seen.some((d) => d.direction === 'out' && d.code === Code.Continue && d.oscore === undefined),
      ).toBe(true);
      // each whole protected message unprotected exactly once: three inner blocks, three verifications
      expect(outcomes).toEqual(['verified', 'verified', 'verified']);
    });

    it('aiocoap-client GETs 3000 bytes: it reassembles our Outer Block2 blocks, then unprotects', async () => {
      seen = [];
      outcomes = [];
      const r = await runPeer(AIOCOAP_CLIENT, [`coap://127.0.0.1:${port}/download`, '--credentials', creds]);
      expect([r.code, r.stdout]).toEqual([0, download]);
      const out = seen.filter((d) => d.direction === 'out');
      expect(out.every((d) => d.payload <= 256)).toBe(true);
      expect(out.some((d) => d.block2 !== undefined && decodeBlock(d.block2).num > 0)).toBe(true);
      // its block requests repeat the OSCORE option; we serve them from the snapshot without unprotecting
      const repeats = seen.filter(
        (d) => d.direction === 'in' && d.block2 !== undefined && decodeBlock(d.block2).num > 0,
      );
      expect(repeats.length).toBeGreaterThan(0);
      expect(repeats.every((d) => d.oscore !== undefined)).toBe(true);
      expect(outcomes.every((o) => o === 'verified')).toBe(true);
      expect(outcomes.length).toBe(3); // one per inner Block2 block (1024 bytes each)
    });
  },
);
