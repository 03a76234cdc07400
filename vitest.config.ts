import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = ['coap-core', 'oscore', 'lwm2m', 'coap-cli', 'test-support', 'dtls'];
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources of sibling packages, no build needed.
    alias: [
      { find: '@thimble/coap-core/node', replacement: here('./packages/coap-core/src/node.ts') },
      { find: '@thimble/oscore/node', replacement: here('./packages/oscore/src/node.ts') },
      { find: '@thimble/lwm2m/node', replacement: here('./packages/lwm2m/src/node/index.ts') },
      { find: '@thimble/test-support/peers', replacement: here('./packages/test-support/src/peers.ts') },
      { find: '@thimble/test-support/leshan', replacement: here('./packages/test-support/src/leshan.ts') },
      { find: '@thimble/dtls/node', replacement: here('./packages/dtls/src/node.ts') },
      ...packages.map((p) => ({ find: `@thimble/${p}`, replacement: here(`./packages/${p}/src/index.ts`) })),
    ],
  },
  test: {
    projects: packages
      .filter((p) => existsSync(here(`./packages/${p}/test`)))
      .map((p) => ({
        extends: true,
        test: { name: p, include: [`packages/${p}/test/**/*.test.ts`] },
      })),
  },
});
