import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../../src/client/', import.meta.url));

describe('the client is portable (docs/ARCHITECTURE.md, "Portable core": Espruino-class boards)', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  it.each(files)('src/client/%s uses no Buffer, node:, process, Map or Set, and no Node adapter', (file) => {
    const text = readFileSync(`${dir}${file}`, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
    expect(text).not.toMatch(/\bBuffer\b/);
    expect(text).not.toMatch(/from ['"]node:/);
    expect(text).not.toMatch(/\bprocess\./);
    expect(text).not.toMatch(/\bnew (Weak)?(Map|Set)\b/);
    expect(text).not.toMatch(/coap-core\/node|from ['"]\.\.\/(cli|node)\//);
    // time comes from the injected Clock only
    expect(text).not.toMatch(/(?<![.\w])(setTimeout|setInterval)\(|Date\.now\(/);
  });
});
