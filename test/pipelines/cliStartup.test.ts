import { deepStrictEqual, equal } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

/** Packages that make start-up slow and that `--help` (and a backtest without ML) must not load. */
const HEAVY = ['rxjs', 'zod', 'yaml', 'ccxt', 'brain.js', 'tulind', 'pino', '@opentelemetry'];

describe('run-pipeline start-up: each command loads what it needs', function () {
  this.timeout(60_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const cli = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
  // Preloaded into the CLI's process: at exit, list the packages it loaded.
  const probe = path.join(tmp.dir, 'probe.js');
  writeFileSync(
    probe,
    `process.on('exit', () => require('fs').writeFileSync(process.env.BOT4_PROBE_OUT, JSON.stringify(Object.keys(require.cache))));`,
  );

  function loadedPackages(args: readonly string[]): string[] {
    const out = path.join(tmp.dir, `loaded-${args.join('_').replace(/[^\w]/g, '')}.json`);
    const run = spawnSync(process.execPath, ['--require', probe, cli, ...args], {
      encoding: 'utf8',
      env: { ...process.env, BOT4_PROBE_OUT: out },
    });
    equal(run.status, 0, run.stderr);
    const files = JSON.parse(readFileSync(out, 'utf8')) as string[];
    const packages = new Set<string>();
    for (const file of files) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
      if (match) packages.add(match[1]!);
    }
    return [...packages].sort();
  }

  it('--help loads commander and no heavy package', () => {
    const packages = loadedPackages(['--help']);
    deepStrictEqual(
      packages.filter((p) => HEAVY.some((h) => p === h || p.startsWith(`${h}/`))),
      [],
      `loaded: ${packages.join(', ')}`,
    );
    equal(packages.includes('commander'), true);
  });

  it('backtest --help loads no heavy package either', () => {
    const packages = loadedPackages(['backtest', '--help']);
    deepStrictEqual(
      packages.filter((p) => HEAVY.some((h) => p === h || p.startsWith(`${h}/`))),
      [],
    );
  });
});
