import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', coap: 'src/coap.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // one build per format whose entries share chunks: without splitting, tsup bundles every CJS entry on
  // its own and each gets its own copy of every class (instanceof fails across entries)
  splitting: true,
  target: 'es2020',
  tsconfig: 'tsconfig.json',
});
