import { cpSync, existsSync, rmSync } from 'node:fs';
import { defineConfig } from 'tsup';

// The web console (packages/lwm2m-console, built first: it is a devDependency, so turbo orders it) ships
// inside this package as dist/console, which `lwm2m server` serves at /.
const consoleBuild = '../lwm2m-console/dist';

export default defineConfig({
  entry: { index: 'src/index.ts', 'node/index': 'src/node/index.ts', 'cli/lwm2m': 'src/cli/lwm2m.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // one build per format whose entries share chunks: without splitting, tsup bundles every CJS entry on
  // its own and each gets its own copy of every class (instanceof fails across entries)
  splitting: true,
  // import.meta.url in the CommonJS build (node/optional.ts requires the optional server dependencies)
  shims: true,
  target: 'es2020',
  tsconfig: 'tsconfig.json',
  onSuccess: async () => {
    if (!existsSync(`${consoleBuild}/index.html`))
      throw new Error('the web console is not built: run npm run build in packages/lwm2m-console first');
    rmSync('dist/console', { recursive: true, force: true });
    cpSync(consoleBuild, 'dist/console', { recursive: true });
  },
});
