/** `npm run fuzz:dtls [iterations] [seed]`: the big fuzz run (default 200,000 inputs). */
import { runFuzz } from './fuzz.js';

const iterations = Number(process.argv[2] ?? 200_000);
const seed = Number(process.argv[3] ?? Date.now() % 100_000);
const started = Date.now();
const report = runFuzz(iterations, seed);
console.log(JSON.stringify({ seed, ...report, ms: Date.now() - started }, null, 2));
