/**
 * The published builds (`dist/`, made by `npm run build`): every entry of every package loads under
 * CommonJS (`require`) and ESM (`import`), and the entries of one package share their classes in both
 * formats (docs/ARCHITECTURE.md, "Packages and their dependencies"). Before, tsup bundled each CJS entry
 * on its own: `require('@thimble/coap-core/node').createUdpEndpoint()` was no instance of the main
 * entry's `CoapEndpoint`, its errors failed `instanceof CoapRequestError`, and the REST API answered a
 * device timeout with 502 `request-failed` instead of 504.
 *
 * `npm test` builds before it runs vitest; without a build these tests skip with a message (with
 * `CI=true` a missing build fails them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const require = createRequire(import.meta.url);
const PUBLISHED = ['coap-core', 'oscore', 'dtls', 'lwm2m', 'coap-cli'];

interface ExportTarget {
  readonly import: { readonly default: string };
  readonly require: { readonly default: string };
}

function entriesOf(pkg: string): { subpath: string; esm: string; cjs: string }[] {
  const dir = join(root, 'packages', pkg);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports: Record<string, ExportTarget | string>;
  };
  return Object.entries(manifest.exports)
    .filter((e): e is [string, ExportTarget] => typeof e[1] !== 'string')
    .map(([subpath, t]) => ({
      subpath,
      esm: join(dir, t.import.default),
      cjs: join(dir, t.require.default),
    }));
}

const built = PUBLISHED.every((p) => entriesOf(p).every((e) => existsSync(e.esm) && existsSync(e.cjs)));
const ci = process.env.CI === 'true';
if (!built && !ci) {
  console.warn('dist-entries.test.ts: skipped, the packages are not built (run `npm run build`)');
}
const maybe = built || ci ? describe : describe.skip;

type Module = Record<string, unknown>;
type Loader = (file: string) => Promise<Module>;
const loaders: [string, Loader][] = [
  ['CommonJS', async (file) => require(file) as Module],
  ['ESM', async (file) => (await import(pathToFileURL(file).href)) as Module],
];
const pick = (e: { esm: string; cjs: string }, format: string) => (format === 'ESM' ? e.esm : e.cjs);

maybe('published builds: one set of classes per package under CommonJS and ESM', { timeout: 90_000 }, () => {
  for (const pkg of PUBLISHED) {
    it.each(loaders)(`every entry of @thimble/${pkg} loads under %s`, async (_format, load) => {
      for (const e of entriesOf(pkg)) {
        const mod = await load(pick(e, _format));
        expect(Object.keys(mod).length, `${pkg} ${e.subpath}`).toBeGreaterThan(0);
      }
    });
  }

  // in a plain Node process: vitest's aliases would resolve `@thimble/*` inside the builds to src/
  it.each([
    ['CommonJS', 'cjs'],
    ['ESM', 'esm'],
  ])(
    '%s: the node entries build instances of the main entries classes; the REST API maps errors (404, 504)',
    (_format, arg) => {
      const run = spawnSync(process.execPath, [join(here, 'fixtures', 'dist-check.mjs'), arg], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({
        endpointInstance: true,
        requestError: true,
        requestReason: 'timeout',
        unknown: { status: 404, error: 'unknown-endpoint' },
        silent: { status: 504, error: 'timeout' },
      });
    },
  );
});
