/**
 * The repository's dependency rules as a check the tests can run: dependency-cruiser over the packages'
 * sources with the rules of `.dependency-cruiser.mjs` (docs/ARCHITECTURE.md, "Dependency rules"), and a scan
 * for references to design notes that are not in the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** One broken rule: an import `from` → `to`, or a cycle through `cycle` (module paths, root-relative). */
export interface DependencyViolation {
  readonly rule: string;
  readonly from: string;
  readonly to: string;
  /** For 'no-circular': the modules of the cycle, starting after `from`. */
  readonly cycle?: readonly string[];
}

export interface DependencyCheckOptions {
  /** The folder the rules' paths are relative to (default: the repository root). */
  readonly baseDir?: string;
  /** What to cruise, relative to `baseDir` (default: every package's src/). */
  readonly targets?: readonly string[];
  /** The rules (default: the repository's `.dependency-cruiser.mjs`). */
  readonly configFile?: string;
  /** The tsconfig whose `paths` resolve `@thimble/*` (default: the repository's tsconfig.json). */
  readonly tsConfigFile?: string;
}

/** The `src/` folders of the packages under `<baseDir>/packages`, relative to `baseDir`. */
export function packageSources(baseDir: string = REPO_ROOT): string[] {
  return readdirSync(join(baseDir, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `packages/${d.name}/src`)
    .filter((p) => {
      try {
        return readdirSync(join(baseDir, p)).length > 0;
      } catch {
        return false;
      }
    })
    .sort();
}

/** Runs dependency-cruiser with the repository's rules; returns every violation, sorted. */
export async function findDependencyViolations(
  options: DependencyCheckOptions = {},
): Promise<DependencyViolation[]> {
  const baseDir = resolve(options.baseDir ?? REPO_ROOT);
  const configFile = options.configFile ?? join(REPO_ROOT, '.dependency-cruiser.mjs');
  const tsConfigFile = resolve(options.tsConfigFile ?? join(REPO_ROOT, 'tsconfig.json'));
  const cruiseOptions = await extractDepcruiseOptions(configFile);
  const result = await cruise(
    [...(options.targets ?? packageSources(baseDir))],
    { ...cruiseOptions, baseDir, tsConfig: { fileName: tsConfigFile }, validate: true },
    undefined,
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  if (typeof result.output === 'string')
    throw new Error('dependency-cruiser returned a report, not a result');
  return result.output.summary.violations
    .map((v) => ({
      rule: v.rule.name,
      from: v.from,
      to: v.to,
      ...(v.cycle === undefined ? {} : { cycle: v.cycle.map((c) => c.name) }),
    }))
    .sort((a, b) => key(a).localeCompare(key(b)));
}

function key(v: DependencyViolation): string {
  return `${v.rule} ${v.from} ${v.to}`;
}

/** A violation as one line: `rule: from → to` (and the cycle for cycles). */
export function formatViolation(v: DependencyViolation): string {
  return v.cycle === undefined
    ? `${v.rule}: ${v.from} → ${v.to}`
    : `${v.rule}: ${[v.from, ...v.cycle].join(' → ')}`;
}

const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', '.turbo', 'coverage', 'target']);

/**
 * Files under `folders` (relative to `root`) whose text contains `needle`, as root-relative paths. Skips
 * node_modules, dist and other build output; reads text files only (by extension).
 */
export function filesMentioning(
  needle: string,
  folders: readonly string[],
  root: string = REPO_ROOT,
): string[] {
  const found: string[] = [];
  const visit = (dir: string): void => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(e.name)) visit(path);
      } else if (e.isFile() && /\.(ts|mts|cts|js|mjs|cjs|md|json|java|py|xml|sh)$/.test(e.name)) {
        if (readFileSync(path, 'utf8').includes(needle)) found.push(relative(root, path));
      }
    }
  };
  for (const f of folders) visit(join(root, f));
  return found.sort();
}
