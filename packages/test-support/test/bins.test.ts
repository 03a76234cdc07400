/**
 * The `coap` and `lwm2m` bins (issue 17, item 4): npm links a workspace's bins when `npm ci` installs it,
 * before anything is built, so each bin is a committed launcher (`bin/*.js`) and not a file of `dist/`. In
 * a clone that is not built yet the launcher runs the sources; `THIMBLE_FROM_SOURCE=1` forces that here,
 * so the test behaves as in a fresh clone whether or not `npm run build` ran before.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const tracked = spawnSync('git', ['ls-files', 'packages'], { cwd: root, encoding: 'utf8' }).stdout.split(
  '\n',
);

describe('the coap and lwm2m bins work before a build (issue 17, item 4)', { timeout: 90_000 }, () => {
  it.each([
    ['coap', 'coap-cli', 'coap get|post|put|delete'],
    ['lwm2m', 'lwm2m', 'lwm2m client --endpoint NAME'],
  ])('%s: the bin is a committed launcher that runs --help from the sources', (bin, pkg, usage) => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'));
    const target = manifest.bin[bin] as string;
    expect(target).toMatch(/^\.\/bin\//);
    const launcher = join(root, 'packages', pkg, target);
    expect(tracked).toContain(`packages/${pkg}/${target.slice(2)}`);
    expect(manifest.files).toContain('bin');
    // what `npm ci` linked (node_modules/.bin) is that launcher
    const linked = join(root, 'node_modules', '.bin', bin);
    if (existsSync(linked)) expect(realpathSync(linked)).toBe(realpathSync(launcher));

    // run from outside the repository, as `npx coap --help` in any folder of the clone would
    const run = spawnSync(process.execPath, [launcher, '--help'], {
      cwd: tmpdir(),
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, THIMBLE_FROM_SOURCE: '1' },
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(usage);
  });
});
