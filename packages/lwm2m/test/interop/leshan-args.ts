/**
 * The command line of Leshan's server demo 2.0.0-M4 (`java ...`), shared by the interop tests
 * (leshan.ts) and the registration benchmark (bench/registration.ts): CoAP, CoAPS and the web UI / REST API
 * on 127.0.0.1. No test framework here, so the benchmark can import it.
 */
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
