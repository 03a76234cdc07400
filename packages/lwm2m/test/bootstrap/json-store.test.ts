import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonFileBootstrapConfigStore } from '../../src/node/index.js';
import { serverConfig } from './harness.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'thimble-bs-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('JsonFileBootstrapConfigStore', () => {
  it('round trip: what one store writes, the next one reads', () => {
    const file = join(tmp(), 'bootstrap.json');
    const a = new JsonFileBootstrapConfigStore(file);
    expect(a.list()).toEqual([]);
    a.set('dev1', serverConfig({ discover: true }));
    a.set('dev2', serverConfig({ toDelete: ['/'] }));
    expect(a.delete('dev2')).toBe(true);
    const data = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(data)).toEqual(['dev1']);
    expect(data.dev1.servers['0'].lifetime).toBe(120);
    const b = new JsonFileBootstrapConfigStore(file);
    expect(b.get('dev1')).toEqual(a.get('dev1'));
    expect(b.get('dev2')).toBeUndefined();
    // keys inside: readable by the owner only
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('writes atomically: a new file renamed over the old one, no temporary file left', () => {
    const dir = tmp();
    const file = join(dir, 'bs.json');
    const store = new JsonFileBootstrapConfigStore(file);
    store.set('a', serverConfig());
    const before = statSync(file).ino;
    store.set('b', serverConfig());
    expect(statSync(file).ino).not.toBe(before);
    expect(readdirSync(dir)).toEqual(['bs.json']);
  });

  it('an inconsistent configuration is refused and the file stays as it was', () => {
    const file = join(tmp(), 'bs.json');
    const store = new JsonFileBootstrapConfigStore(file);
    store.set('a', serverConfig());
    const text = readFileSync(file, 'utf8');
    expect(() => store.set('a', { security: {}, servers: { 0: { shortServerId: 1, lifetime: 5 } } })).toThrow(
      /no security instance/,
    );
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(store.get('a')!.servers['0']!.lifetime).toBe(120);
  });

  it('a file that is not JSON, or holds a bad configuration, is refused at load with its name', () => {
    const dir = tmp();
    const file = join(dir, 'bs.json');
    writeFileSync(file, '{ nope');
    expect(() => new JsonFileBootstrapConfigStore(file)).toThrow(/bs\.json: not JSON/);
    writeFileSync(
      file,
      JSON.stringify({ dev9: { security: {}, servers: { 0: { shortServerId: 1, lifetime: 5 } } } }),
    );
    expect(() => new JsonFileBootstrapConfigStore(file)).toThrow(/endpoint "dev9": .*no security instance/);
    writeFileSync(file, '[]');
    expect(() => new JsonFileBootstrapConfigStore(file)).toThrow(/object keyed by endpoint/);
  });

  it('when the file cannot be written, set fails and memory keeps the old configuration', () => {
    const dir = tmp();
    const store = new JsonFileBootstrapConfigStore(join(dir, 'missing-folder', 'bs.json'));
    expect(() => store.set('a', serverConfig())).toThrow(/ENOENT/);
    expect(store.get('a')).toBeUndefined();
  });
});
