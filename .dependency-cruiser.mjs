/**
 * Dependency rules of the repository (docs/ARCHITECTURE.md, "Dependency rules"). Checked by
 * packages/test-support/test/architecture.test.ts inside `npm test`; by hand:
 *
 *   npm run deps    (depcruise packages/*\/src --config .dependency-cruiser.mjs)
 *
 * Paths are relative to the repository root. Imports of `@thimble/*` resolve through the root
 * tsconfig.json `paths` to each package's src/, so a package import is seen as a file under packages/X/.
 */

/** Which packages each package may import (besides itself): the package layers, bottom up. */
const allowedPackages = {
  'coap-core': ['dtls'],
  oscore: ['coap-core'],
  lwm2m: ['coap-core', 'oscore'],
  'coap-cli': ['coap-core', 'oscore'],
  dtls: [],
  'lwm2m-console': [],
  'lwm2m-espruino': [],
};

/**
 * coap-core's folders above the codec: the message layer, the exchange layers and the endpoint (with the
 * folders the endpoint renovation splits it into), the CLI.
 */
const ABOVE_THE_CODEC = '(messaging|endpoint|stack|security|server|client|observe|blockwise|cli)';

/** The folders of packages/<pkg>/src/ that a folder must not import, one rule each. */
const folderRules = [
  {
    name: 'coap-core-dtls-only-in-the-node-adapter',
    comment:
      'coap-core: only the DTLS Node adapter (transport/dtls.ts) imports @thimble/dtls; the portable core stays free of it.',
    from: '^packages/coap-core/src/',
    fromNot: '^packages/coap-core/src/transport/dtls[.]ts$',
    to: '^packages/dtls/',
  },
  {
    name: 'coap-core-message-is-a-base',
    comment:
      'coap-core: message/ (the codec) imports none of the layers above it (message layer, exchange layers, ' +
      'endpoint, CLI); util/, transport types and the error base are below it.',
    from: '^packages/coap-core/src/message/',
    to: `^packages/coap-core/src/${ABOVE_THE_CODEC}/`,
  },
  {
    name: 'coap-core-util-is-the-bottom',
    comment: 'coap-core: util/ imports nothing else of the package.',
    from: '^packages/coap-core/src/util/',
    to: '^packages/coap-core/src/',
    toNot: '^packages/coap-core/src/util/',
  },
  {
    name: 'coap-core-transport-below-endpoint',
    comment: 'coap-core: transport/ never imports the endpoint, nor any layer above the codec.',
    from: '^packages/coap-core/src/transport/',
    to: `^packages/coap-core/src/${ABOVE_THE_CODEC}/`,
  },
  {
    name: 'lwm2m-model-is-the-bottom',
    comment: 'lwm2m: model/ imports none of content/, client/, server/, cli/, node/, fleet/.',
    from: '^packages/lwm2m/src/model/',
    to: '^packages/lwm2m/src/(content|client|server|cli|node|fleet)/',
  },
  {
    name: 'lwm2m-content-below-client-and-server',
    comment: 'lwm2m: content/ (the content-format codecs) imports model/ only, never client/ or server/.',
    from: '^packages/lwm2m/src/content/',
    to: '^packages/lwm2m/src/(client|server|cli|node|fleet)/',
  },
  {
    name: 'lwm2m-client-not-server',
    comment: 'lwm2m: the client never imports the server.',
    from: '^packages/lwm2m/src/client/',
    to: '^packages/lwm2m/src/server/',
  },
  {
    name: 'lwm2m-server-not-client',
    comment: 'lwm2m: the server never imports the client.',
    from: '^packages/lwm2m/src/server/',
    to: '^packages/lwm2m/src/client/',
  },
  {
    name: 'lwm2m-node-not-cli',
    comment: 'lwm2m: the Node adapters (node/) never import the command line (cli/).',
    from: '^packages/lwm2m/src/node/',
    to: '^packages/lwm2m/src/cli/',
  },
  {
    name: 'lwm2m-cli-is-the-top',
    comment: 'lwm2m: nothing but cli/ imports cli/.',
    from: '^packages/lwm2m/src/',
    fromNot: '^packages/lwm2m/src/cli/',
    to: '^packages/lwm2m/src/cli/',
  },
];

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only imports included: every module sits in one layer.',
      from: { path: '^packages/[^/]+/src/' },
      to: { circular: true },
    },
    ...Object.entries(allowedPackages).map(([pkg, allowed]) => ({
      name: `package-${pkg}`,
      severity: 'error',
      comment: `@thimble/${pkg} imports ${allowed.length === 0 ? 'no other package' : allowed.map((p) => `@thimble/${p}`).join(' and ')}.`,
      from: { path: `^packages/${pkg}/src/` },
      to: { path: '^packages/', pathNot: `^packages/(${[pkg, ...allowed].join('|')})/` },
    })),
    {
      name: 'src-not-tests',
      severity: 'error',
      comment: "A package's code imports no test code: no test/ folder, no @thimble/test-support.",
      from: { path: '^packages/[^/]+/src/', pathNot: '^packages/test-support/' },
      to: { path: '^packages/(test-support/|[^/]+/test/)' },
    },
    ...folderRules.map((r) => ({
      name: r.name,
      severity: 'error',
      comment: r.comment,
      from: r.fromNot === undefined ? { path: r.from } : { path: r.from, pathNot: r.fromNot },
      to: r.toNot === undefined ? { path: r.to } : { path: r.to, pathNot: r.toNot },
    })),
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['node_modules', '/dist/'] },
    // type-only imports count: a cycle through types is still a cycle between modules
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
