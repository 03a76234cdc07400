/**
 * The syntax gate: parses a script with acorn and lists what the Espruino interpreter lacks (the
 * interpreter's documented subset): destructuring, spread/rest, default parameters, async/await,
 * generators, optional chaining, `**`, labelled statements, computed keys, getters in object literals
 * aside, the missing globals (Map, Set, WeakMap, Symbol, BigInt, Proxy, TextEncoder, TextDecoder,
 * queueMicrotask, AbortSignal) and static methods (Number.isInteger/isFinite, Math.imul/trunc,
 * Array.from/of, typed-array from/of, Promise.race), `.finally`, `class … extends Error`, regular
 * expressions with {n} quantifiers, the y flag or a bare `/` in a character class, `for (let …)` loops
 * whose body makes closures, and calls to a function declared later in the same scope (no hoisting).
 * Returns one line per problem, with its position; an empty list when the script is in the subset.
 */
import { parse } from 'acorn';

const MISSING_GLOBALS = new Set([
  'Map',
  'Set',
  'WeakMap',
  'Symbol',
  'BigInt',
  'Proxy',
  'TextEncoder',
  'TextDecoder',
  'queueMicrotask',
  'AbortSignal',
]);
const MISSING_STATICS = {
  Number: ['isInteger', 'isFinite'],
  Math: ['imul', 'trunc'],
  Array: ['from', 'of'],
  Uint8Array: ['from', 'of'],
  Int8Array: ['from', 'of'],
  Uint16Array: ['from', 'of'],
  Int32Array: ['from', 'of'],
  Float32Array: ['from', 'of'],
  Float64Array: ['from', 'of'],
  Promise: ['race'],
};

function isNode(v) {
  return v !== null && typeof v === 'object' && typeof v.type === 'string';
}

function children(node) {
  const out = [];
  for (const key of Object.keys(node)) {
    const v = node[key];
    if (Array.isArray(v)) for (const x of v) if (isNode(x)) out.push(x);
    if (isNode(v)) out.push(v);
  }
  return out;
}

function containsFunction(node) {
  if (/Function/.test(node.type) || node.type === 'ClassExpression') return true;
  return children(node).some(containsFunction);
}

export function checkEspruinoSyntax(code) {
  const problems = [];
  let ast;
  try {
    ast = parse(code, {
      ecmaVersion: 2022,
      sourceType: 'script',
      locations: true,
      allowReturnOutsideFunction: true,
    });
  } catch (e) {
    return [`does not parse: ${e.message}`];
  }
  const at = (n) => `${n.loc.start.line}:${n.loc.start.column}`;
  const bad = (n, what) => problems.push(`${at(n)} ${what}`);

  function scopeCheck(body) {
    // no hoisting: a function declaration must come before any use in the statements of its own scope
    const declared = new Map();
    for (const st of body) if (st.type === 'FunctionDeclaration') declared.set(st.id.name, st.start);
    if (declared.size === 0) return;
    const visit = (n, nested, parent) => {
      const isName =
        parent !== null &&
        ((parent.type === 'MemberExpression' && parent.property === n && !parent.computed) ||
          (parent.type === 'Property' && parent.key === n && !parent.computed));
      if (
        n.type === 'Identifier' &&
        !isName &&
        declared.has(n.name) &&
        !nested &&
        n.start < declared.get(n.name)
      )
        bad(n, `${n.name} used before its function declaration (Espruino does not hoist functions)`);
      for (const c of children(n)) visit(c, nested || /Function/.test(c.type), n);
    };
    for (const st of body) if (st.type !== 'FunctionDeclaration') visit(st, false, null);
  }

  function walk(n, parent) {
    switch (n.type) {
      case 'ObjectPattern':
      case 'ArrayPattern':
        bad(n, 'destructuring');
        break;
      case 'SpreadElement':
      case 'RestElement':
        bad(n, 'spread/rest');
        break;
      case 'AssignmentPattern':
        bad(n, 'default parameter');
        break;
      case 'ChainExpression':
        bad(n, 'optional chaining ?.');
        break;
      case 'AwaitExpression':
        bad(n, 'await');
        break;
      case 'YieldExpression':
        bad(n, 'yield');
        break;
      case 'LabeledStatement':
        bad(n, 'labelled statement');
        break;
      case 'ImportExpression':
      case 'ImportDeclaration':
      case 'ExportNamedDeclaration':
      case 'ExportDefaultDeclaration':
        bad(n, 'ES modules');
        break;
      case 'BinaryExpression':
      case 'AssignmentExpression':
        if (n.operator === '**' || n.operator === '**=') bad(n, 'exponent operator **');
        if (n.operator === '??=' || n.operator === '||=' || n.operator === '&&=')
          bad(n, `logical assignment ${n.operator}`);
        break;
      case 'Property':
      case 'MethodDefinition':
      case 'PropertyDefinition':
        if (n.computed) bad(n, 'computed key');
        break;
      case 'Literal':
        if (n.bigint !== undefined) bad(n, 'BigInt literal');
        if (n.regex) {
          if (n.regex.flags.includes('y')) bad(n, 'regex flag y');
          if (/(^|[^\\])\{\d+(,\d*)?\}/.test(n.regex.pattern)) bad(n, 'regex {n,m} quantifier');
          if (/\[[^\]]*(^|[^\\])\/[^\]]*\]/.test(n.regex.pattern)) bad(n, 'unescaped / in a regex class');
        }
        break;
      case 'Identifier':
        if (
          MISSING_GLOBALS.has(n.name) &&
          !(parent && parent.type === 'MemberExpression' && parent.property === n && !parent.computed) &&
          !(parent && parent.type === 'Property' && parent.key === n)
        )
          bad(n, `${n.name} (missing global)`);
        break;
      case 'MemberExpression':
        if (
          !n.computed &&
          n.object.type === 'Identifier' &&
          MISSING_STATICS[n.object.name]?.includes(n.property.name)
        )
          bad(n, `${n.object.name}.${n.property.name} (missing)`);
        if (!n.computed && n.property.name === 'finally') bad(n, '.finally');
        break;
      case 'ClassDeclaration':
      case 'ClassExpression':
        if (n.superClass && n.superClass.type === 'Identifier' && /Error$/.test(n.superClass.name))
          bad(n, `class extends ${n.superClass.name}`);
        break;
      case 'ForStatement':
        if (
          n.init &&
          n.init.type === 'VariableDeclaration' &&
          n.init.kind !== 'var' &&
          containsFunction(n.body)
        )
          bad(n, 'closure inside for (let …): every closure sees the last value');
        break;
      case 'Program':
      case 'BlockStatement':
        scopeCheck(n.body);
        break;
      default:
        break;
    }
    if (/Function/.test(n.type) && (n.async || n.generator)) bad(n, n.async ? 'async function' : 'generator');
    for (const c of children(n)) walk(c, n);
  }
  walk(ast, null);
  return problems;
}
