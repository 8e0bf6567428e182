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

describe('run-pipeline backtest: a config of incremental indicators without ML', function () {
  this.timeout(60_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('loads neither tulind (its metadata is a table) nor brain.js', () => {
    const probe = path.join(tmp.dir, 'probe.js');
    const out = path.join(tmp.dir, 'loaded.json');
    writeFileSync(
      probe,
      `process.on('exit', () => require('fs').writeFileSync(process.env.BOT4_PROBE_OUT, JSON.stringify(Object.keys(require.cache))));`,
    );
    // 300 generated 5m bars: a slow sine, enough for the crossover's SMA50 to trade.
    const start = Date.UTC(2024, 0, 1);
    const rows = Array.from({ length: 300 }, (_, i) => {
      const close = 100 + 10 * Math.sin(i / 20);
      return `${start + i * 300_000},${close},${close + 1},${close - 1},${close},1`;
    });
    const data = path.join(tmp.dir, 'BTCUSDT_5m.csv');
    writeFileSync(data, `timestamp_ms,open,high,low,close,volume\n${rows.join('\n')}\n`);
    const cli = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
    const config = path.join(repoRoot, 'bench', 'peers', 'crossover.yaml');
    const run = spawnSync(
      process.execPath,
      ['--require', probe, cli, 'backtest', '--config', config, '--data', data, '--out', path.join(tmp.dir, 'out')],
      { encoding: 'utf8', env: { ...process.env, BOT4_PROBE_OUT: out } },
    );
    equal(run.status, 0, run.stderr);
    const files = JSON.parse(readFileSync(out, 'utf8')) as string[];
    deepStrictEqual(
      files.filter((f) => /node_modules\/(tulind|brain\.js)\//.test(f)),
      [],
    );
  });
});
