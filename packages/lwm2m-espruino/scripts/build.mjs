/**
 * Builds the two profiles from src/lwm2m.js: `dist/lwm2m-full.js` keeps the blocks between the FULL
 * markers, `dist/lwm2m-core.js` drops them; both minified by esbuild (syntax left as written: ES2019, no
 * lowering, no new syntax) and checked by the syntax gate before they are written. The readable,
 * unminified profiles go to `dist/lwm2m-core.debug.js` and `dist/lwm2m-full.debug.js`.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { checkEspruinoSyntax } from './syntax-gate.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = readFileSync(join(root, 'src/lwm2m.js'), 'utf8');
const FULL = /\/\*FULL\*\/[\s\S]*?\/\*END\*\//g;

/** The source of one profile: core without the FULL blocks, full without only their markers. */
export function profileSource(profile) {
  return profile === 'core' ? source.replace(FULL, '') : source.replace(/\/\*(FULL|END)\*\//g, '');
}

mkdirSync(join(root, 'dist'), { recursive: true });
for (const profile of ['core', 'full']) {
  const text = profileSource(profile);
  const min = transformSync(text, {
    minify: true,
    format: 'cjs',
    target: 'es2019',
    legalComments: 'none',
    charset: 'ascii',
  }).code;
  for (const [name, code] of [
    [`lwm2m-${profile}.debug.js`, text],
    [`lwm2m-${profile}.js`, min],
  ]) {
    const problems = checkEspruinoSyntax(code);
    if (problems.length > 0) {
      console.error(`${name}: not in the Espruino subset:\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    writeFileSync(join(root, 'dist', name), code);
  }
  copyFileSync(join(root, 'src/lwm2m.d.ts'), join(root, 'dist', `lwm2m-${profile}.d.ts`));
  console.log(`dist/lwm2m-${profile}.js: ${Buffer.byteLength(min)} bytes minified`);
}
