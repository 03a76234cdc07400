/**
 * Where the web console's built files are: `dist/console` next to the bundled CLI (`dist/cli/lwm2m.js`),
 * or, when the CLI runs from its TypeScript sources, the console package's own build output.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function defaultConsoleDir(): string | undefined {
  try {
    for (const relative of ['../console/', '../../../lwm2m-console/dist/']) {
      const dir = fileURLToPath(new URL(relative, import.meta.url));
      if (existsSync(join(dir, 'index.html'))) return dir;
    }
  } catch {
    // no import.meta.url (the CommonJS build): no console unless --console names its folder
  }
  return undefined;
}
