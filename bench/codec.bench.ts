/**
 * CoAP codec micro-benchmark: Thimble's decodeMessage / encodeMessage against coap-packet (the codec
 * node-coap uses), on the same three messages, in one mitata run. Prints per-operation times and ratios.
 *
 *   npm run bench:codec          (from the repository root)
 */
import { createRequire } from 'node:module';
import { do_not_optimize, bench as mbench, run, summary } from 'mitata';
import {
  type CoapMessage,
  type CoapMessageInit,
  decodeMessage,
  encodeMessage,
  encodeMessageInto,
  MessageType,
  OptionNumber,
} from '../packages/coap-core/src/index.js';

const require = createRequire(import.meta.url);
const coapPacket = require('coap-packet') as {
  parse(b: Buffer): { token: Buffer; payload: Buffer; options: { name: string; value: Buffer }[] };
  generate(p: object, maxLength?: number): Buffer;
};

const token = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
const payload64 = new Uint8Array(64).map((_, i) => i);
const payload1024 = new Uint8Array(1024).map((_, i) => i & 0xff);

interface Case {
  name: string;
  ours: CoapMessageInit;
  theirs: object;
  /**
   * What a router or a server does with each message: read the token, the payload and every option
   * value in its registered format (uint as a number, string as a string). Returns how many option
   * values it read, checked against the message's option count below.
   */
  read(m: CoapMessage): number;
}

let sink: unknown;

const cases: Case[] = [
  {
    name: '1. CON GET /3/0/0, 4-byte token, Accept 11542',
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
      sink = m.token;
      const path = m.getStrings(OptionNumber.UriPath);
      sink = path;
      sink = m.getUint(OptionNumber.Accept);
      sink = m.payload;
      return path.length + 1;
    },
  },
  {
    name: '2. 2.05 notification, Observe + Content-Format, 64-byte payload',
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
      sink = m.token;
      sink = m.getUint(OptionNumber.Observe);
      sink = m.getUint(OptionNumber.ContentFormat);
      sink = m.payload;
      return 2;
    },
  },
  {
    name: '3. 2.05 ACK with Block2, 1024-byte payload',
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
      sink = m.token;
      sink = m.getUint(OptionNumber.ContentFormat);
      sink = m.getUint(OptionNumber.Block2);
      sink = m.payload;
      return 2;
    },
  },
];

// Same input: both codecs must produce the same bytes, or the comparison means nothing.
for (const c of cases) {
  const a = Buffer.from(encodeMessage(c.ours)).toString('hex');
  const b = coapPacket.generate(c.theirs, 2048).toString('hex');
  if (a !== b) throw new Error(`${c.name}: encoders disagree\n ours   ${a}\n theirs ${b}`);
}

// The readers must read every option value of their message.
for (const c of cases) {
  const m = decodeMessage(encodeMessage(c.ours));
  if (c.read(m) !== m.optionCount) throw new Error(`${c.name}: reader skips options`);
}

const scratch = new Uint8Array(2048);
for (const c of cases) {
  const wire = encodeMessage(c.ours);
  const wireBuffer = Buffer.from(wire);
  summary(() => {
    mbench(`decode ${c.name} | thimble`, () => do_not_optimize(decodeMessage(wire)));
    mbench(`decode ${c.name} | thimble + read token, options, payload`, () => {
      do_not_optimize(c.read(decodeMessage(wire)));
      do_not_optimize(sink);
    });
    mbench(`decode ${c.name} | coap-packet`, () => do_not_optimize(coapPacket.parse(wireBuffer)));
  });
  summary(() => {
    mbench(`encode ${c.name} | thimble`, () => do_not_optimize(encodeMessage(c.ours)));
    mbench(`encode ${c.name} | thimble into buffer`, () =>
      do_not_optimize(encodeMessageInto(c.ours, scratch, 0)),
    );
    mbench(`encode ${c.name} | coap-packet`, () => do_not_optimize(coapPacket.generate(c.theirs, 2048)));
  });
}

const result = await run({ format: process.argv.includes('--json') ? 'quiet' : 'mitata' });

// Medians, not means: on a shared machine a few descheduled iterations inflate the mean of whichever
// benchmark they land in; the median of each side of a ratio is far more stable.
const avg = new Map<string, number>();
for (const trial of result.benchmarks) {
  for (const r of trial.runs) if (r.stats) avg.set(r.name, r.stats.p50);
}
const ns = (x: number) => (x < 1000 ? `${x.toFixed(0)} ns` : `${(x / 1000).toFixed(2)} µs`);
const lines = [
  '| message | op (median per op) | thimble | thimble (+ field reads / into buffer) | coap-packet | ratio (coap-packet / thimble) |',
  '|---|---|---|---|---|---|',
];
for (const c of cases) {
  for (const op of ['decode', 'encode'] as const) {
    const ours = avg.get(`${op} ${c.name} | thimble`)!;
    const alt = avg.get(
      op === 'decode'
        ? `${op} ${c.name} | thimble + read token, options, payload`
        : `${op} ${c.name} | thimble into buffer`,
    )!;
    const theirs = avg.get(`${op} ${c.name} | coap-packet`)!;
    lines.push(
      `| ${c.name} | ${op} | ${ns(ours)} | ${ns(alt)} | ${ns(theirs)} | ${(theirs / ours).toFixed(1)}× (${(theirs / alt).toFixed(1)}×) |`,
    );
  }
}
console.log(`\n${lines.join('\n')}`);
