/**
 * The layout of ../shared/DESIGN.md as rules, checked by `npm run lint:arch` (part of `npm test`).
 * - operators/ is the pure core: it imports only operators/ and side-effect-free packages;
 * - sources/, sinks/, hardware/ are drivers: they import operators/ and their own folder, never
 *   each other, never pipelines/;
 * - config/ imports no project code (only zod); only pipelines/ wires everything together;
 * - no import cycles (type-only imports count: they still couple modules);
 * - no orphans in the product folders: a module nothing imports and that is no entry point is
 *   dead code.
 */
const PRODUCT = '^(operators|sources|sinks|hardware|pipelines|config)/';
/** Packages the pure core may use: computation only, no I/O, no clocks, no globals. */
const PURE_PACKAGES = ['rxjs', 'brain\\.js', 'tulind', 'jstat'];

module.exports = {
  forbidden: [
    {
      name: 'operators-pure',
      comment: 'operators/ is the pure core: it may import only operators/ (and pure packages)',
      severity: 'error',
      from: { path: '^operators/' },
      to: { pathNot: ['^operators/', `^node_modules/(${PURE_PACKAGES.join('|')})/`, '^crypto$'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'operators-no-side-effect-types',
      comment: 'operators/ may not even import types from drivers or wiring',
      severity: 'error',
      from: { path: '^operators/' },
      to: { path: '^(sources|sinks|hardware|pipelines|config|test|bench|scripts)/' },
    },
    {
      name: 'drivers-import-operators-only',
      comment: 'a driver (sources/, sinks/, hardware/) imports operators/ and its own folder, nothing else of ours',
      severity: 'error',
      from: { path: '^(sources|sinks|hardware)/' },
      to: { path: '^(operators|sources|sinks|hardware|pipelines|config|test|bench|scripts)/', pathNot: ['^operators/', '^$1/'] },
    },
    {
      name: 'config-imports-nothing-of-ours',
      comment: 'config/ is declarative: it may import only config/ and zod',
      severity: 'error',
      from: { path: '^config/' },
      to: { pathNot: ['^config/', '^node_modules/zod/'] },
    },
    {
      name: 'only-tests-import-tests',
      comment: 'product code never imports test code',
      severity: 'error',
      from: { path: PRODUCT },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'no-cycles',
      comment: 'an import cycle couples modules that should be layered',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'a product module that nothing imports and that is not an entry point is dead code',
      severity: 'error',
      from: { orphan: true, path: PRODUCT, pathNot: ['^pipelines/cli\\.ts$', '\\.d\\.ts$'] },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing fails at run time',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|out|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    parser: 'swc',
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
