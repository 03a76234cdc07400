#!/usr/bin/env node
// The `lwm2m` command's launcher, committed so that npm links the bin even before the first build. It runs
// the build output (dist/cli/lwm2m.js, made by `npm run build` from src/cli/lwm2m.ts); in a clone that is not built
// yet (right after `npm ci`, or with THIMBLE_FROM_SOURCE=1) it runs the TypeScript sources through tsx, a
// development dependency of the repository. The published package has dist/ and no src/.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/lwm2m.js', import.meta.url);
const source = new URL('../src/cli/lwm2m.ts', import.meta.url);
const fromSource = process.env.THIMBLE_FROM_SOURCE === '1' || !existsSync(built);

if (!fromSource) {
  await import(built.href);
} else if (!existsSync(source)) {
  process.stderr.write('lwm2m: the package is incomplete (no dist/cli/lwm2m.js): reinstall @thimble/lwm2m\n');
  process.exitCode = 70;
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('lwm2m: @thimble/lwm2m is not built yet: run `npm run build`\n');
    process.exitCode = 70;
  }
  if (register !== undefined) {
    // the repository's tsconfig.json maps @thimble/* to the sources of the sibling packages
    register({ tsconfig: new URL('../../../tsconfig.json', import.meta.url).pathname });
    await import(source.href);
  }
}
