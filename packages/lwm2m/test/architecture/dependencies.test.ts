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

/**
 * Inside client/: the façade `client.ts` implements `ClientContext` (context.ts) and wires the parts;
 * `firmware/` is a plug-in on the façade's public API.
 */
const CLIENT_LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'types.ts'],
  ['objects'],
  ['state'],
  ['registration'],
  ['bootstrap'],
  ['context.ts'],
  ['observe'],
  ['operations'],
  ['send.ts'],
  ['client.ts'],
  ['firmware'],
  ['index.ts'],
];

/** `server/requests/sender.ts` → `requests`; `server/server.ts` → `server.ts`. */
const partOf = (file: string): string => file.split('/')[1]!;

/** Imports inside `folder/` from a part to a part of the same or a higher layer. */
function layerViolations(
  graph: Map<string, string[]>,
  folder: string,
  layers: readonly (readonly string[])[],
): string[] {
  const layerOf = (part: string): number => layers.findIndex((l) => l.includes(part));
  const violations: string[] = [];
  for (const [file, targets] of graph) {
    if (!file.startsWith(`${folder}/`)) continue;
    const from = partOf(file);
    if (layerOf(from) < 0) violations.push(`${file} has no layer`);
    for (const target of targets) {
      if (!target.startsWith(`${folder}/`)) continue;
      const to = partOf(target);
      if (from !== to && layerOf(to) >= layerOf(from)) violations.push(`${file} -> ${target}`);
    }
  }
  return violations;
}

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
    expect(layerViolations(graph, 'server', SERVER_LAYERS)).toEqual([]);
  });

  it('inside client/, each part imports only lower layers (parts reach the client through ClientContext)', () => {
    expect(layerViolations(graph, 'client', CLIENT_LAYERS)).toEqual([]);
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
