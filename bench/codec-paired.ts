/**
 * Paired codec ratios: Thimble against coap-packet on the three messages of `codec.bench.ts`, measured
 * in alternating batches so that both sides of every ratio see the same machine load. Each round times
 * one batch of ours and one of theirs (order alternating); the ratio of a round is theirs / ours. A batch
 * runs thousands of operations, so its time includes the garbage collection the operations cause.
 * Prints, for each side, the fastest batch (the least disturbed by other processes: on a shared machine
 * this is the most stable estimate) and their ratio, then the median and the interquartile range of the
 * per-round ratios, for:
 *
 * - decode + read: decode, then read the token, the payload and every option value in its registered
 *   format (what a router or a server does with each request), against coap-packet's `parse`;
 * - encode: `encodeMessage` (a fresh array per message) against coap-packet's `generate`.
 *
 *   npm run bench:codec-paired                 (31 rounds)
 *   npm run bench:codec-paired -- --rounds 31
 */
import { createRequire } from 'node:module';
import {
  type CoapMessage,
  type CoapMessageInit,
  decodeMessage,
  encodeMessage,
  MessageType,
  OptionNumber,
} from '../packages/coap-core/src/index.js';

const require = createRequire(import.meta.url);
const coapPacket = require('coap-packet') as {
  parse(b: Buffer): { token: Buffer; payload: Buffer; options: { name: string; value: Buffer }[] };
  generate(p: object, maxLength?: number): Buffer;
};

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('--rounds', 31);
const BATCH_NS = 4e6; // about 4 ms per batch

const token = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
const payload64 = new Uint8Array(64).map((_, i) => i);
const payload1024 = new Uint8Array(1024).map((_, i) => i & 0xff);

let acc = 0;

interface Case {
  name: string;
  ours: CoapMessageInit;
  theirs: object;
  read(m: CoapMessage): number;
}

const cases: Case[] = [
  {
    name: 'GET /3/0/0 + Accept',
    ours: {
      type: MessageType.CON,
      code: 0x01,
      messageId: 0x1234,
      token,
      options: [
        { number: OptionNumber.UriPath, value: '3' },
        { number: OptionNumber.UriPath, value: '0' },
        { number: OptionNumber.UriPath, value: '0' },
        { number: OptionNumber.Accept, value: 11542 },
      ],
    },
    theirs: {
      code: '0.01',
      confirmable: true,
      messageId: 0x1234,
      token: Buffer.from(token),
      options: [
        { name: 'Uri-Path', value: Buffer.from('3') },
        { name: 'Uri-Path', value: Buffer.from('0') },
        { name: 'Uri-Path', value: Buffer.from('0') },
        { name: 'Accept', value: Buffer.from([0x2d, 0x16]) },
      ],
    },
    read(m) {
      const path = m.getStrings(OptionNumber.UriPath);
      acc += m.token.length + path[0]!.length + m.getUint(OptionNumber.Accept)! + m.payload.length;
      return path.length + 1;
    },
  },
  {
    name: '2.05 Observe + CF, 64 B',
    ours: {
      type: MessageType.NON,
      code: 0x45,
      messageId: 0x4321,
      token,
      options: [
        { number: OptionNumber.Observe, value: 0x1234 },
        { number: OptionNumber.ContentFormat, value: 11542 },
      ],
      payload: payload64,
    },
    theirs: {
      code: '2.05',
      messageId: 0x4321,
      token: Buffer.from(token),
      options: [
        { name: 'Observe', value: Buffer.from([0x12, 0x34]) },
        { name: 'Content-Format', value: Buffer.from([0x2d, 0x16]) },
      ],
      payload: Buffer.from(payload64),
    },
    read(m) {
      acc +=
        m.token.length +
        m.getUint(OptionNumber.Observe)! +
        m.getUint(OptionNumber.ContentFormat)! +
        m.payload.length;
      return 2;
    },
  },
  {
    name: '2.05 Block2, 1 KiB',
    ours: {
      type: MessageType.ACK,
      code: 0x45,
      messageId: 0x5555,
      token,
      options: [
        { number: OptionNumber.ContentFormat, value: 42 },
        { number: OptionNumber.Block2, value: 0x2e },
      ],
      payload: payload1024,
    },
    theirs: {
      code: '2.05',
      ack: true,
      messageId: 0x5555,
      token: Buffer.from(token),
      options: [
        { name: 'Content-Format', value: Buffer.from([42]) },
        { name: 'Block2', value: Buffer.from([0x2e]) },
      ],
      payload: Buffer.from(payload1024),
    },
    read(m) {
      acc +=
        m.token.length +
        m.getUint(OptionNumber.ContentFormat)! +
        m.getUint(OptionNumber.Block2)! +
        m.payload.length;
      return 2;
    },
  },
];

function timeBatch(fn: () => void, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

/** Iterations so that one batch of `fn` takes about BATCH_NS. */
function calibrate(fn: () => void): number {
  let n = 64;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt > BATCH_NS / 4) return Math.max(64, Math.round((n * BATCH_NS) / dt));
    n *= 4;
  }
}

/** The q-quantile (0..1) of `xs`, interpolated. */
function quantile(xs: number[], q: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (at - lo);
}

interface Row {
  name: string;
  op: string;
  ours: number;
  theirs: number;
  /** min(theirs) / min(ours) */
  best: number;
  median: number;
  q1: number;
  q3: number;
}

function paired(name: string, op: string, ours: () => void, theirs: () => void): Row {
  const nOurs = calibrate(ours);
  const nTheirs = calibrate(theirs);
  timeBatch(ours, nOurs);
  timeBatch(theirs, nTheirs);
  const ratios: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let x: number;
    let y: number;
    if (r % 2 === 0) {
      x = timeBatch(ours, nOurs);
      y = timeBatch(theirs, nTheirs);
    } else {
      y = timeBatch(theirs, nTheirs);
      x = timeBatch(ours, nOurs);
    }
    a.push(x);
    b.push(y);
    ratios.push(y / x);
  }
  return {
    name,
    op,
    ours: Math.min(...a),
    theirs: Math.min(...b),
    best: Math.min(...b) / Math.min(...a),
    median: quantile(ratios, 0.5),
    q1: quantile(ratios, 0.25),
    q3: quantile(ratios, 0.75),
  };
}

for (const c of cases) {
  const wire = encodeMessage(c.ours);
  const m = decodeMessage(wire);
  if (c.read(m) !== m.optionCount) throw new Error(`${c.name}: reader skips options`);
  const a = Buffer.from(wire).toString('hex');
  const b = coapPacket.generate(c.theirs, 2048).toString('hex');
  if (a !== b) throw new Error(`${c.name}: encoders disagree`);
}

const rows: Row[] = [];
for (const c of cases) {
  const wire = encodeMessage(c.ours).slice();
  const wireBuffer = Buffer.from(wire);
  rows.push(
    paired(
      c.name,
      'decode + read all',
      () => {
        c.read(decodeMessage(wire));
      },
      () => {
        const p = coapPacket.parse(wireBuffer);
        acc += p.token.length + p.payload.length + p.options.length;
      },
    ),
  );
  rows.push(
    paired(
      c.name,
      'encode',
      () => {
        acc += encodeMessage(c.ours).length;
      },
      () => {
        acc += coapPacket.generate(c.theirs, 2048).length;
      },
    ),
  );
}

const ns = (x: number) => (x < 1000 ? `${x.toFixed(0)} ns` : `${(x / 1000).toFixed(2)} µs`);
console.log(`\n${ROUNDS} paired rounds of ~${BATCH_NS / 1e6} ms batches (checksum ${acc % 1000})\n`);
console.log(
  '| message | op | thimble (best batch) | coap-packet (best batch) | ratio of bests | paired ratio median (IQR) |',
);
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.op} | ${ns(r.ours)} | ${ns(r.theirs)} | **${r.best.toFixed(1)}×** | ${r.median.toFixed(1)}× (${r.q1.toFixed(1)}–${r.q3.toFixed(1)}) |`,
  );
}
