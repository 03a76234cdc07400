/** The version `coap --version` prints: the package's (test/cli.test.ts checks it against package.json). */
export const VERSION = '0.1.0';
