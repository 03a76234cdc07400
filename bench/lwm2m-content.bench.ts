/**
 * LwM2M content-format micro-benchmark (issue 6): encode and decode of a full Device object instance
 * (/3/0, the example instance of the LwM2M TS: 13 resources, 4 of them multiple) in TLV, SenML JSON,
 * SenML CBOR and LwM2M CBOR (and the legacy LwM2M JSON), in one mitata run. Prints a markdown table.
 *
 *   npm run bench:lwm2m          (from the repository root)
 */
import { do_not_optimize, bench as mbench, run, summary } from 'mitata';
import {
  BUILTIN_OBJECTS,
  decodeNode,
  encodeNode,
  type Lwm2mNode,
  multipleResource,
  ObjectRegistry,
  objectInstance,
  singleResource,
} from '../packages/lwm2m/src/index.js';

const model = new ObjectRegistry(BUILTIN_OBJECTS);
const path = [3, 0];
const device: Lwm2mNode = objectInstance(0, [
  singleResource(0, 'String', 'Open Mobile Alliance'),
  singleResource(1, 'String', 'Lightweight M2M Client'),
  singleResource(2, 'String', '345000123'),
  singleResource(3, 'String', '1.0'),
  multipleResource(6, 'Integer', [1, 5]),
  multipleResource(7, 'Integer', [3800, 5000]),
  multipleResource(8, 'Integer', [125, 900]),
  singleResource(9, 'Integer', 100),
  singleResource(10, 'Integer', 15),
  multipleResource(11, 'Integer', [0]),
  singleResource(13, 'Time', 1367491215),
  singleResource(14, 'String', '+02:00'),
  singleResource(16, 'String', 'U'),
]);

const formats: [string, number][] = [
  ['TLV (11542)', 11542],
  ['SenML JSON (110)', 110],
  ['SenML CBOR (112)', 112],
  ['LwM2M CBOR (11544)', 11544],
  ['LwM2M JSON (11543)', 11543],
];

const sizes = new Map<string, number>();
for (const [name, format] of formats) {
  const bytes = encodeNode(format, path, device, model);
  // Same work on every side: each payload must decode back to the same node before it is timed.
  if (JSON.stringify(decodeNode(format, path, bytes, model)) !== JSON.stringify(device)) {
    throw new Error(`${name}: round trip differs`);
  }
  sizes.set(name, bytes.length);
  summary(() => {
    mbench(`encode ${name}`, () => do_not_optimize(encodeNode(format, path, device, model)));
    mbench(`decode ${name}`, () => do_not_optimize(decodeNode(format, path, bytes, model)));
  });
}

const result = await run({ format: process.argv.includes('--json') ? 'quiet' : 'mitata' });

// Median and mean per operation: on a shared machine the median is the steadier figure.
const stats = new Map<string, { p50: number; avg: number }>();
for (const trial of result.benchmarks) {
  for (const r of trial.runs) if (r.stats) stats.set(r.name, { p50: r.stats.p50, avg: r.stats.avg });
}
const us = (x: number) => (x < 1000 ? `${x.toFixed(0)} ns` : `${(x / 1000).toFixed(2)} µs`);
const cell = (name: string) => {
  const s = stats.get(name)!;
  return `${us(s.p50)} (${us(s.avg)})`;
};
const lines = [
  '| format | payload bytes | encode /3/0, median (mean) | decode /3/0, median (mean) |',
  '|---|---|---|---|',
];
for (const [name] of formats) {
  lines.push(`| ${name} | ${sizes.get(name)} | ${cell(`encode ${name}`)} | ${cell(`decode ${name}`)} |`);
}
console.log(`\n${lines.join('\n')}`);
