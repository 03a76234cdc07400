/**
 * The folder dependency rules of `@thimble/lwm2m` (docs/ARCHITECTURE.md, "lwm2m"): each folder imports only
 * the folders below it, nothing imports upward or in a circle, and the package has no import cycles at
 * all. Checked on the sources, so a new import that breaks a rule fails here with the file that has it.
 */
import { describe, expect, it } from 'vitest';
import { cycles, folderOf, importGraph } from './imports.js';

/** Top folders and what each may import besides itself. */
const TOP: { readonly [folder: string]: readonly string[] } = {
  util: [],
  model: ['util'],
  content: ['model', 'util'],
  bootstrap: ['content', 'model', 'util'],
  client: ['bootstrap', 'content', 'model', 'util'],
  server: ['bootstrap', 'content', 'model', 'util'],
  fleet: ['client', 'content', 'model', 'util'],
  node: ['fleet', 'client', 'server', 'bootstrap', 'content', 'model', 'util'],
  cli: ['node', 'fleet', 'client', 'server', 'bootstrap', 'content', 'model', 'util'],
  // the public entry points (index.ts) re-export everything portable
  '.': ['fleet', 'client', 'server', 'bootstrap', 'content', 'model', 'util'],
};

/**
 * Inside server/: layers, lowest first; a part imports only parts of lower layers (and itself). The façade
 * `server.ts` wires the services; `firmware/` and `bootstrap/` use the server's public API only.
 */
const SERVER_LAYERS: readonly (readonly string[])[] = [
  ['errors.ts'],
  ['streams.ts', 'security'],
  ['registration'],
  ['types.ts', 'formats.ts'],
  ['requests'],
  ['observation'],
  ['send.ts'],
  ['server.ts'],
  ['firmware', 'bootstrap'],
  ['index.ts'],
];

/** `server/requests/sender.ts` → `requests`; `server/server.ts` → `server.ts`. */
const serverPart = (file: string): string => file.split('/')[1]!;
const layerOf = (part: string): number => SERVER_LAYERS.findIndex((l) => l.includes(part));

describe('lwm2m folder dependency rules (docs/ARCHITECTURE.md)', () => {
  const graph = importGraph();

  it('every top folder is known (a new folder gets its rule first)', () => {
    const unknown = [...graph.keys()].map(folderOf).filter((f) => TOP[f] === undefined);
    expect([...new Set(unknown)]).toEqual([]);
  });

  it('no folder imports upward or sideways (client and server do not import each other)', () => {
    const violations: string[] = [];
    for (const [file, targets] of graph)
      for (const target of targets) {
        const from = folderOf(file);
        const to = folderOf(target);
        if (from !== to && !(TOP[from] ?? []).includes(to)) violations.push(`${file} -> ${target}`);
      }
    expect(violations).toEqual([]);
  });

  it('inside server/, each service imports only lower layers (the façade server.ts is imported by none of them)', () => {
    const violations: string[] = [];
    for (const [file, targets] of graph) {
      if (!file.startsWith('server/')) continue;
      const from = serverPart(file);
      expect(layerOf(from), `${file} has no layer`).toBeGreaterThanOrEqual(0);
      for (const target of targets) {
        if (!target.startsWith('server/')) continue;
        const to = serverPart(target);
        if (from !== to && layerOf(to) >= layerOf(from)) violations.push(`${file} -> ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the package has no import cycles (the cli files included)', () => {
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('the checker finds a cycle and an upward import when there is one', () => {
    const bad = new Map<string, string[]>([
      ['cli/main.ts', ['cli/server.ts']],
      ['cli/server.ts', ['cli/main.ts']],
      ['server/x.ts', ['client/y.ts']],
    ]);
    expect(cycles(bad)).toHaveLength(1);
    expect(TOP.server).not.toContain(folderOf('client/y.ts'));
  });
});
