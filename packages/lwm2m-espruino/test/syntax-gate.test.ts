/**
 * The syntax gate over the shipped files: what the Espruino interpreter lacks is rejected before run
 * time, and both profiles, as built, pass it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script of the package, without typings
import { checkEspruinoSyntax } from '../scripts/syntax-gate.mjs';
import { IN_CI, moduleFile } from './espruino.js';

const check = checkEspruinoSyntax as (code: string) => string[];

describe('syntax gate (the interpreter subset)', () => {
  it.each([
    ['var {a} = o;', 'destructuring'],
    ['var [a] = o;', 'destructuring'],
    ['f(...a);', 'spread/rest'],
    ['function f(...a) {}', 'spread/rest'],
    ['function f(a = 1) {}', 'default parameter'],
    ['async function f() {}', 'async function'],
    ['function* g() {}', 'generator'],
    ['a?.b;', 'optional chaining'],
    ['a ** 2;', 'exponent'],
    ['x: for (;;) break x;', 'labelled'],
    ['var o = { [k]: 1 };', 'computed key'],
    ['new Map();', 'Map'],
    ['new Set();', 'Set'],
    ['Symbol("x");', 'Symbol'],
    ['1n;', 'BigInt literal'],
    ['Number.isInteger(1);', 'Number.isInteger'],
    ['Math.trunc(1);', 'Math.trunc'],
    ['Array.from(a);', 'Array.from'],
    ['Uint8Array.of(1);', 'Uint8Array.of'],
    ['new TextEncoder();', 'TextEncoder'],
    ['p.finally(f);', '.finally'],
    ['Promise.race(a);', 'Promise.race'],
    ['class E2 extends Error {}', 'class extends Error'],
    ['/a{2}/.test(s);', 'quantifier'],
    ['/a/y;', 'flag y'],
    ['f(); function f() {}', 'used before its function declaration'],
    ['for (let i = 0; i < 3; i++) setTimeout(() => i);', 'closure inside for (let'],
  ])('rejects %s (%s)', (code, what) => {
    const problems = check(code);
    expect(problems.join('\n')).toContain(what);
  });

  it('accepts what the interpreter has: classes, arrows, let/const, template literals, for…of, ??', () => {
    expect(
      check(
        'class A { constructor(x) { this.x = x; } get y() { return this.x ?? 1; } }\n' +
          'const f = (a) => `${a}`; let s = 0; for (const v of [1, 2]) s += v;\n' +
          'function g() { return h(); } function h() { return 1; } g();',
      ),
    ).toEqual([]);
  });

  it.each(['core', 'full'] as const)('passes the shipped dist/lwm2m-%s.js', (profile) => {
    const file = moduleFile(profile);
    if (!existsSync(file)) {
      if (IN_CI) throw new Error(`${file} missing: npm run build`);
      console.warn(`SKIPPED: ${file} missing (npm run build)`);
      return;
    }
    expect(check(readFileSync(file, 'utf8'))).toEqual([]);
  });

  it('passes the example app (examples/espruino-device/device.js)', () => {
    const file = join(__dirname, '../../../examples/espruino-device/device.js');
    expect(check(readFileSync(file, 'utf8'))).toEqual([]);
  });
});
