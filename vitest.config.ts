import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@thimble/coap-core': src('coap-core'),
    },
  },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'coap-core', include: ['packages/coap-core/test/**/*.test.ts'] },
      },
    ],
  },
});
