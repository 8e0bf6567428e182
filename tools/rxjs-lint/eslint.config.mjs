// Type-aware RxJS rules over the whole project (run by `npm run lint:rxjs`). Biome does format
// and general lint; this config enables only what needs the RxJS types.
import rxjsX from 'eslint-plugin-rxjs-x';
import tseslint from 'typescript-eslint';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = process.env.BOT4_LINT_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export default [
  {
    basePath: root,
    ignores: ['dist/**', 'node_modules/**', 'out/**', 'tools/**', '.cache/**'],
  },
  {
    basePath: root,
    files: ['{operators,sources,sinks,hardware,pipelines,config,test,bench,scripts}/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: path.join(root, 'tsconfig.json'), tsconfigRootDir: root },
    },
    plugins: { 'rxjs-x': rxjsX, '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A subscription nobody keeps can never be torn down.
      'rxjs-x/no-ignored-subscription': 'error',
      // takeUntil must come last, or operators after it keep the source alive.
      'rxjs-x/no-unsafe-takeuntil': 'error',
      // subscribe inside subscribe loses errors and teardown; compose with operators instead.
      'rxjs-x/no-nested-subscribe': 'error',
      // A method passed unbound loses `this` when RxJS calls it.
      'rxjs-x/no-unbound-methods': 'error',
      // Reading state from a BehaviorSubject inside an operator depends on subscription order.
      'rxjs-x/no-subject-value': 'error',
      // Errors thrown must be Errors, so the error channel carries a stack and a code.
      'rxjs-x/throw-error': 'error',
      'rxjs-x/no-ignored-error': 'error',
      'rxjs-x/no-create': 'error',
      'rxjs-x/no-internal': 'error',
      'rxjs-x/no-unsafe-subject-next': 'error',
      'rxjs-x/no-async-subscribe': 'error',
      'rxjs-x/no-ignored-notifier': 'error',
      'rxjs-x/no-redundant-notify': 'error',
      'rxjs-x/no-unsafe-catch': 'error',
      'rxjs-x/no-unsafe-switchmap': 'error',
      'rxjs-x/no-sharereplay': ['error', { allowConfig: true }],
      // Every promise is awaited or handled: a rejected one is otherwise an unhandled rejection.
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    // Tests and benches subscribe to drive a stream to its end and assert on what it produced;
    // the scheduler or the test's own completion ends them.
    basePath: root,
    files: ['{test,bench}/**/*.ts'],
    rules: { 'rxjs-x/no-ignored-subscription': 'off', 'rxjs-x/no-ignored-error': 'off' },
  },
];
