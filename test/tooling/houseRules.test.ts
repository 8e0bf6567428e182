import { equal, match, notEqual } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

/**
 * The house rules are tools, and each can fail: a lint error, a formatting difference, a
 * forbidden import, a cycle, an orphan and the RxJS mistakes are written into a scratch tree and
 * each tool must reject them with the rule's name. (The real tree passing them is `npm run check`.)
 */

const bin = (name: string): string => path.join(repoRoot, 'node_modules', '.bin', name);

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function writeTree(root: string, files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
}

describe('house rules: each tool rejects what it is there to catch', function () {
  this.timeout(300_000);
  const tmp = tempDir('bot4-rules-');
  after(() => tmp.cleanup());

  describe('Biome (lint and format)', () => {
    const biome = (file: string) =>
      run(bin('biome'), ['check', `--config-path=${repoRoot}`, '--vcs-enabled=false', file], tmp.dir);

    it('passes a file written in the house format', () => {
      writeTree(tmp.dir, { 'good.ts': 'export const answer = (x: number): number => x + 1;\n' });
      const r = biome('good.ts');
      equal(r.status, 0, r.out);
    });

    it('fails on a formatting difference (double quotes, tabs)', () => {
      writeTree(tmp.dir, {
        'ugly.ts': 'export const answer = (x: number): number => {\n\treturn x + "1".length;\n};\n',
      });
      const r = biome('ugly.ts');
      notEqual(r.status, 0);
      match(r.out, /format/i);
    });

    it('fails on a lint error (a debugger statement)', () => {
      writeTree(tmp.dir, { 'lint.ts': 'export function f(): void {\n  debugger;\n}\n' });
      const r = biome('lint.ts');
      notEqual(r.status, 0);
      match(r.out, /noDebugger/);
    });
  });

  describe('dependency-cruiser (the layout of DESIGN.md)', () => {
    const scratch = path.join(tmp.dir, 'arch');
    before(() => {
      writeTree(scratch, {
        'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'nodenext', strict: true } }),
        'pipelines/cli.ts': "import './wire';\n",
        'pipelines/wire.ts':
          "import { pure } from '../operators/pure';\nimport { readBars } from '../sources/reader';\nimport { cycleA } from '../operators/cycleA';\nexport const wired = [pure, readBars, cycleA];\n",
        'operators/pure.ts': "import { readFileSync } from 'node:fs';\nexport const pure = readFileSync;\n",
        'operators/cycleA.ts':
          "import { cycleB } from './cycleB';\nexport const cycleA = (): number => cycleB() + 1;\n",
        'operators/cycleB.ts':
          "import { cycleA } from './cycleA';\nexport const cycleB = (): number => (cycleA ? 1 : 0);\n",
        'sources/reader.ts':
          "import { writeJournal } from '../sinks/journal';\nexport const readBars = writeJournal;\n",
        'sinks/journal.ts': 'export const writeJournal = (): void => undefined;\n',
        'sinks/unused.ts': 'export const nobodyImportsMe = 1;\n',
      });
    });

    it('names every broken rule: side effect in operators, driver importing a driver, cycle, orphan', () => {
      const r = run(
        bin('depcruise'),
        [
          'operators',
          'sources',
          'sinks',
          'pipelines',
          '--config',
          path.join(repoRoot, '.dependency-cruiser.cjs'),
          '--output-type',
          'err',
        ],
        scratch,
      );
      notEqual(r.status, 0, r.out);
      match(r.out, /operators-pure: operators\/pure\.ts → fs/);
      match(r.out, /drivers-import-operators-only: sources\/reader\.ts → sinks\/journal\.ts/);
      match(r.out, /no-cycles: operators\/cycle[AB]\.ts →\s+operators\/cycle[AB]\.ts/);
      match(r.out, /no-orphans: sinks\/unused\.ts/);
    });
  });

  describe('eslint-plugin-rxjs-x (type-aware RxJS rules)', () => {
    const scratch = path.join(tmp.dir, 'rxjs');
    before(() => {
      writeTree(scratch, {
        'tsconfig.json': JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            types: [],
            skipLibCheck: true,
          },
          include: ['operators'],
        }),
        'operators/mistakes.ts': [
          "import { BehaviorSubject, type Observable, interval, map, takeUntil, Subject } from 'rxjs';",
          'const state = new BehaviorSubject(0);',
          'export function run(tick$: Observable<number>, stop$: Observable<void>): void {',
          '  // state read from a BehaviorSubject inside a map: right only by subscription order',
          '  tick$.pipe(map((t) => t + state.value)).subscribe({ next: (v) => state.next(v), error: () => undefined });',
          '  // a subscription nobody keeps can never be torn down',
          '  interval(1000).subscribe({ next: () => undefined, error: () => undefined });',
          '  // takeUntil before another operator leaves the source running',
          '  const held = tick$.pipe(takeUntil(stop$), map((t) => t * 2)).subscribe({ error: () => undefined });',
          '  // subscribe inside subscribe',
          '  const outer = tick$.subscribe({ next: () => { held.add(stop$.subscribe({ error: () => undefined })); }, error: () => undefined });',
          '  outer.unsubscribe();',
          '}',
          'export const unused = new Subject<void>();',
          '',
        ].join('\n'),
      });
      symlinkSync(path.join(repoRoot, 'node_modules'), path.join(scratch, 'node_modules'), 'dir');
    });

    it('rejects BehaviorSubject.value, an ignored subscription, an unsafe takeUntil and a nested subscribe', () => {
      const r = run(path.join(repoRoot, 'scripts', 'lint-rxjs.sh'), ['--no-cache'], scratch, {
        BOT4_LINT_ROOT: scratch,
      });
      notEqual(r.status, 0, r.out);
      for (const rule of [
        'no-subject-value',
        'no-ignored-subscription',
        'no-unsafe-takeuntil',
        'no-nested-subscribe',
      ]) {
        match(r.out, new RegExp(`rxjs-x/${rule}`), `${rule} not reported:\n${r.out}`);
      }
    });
  });
});
