/**
 * What the published tarballs hold and declare (issue 17, item 7): README, LICENSE and metadata in every
 * package, the sources once (dist/ with its maps, no src/), oscore without cbor-x (only its tests use it),
 * and the LwM2M server's heavy dependencies (fastify, better-sqlite3) optional peers, so a device that
 * installs @thimble/lwm2m compiles nothing. `npm pack --dry-run` lists the files without writing a tarball.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PUBLISHED = ['coap-core', 'oscore', 'dtls', 'lwm2m', 'coap-cli'];

interface Manifest {
  name: string;
  license?: string;
  keywords?: string[];
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
const manifest = (pkg: string): Manifest =>
  JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'));

describe('published packages: contents and metadata (issue 17, item 7)', { timeout: 120_000 }, () => {
  it.each(PUBLISHED)('@thimble/%s: README, LICENSE, metadata; no src/ in the tarball', (pkg) => {
    const m = manifest(pkg);
    expect(m.license).toBe('Apache-2.0');
    expect(m.keywords?.length).toBeGreaterThan(0);
    expect(m.engines?.node).toMatch(/^>=\d+/);
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: join(root, 'packages', pkg),
      encoding: 'utf8',
    });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('README.md');
    expect(files).toContain('LICENSE');
    expect(files).toContain('package.json');
    expect(files.filter((f) => f.startsWith('src/'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('test/'))).toEqual([]);
  });

  it('engines are true to the dependencies: no runtime dependency needs a newer Node than its package declares', () => {
    const minimum = (range: string | undefined): number => {
      const m = /^>=\s*(\d+)(?:\.(\d+))?/.exec(range ?? '>=0');
      return m === null ? 0 : Number(m[1]) * 1000 + Number(m[2] ?? 0);
    };
    for (const pkg of ['coap-core', 'oscore', 'lwm2m', 'coap-cli', 'dtls']) {
      const m = manifest(pkg);
      expect(m.engines?.node, pkg).toBe('>=20.19');
      for (const dep of Object.keys(m.dependencies ?? {})) {
        const needs = JSON.parse(readFileSync(join(root, 'node_modules', dep, 'package.json'), 'utf8'))
          .engines?.node as string | undefined;
        expect(minimum(needs), `${pkg} -> ${dep} (${needs})`).toBeLessThanOrEqual(minimum(m.engines?.node));
      }
    }
    // node-dtls-client (Node >= 22) is a test peer only, no longer a runtime dependency of coap-core
    expect(manifest('coap-core').dependencies?.['node-dtls-client']).toBeUndefined();
  });

  it('oscore does not depend on cbor-x; lwm2m has fastify, @fastify/swagger and better-sqlite3 as optional peers', () => {
    expect(manifest('oscore').dependencies?.['cbor-x']).toBeUndefined();
    const lwm2m = manifest('lwm2m');
    for (const heavy of ['fastify', '@fastify/swagger', 'better-sqlite3']) {
      expect(lwm2m.dependencies?.[heavy]).toBeUndefined();
      expect(lwm2m.peerDependencies?.[heavy]).toBeDefined();
      expect(lwm2m.peerDependenciesMeta?.[heavy]?.optional).toBe(true);
    }
  });

  it('the src/ of @thimble/lwm2m imports the optional peers only as types or through node/optional.ts', () => {
    const out = execFileSync(
      'git',
      ['grep', '-n', '-E', "from '(fastify|@fastify/swagger|better-sqlite3)'", '--', 'packages/lwm2m/src'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    const lines = out.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/import type /);
  });
});
