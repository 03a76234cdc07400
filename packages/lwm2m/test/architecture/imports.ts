/**
 * The relative imports between the source files of the package, read from the sources (type-only imports
 * included: they are dependencies of the design as much as of the build).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g;

/** Source file (relative to src, e.g. `server/server.ts`) → the source files it imports. */
export function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
      targets.push(relative(SRC, target));
    }
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

/** The import cycles (each as the list of files around it), found by depth-first search. */
export function cycles(
  graph: Map<string, string[]>,
  within: (file: string) => boolean = () => true,
): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (!within(t)) continue;
      const s = state.get(t);
      if (s === 'open') found.push(stack.slice(stack.indexOf(t)).concat(t));
      else if (s === undefined) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (within(f) && !state.has(f)) visit(f);
  return found;
}

/** The top folder of a source file (`server/registration/store.ts` → `server`; `index.ts` → `.`). */
export const folderOf = (file: string): string =>
  file.includes('/') ? file.slice(0, file.indexOf('/')) : '.';
