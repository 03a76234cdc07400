/**
 * LwM2M registrations over DTLS PSK (issue 14, wiring): the same load generator registers N devices, each
 * with its own PSK identity (added through the server's REST security API first), with
 *   (a) our `lwm2m server --coaps-port` (its own Node process, memory store), and
 *   (b) Eclipse Leshan's server demo 2.0.0-M4 (.interop/leshan/, a JVM, warmed up first),
 * and reports registrations per second: from the first ClientHello to the last 2.01 Created, with
 * `IN_FLIGHT` devices handshaking and registering at once. A registration is a full DTLS handshake
 * (HelloVerifyRequest included, TLS_PSK_WITH_AES_128_CCM_8) plus a CON POST /rd answered 2.01.
 *
 *   npm run bench:registration-dtls -- [devices=300] [rounds=2] [in-flight=8]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLeshanJar, leshanServerDemoArgs } from '@thimble/test-support/leshan';
import { Code, encodeMessage, MessageType, OptionNumber } from '../packages/coap-core/src/index.js';
import { connect } from '../packages/dtls/src/node.js';

const N = Number(process.argv[2] ?? 300);
const ROUNDS = Number(process.argv[3] ?? 2);
/** At most 8: our DTLS server admits 8 handshakes in progress per IP address (all devices are on 127.0.0.1). */
const IN_FLIGHT = Number(process.argv[4] ?? 8);
const KEY_HEX = '00112233445566778899aabbccddeeff';
const KEY = Uint8Array.from(Buffer.from(KEY_HEX, 'hex'));

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function register(ep: string, mid: number): Uint8Array {
  return encodeMessage({
    type: MessageType.CON,
    code: Code.POST,
    messageId: mid,
    token: Uint8Array.of(mid >> 8, mid & 0xff, 7, 7),
    options: [
      { number: OptionNumber.UriPath, value: 'rd' },
      { number: OptionNumber.ContentFormat, value: 40 },
      { number: OptionNumber.UriQuery, value: `ep=${ep}` },
      { number: OptionNumber.UriQuery, value: 'lt=300' },
      { number: OptionNumber.UriQuery, value: 'lwm2m=1.1' },
      { number: OptionNumber.UriQuery, value: 'b=U' },
    ],
    payload: new TextEncoder().encode('</1/0>,</3/0>'),
  });
}

/** One device: handshake with its PSK, Register, wait for 2.01, close. Resolves true on 2.01. */
async function device(port: number, ep: string, mid: number): Promise<boolean> {
  const c = await connect({
    host: '127.0.0.1',
    port,
    psk: { identity: `${ep}-id`, key: KEY },
    timeoutMs: 20_000,
  });
  try {
    const answer = new Promise<number>((resolve) => {
      c.onData((d) => {
        if ((d[0]! & 0x30) === 0x20 && d[1] === 0) return; // empty ACK: a separate response follows
        resolve(d[1]!);
      });
      setTimeout(() => resolve(-1), 20_000).unref();
    });
    c.send(register(ep, mid));
    return (await answer) === 0x41; // 2.01 Created
  } finally {
    await c.close();
  }
}

async function fleet(port: number, prefix: string): Promise<{ perSecond: number; failed: number }> {
  let next = 0;
  let failed = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < N) {
        const i = next++;
        const ok = await device(port, `${prefix}-${i}`, i & 0xffff).catch(() => false);
        if (!ok) failed++;
      }
    }),
  );
  return { perSecond: (N - failed) / ((performance.now() - start) / 1000), failed };
}

async function putPsk(url: (ep: string) => string, body: (ep: string) => unknown, prefix: string) {
  for (let i = 0; i < N; i++) {
    const ep = `${prefix}-${i}`;
    const r = await fetch(url(ep), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body(ep)),
    });
    if (!r.ok) throw new Error(`PUT credentials for ${ep}: ${r.status} ${await r.text()}`);
  }
}

async function waitOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    const on = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

async function ours(round: number): Promise<{ perSecond: number; failed: number }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('../packages/lwm2m/src/cli/lwm2m.ts', import.meta.url).pathname,
      'server',
      '--coap-port',
      '0',
      '--coaps-port',
      '0',
      '--coap-host',
      '127.0.0.1',
      '--http-port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const coaps = Number((await waitOutput(child, /coaps \(DTLS: PSK, RPK\) on udp \S+:(\d+)/, 60_000))[1]);
    const api = (await waitOutput(child, /REST API on (http:\/\/\S+)\/api/, 60_000))[1]!;
    const prefix = `t${round}`;
    await putPsk(
      (ep) => `${api}/api/security/${ep}`,
      (ep) => ({ psk: { identity: `${ep}-id`, key: KEY_HEX } }),
      prefix,
    );
    return await fleet(coaps, prefix);
  } finally {
    child.kill('SIGKILL');
  }
}

let leshan: { child: ChildProcess; api: string; coaps: number } | undefined;

async function startLeshan() {
  const jar = findLeshanJar();
  if (jar === undefined) throw new Error('no Leshan server demo jar in .interop/leshan (run .ci/run)');
  const coapsPort = await freeUdpPort();
  const webPort = await freeTcpPort();
  const args = leshanServerDemoArgs({
    jar,
    coapPort: await freeUdpPort(),
    coapsPort,
    webPort,
    jvm: ['-Xmx512m'],
  });
  // the demo writes data/security.data and Californium.properties into its working directory
  const cwd = mkdtempSync(join(tmpdir(), 'thimble-bench-leshan-'));
  const child = spawn('java', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const api = `http://127.0.0.1:${webPort}/api`;
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${api}/clients`)).ok) return { child, api, coaps: coapsPort };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  throw new Error('Leshan did not start');
}

async function theirs(round: number): Promise<{ perSecond: number; failed: number }> {
  leshan ??= await startLeshan();
  const { api, coaps } = leshan;
  const prefix = `l${round}`;
  await putPsk(
    () => `${api}/security/clients`,
    (ep) => ({ endpoint: ep, psk: { identity: `${ep}-id`, key: KEY_HEX } }),
    prefix,
  );
  return fleet(coaps, prefix);
}

const rows: { round: number; thimble: number; leshan: number; failed: string }[] = [];
try {
  await theirs(-1); // JIT warm-up of the JVM, not measured
  for (let round = 0; round < ROUNDS; round++) {
    const l = await theirs(round);
    const t = await ours(round);
    rows.push({
      round: round + 1,
      thimble: Math.round(t.perSecond),
      leshan: Math.round(l.perSecond),
      failed: `thimble ${t.failed}, leshan ${l.failed}`,
    });
  }
} finally {
  leshan?.child.kill('SIGKILL');
}
console.log(
  JSON.stringify(
    {
      devices: N,
      inFlight: IN_FLIGHT,
      rounds: rows.map((r) => ({ ...r, ratio: +(r.thimble / r.leshan).toFixed(2) })),
    },
    null,
    2,
  ),
);
process.exit(0);
