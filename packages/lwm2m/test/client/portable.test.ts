import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

describe('the client is portable (docs/ARCHITECTURE.md, "Portable core": Espruino-class boards)', () => {
  // every file of client/ and its folders (objects/, registration/, operations/, ...), and of what the
  // client shares with the rest of the package (util/: Emitter, Sha256; bootstrap/)
  const files = ['client', 'util', 'bootstrap'].flatMap((d) =>
    readdirSync(`${src}${d}`, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `${d}/${f}`),
  );
  it.each(files)('src/%s uses no Buffer, node:, process, Map or Set, and no Node adapter', (file) => {
    const text = readFileSync(`${src}${file}`, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
    expect(text).not.toMatch(/\bBuffer\b/);
    expect(text).not.toMatch(/from ['"]node:/);
    expect(text).not.toMatch(/\bprocess\./);
    expect(text).not.toMatch(/\bnew (Weak)?(Map|Set)\b/);
    expect(text).not.toMatch(/coap-core\/node|from ['"](\.\.\/)+(cli|node)\//);
    // time comes from the injected Clock only
    expect(text).not.toMatch(/(?<![.\w])(setTimeout|setInterval)\(|Date\.now\(/);
  });
});
