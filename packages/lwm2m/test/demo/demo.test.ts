/**
 * `npm run demo` (examples/demo/main.ts) with shortened durations: it must exit 0 and print its summary.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo/main.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the demo (npm run demo)', () => {
  it('reads the Device object, observes the temperature, updates the firmware and exits 0 with a summary', async () => {
    const r = await run(['--short']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('Device object (/3/0):');
    expect(r.stdout).toMatch(/Manufacturer\s+"Thimble"/);
    expect(r.stdout).toMatch(/°C \(notification 1\)/);
    expect(r.stdout).toContain('downloading → downloaded → updating → succeeded');
    expect(r.stdout).toMatch(/Summary\n/);
    expect(r.stdout).toMatch(/firmware\s+0\.1\.0 -> 1\.0\.0/);
    expect(r.stdout).toMatch(/update result\s+1 \(success\)/);
    expect(r.stdout).toMatch(/campaign\s+1 succeeded, 0 failed/);
    expect(r.stdout.trimEnd().endsWith('DEMO OK')).toBe(true);
    // the progress bar goes to stderr, up to 100 %
    expect(r.stderr).toMatch(/firmware \[#+\] 100%/);
  }, 60_000);
});
