/**
 * Launching Eclipse Leshan's server demo 2.0.0-M4 (fetched by `.ci/run` into `.interop/leshan/`): where the
 * jar is, which Java runs, and its command line (CoAP, CoAPS and the web UI / REST API on 127.0.0.1). Shared
 * by the lwm2m interop tests and the registration benchmark (bench/registration.ts); no test framework
 * here, so the benchmark can import it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's `.interop/` folder, where `.ci/run` installs the interop peers. */
export const INTEROP_DIR = fileURLToPath(new URL('../../../.interop/', import.meta.url));

/** Where `.ci/run` puts the Leshan server demo jar (also its working directory). */
export const LESHAN_DIR = join(INTEROP_DIR, 'leshan/');

/** The demo server jar: `leshan-demo-server-*` (2.0.0-M5+) or `leshan-server-demo-*` (up to 2.0.0-M4). */
export function findLeshanJar(dir: string = LESHAN_DIR): string | undefined {
  if (!existsSync(dir)) return undefined;
  const jars = readdirSync(dir)
    .filter((f) => /^leshan-(demo-server|server-demo)-.*jar-with-dependencies\.jar$/.test(f))
    .sort();
  return jars.length === 0 ? undefined : join(dir, jars[jars.length - 1]!);
}

/** The major version of the `java` on PATH (`java -version`), or undefined without one. */
export function javaVersion(): number | undefined {
  try {
    const r = execFileSync('sh', ['-c', 'java -version 2>&1'], { encoding: 'utf8', timeout: 20_000 });
    const m = /version "(\d+)/.exec(r);
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** The demo server's command line (`java ...`). */
export function leshanServerDemoArgs(o: {
  readonly jar: string;
  readonly coapPort: number;
  readonly coapsPort: number;
  readonly webPort: number;
  /** JVM options before the reflective-access ones (heap size, collector). */
  readonly jvm: readonly string[];
}): string[] {
  return [
    ...o.jvm,
    // Leshan 2.0.0-M4's Gson needs reflective access on Java 17
    '--add-opens',
    'java.base/java.util=ALL-UNNAMED',
    '--add-opens',
    'java.base/java.lang=ALL-UNNAMED',
    '-jar',
    o.jar,
    '-lh',
    '127.0.0.1',
    '-lp',
    String(o.coapPort),
    '-slh',
    '127.0.0.1',
    '-slp',
    String(o.coapsPort),
    '-wh',
    '127.0.0.1',
    '-wp',
    String(o.webPort),
  ];
}
