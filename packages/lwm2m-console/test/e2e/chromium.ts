/**
 * The Chromium the end-to-end tests drive: Debian's `chromium` package (`.ci/run` installs it), through
 * playwright-core. With CI=true a missing browser fails the suite; elsewhere the suite is skipped with a
 * message naming it.
 */
import { existsSync } from 'node:fs';

export const IN_CI = process.env.CI === 'true';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The browser's path, or undefined (after a warning) when it is missing outside CI. */
export function chromiumPath(suite: string): string | undefined {
  const found = CANDIDATES.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
  if (found !== undefined) return found;
  const message = `${suite}: browser missing: chromium (install: apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (IN_CI) throw new Error(`${message}; CI=true requires it`);
  console.warn(`SKIPPED ${message}`);
  return undefined;
}

/** Flags for a browser run as root in a container, headless. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'];
