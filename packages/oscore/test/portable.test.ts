import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));

describe('portable core (docs/ARCHITECTURE.md, "House rules")', () => {
  const portable = readdirSync(src).filter((f) => f.endsWith('.ts') && f !== 'node.ts');
  it.each(portable)('src/%s uses no Buffer and no node: imports', (file) => {
    const text = readFileSync(`${src}${file}`, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
    expect(text).not.toMatch(/\bBuffer\b/);
    expect(text).not.toMatch(/from ['"]node:/);
    expect(text).not.toMatch(/from ['"]\.\/node\//);
  });

  it('index.ts has named re-exports only', () => {
    const text = readFileSync(`${src}index.ts`, 'utf8');
    expect(text).not.toMatch(/export \*/);
    expect(text).not.toMatch(/export default/);
  });
});
