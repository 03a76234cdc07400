import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', coap: 'src/coap.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2020',
  tsconfig: 'tsconfig.json',
});
