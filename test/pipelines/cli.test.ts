import { equal, match, ok } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomWalkBars } from '../support/fixtures';
import { writeTestGrowthConfig } from '../support/growthConfig';
import { repoRoot } from '../support/sharedData';
import { tempDir, writeBarsCsv } from '../support/tmp';

const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');

function runCli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('run-pipeline (end to end, as a user runs it)', function () {
  this.timeout(180_000);
  const tmp = tempDir();
  const data = path.join(tmp.dir, 'BTCUSDT_5m.csv'); // named for its symbol (no header line)
  const bars = randomWalkBars(3000, { seed: 11 });
  let config: string;

  before(() => {
    writeBarsCsv(data, bars);
    config = writeTestGrowthConfig(tmp.dir);
  });
  after(() => tmp.cleanup());

  it('explains a missing model and how to train it', () => {
    const result = runCli(['backtest', '--config', config, '--data', data, '--quiet'], tmp.dir);
    equal(result.status, 1);
    match(result.stderr, /model file not found[\s\S]*run-pipeline train --config/);
  });

  it('trains a model with a time-ordered split and reports out-of-sample accuracy', () => {
    const until = new Date(bars[1500]!.tsOpen).toISOString();
    const result = runCli(['train', '--config', config, '--data', data, '--until', until], tmp.dir);
    equal(result.status, 0, result.stderr);
    match(result.stdout, /model [0-9a-f]{16} written to .*model\.json/);
    match(result.stdout, /out-of-sample accuracy \d+\.\d+ % on \d+ samples/);
    const model = JSON.parse(readFileSync(path.join(tmp.dir, 'model.json'), 'utf8')) as {
      training: { to: number; testFrom: number; gapBars: number };
      metrics: { oosAccuracy: number };
    };
    ok(model.training.testFrom > model.training.to, 'test samples come after training samples');
    ok(model.training.testFrom - model.training.to >= model.training.gapBars * 300_000, 'with the gap between them');
    ok(model.training.testFrom < bars[1500]!.tsOpen, '--until keeps later bars out of training and test');
  });

  it('keeps the previous model when training again', () => {
    const result = runCli(
      ['train', '--config', config, '--data', data, '--until', new Date(bars[1400]!.tsOpen).toISOString()],
      tmp.dir,
    );
    equal(result.status, 0, result.stderr);
    match(result.stdout, /previous model kept as .*model\.[0-9a-f]{12}\.json/);
  });

  it('backtests generated bars: prints the report and writes report.json and the journal', () => {
    const out = path.join(tmp.dir, 'run');
    const result = runCli(['backtest', '--config', config, '--data', data, '--out', out], tmp.dir);
    equal(result.status, 0, result.stderr);
    for (const label of ['return', 'max drawdown', 'sharpe', 'trades', 'win rate', 'fees', 'exposure'])
      match(result.stdout, new RegExp(label));
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['trades', 'winRate', 'totalReturn', 'maxDrawdown', 'sharpe', 'fees', 'exposure'])
      ok(key in report, `report.json lacks ${key}`);
    equal(report['bars'], 3000);
    ok(existsSync(path.join(out, 'journal.jsonl')));
    const lines = readFileSync(path.join(out, 'journal.jsonl'), 'utf8').trim().split('\n');
    equal(JSON.parse(lines[0]!).kind, 'run-started');
    ok(
      lines.some((l) => l.includes('"kind":"fill"')),
      'no fill journaled',
    );
  });

  it('fails with file, key, expected and found for a broken config, before reading any data', () => {
    const broken = writeTestGrowthConfig(path.join(tmp.dir), (t) =>
      t.replace('maxPositionPct: 0.25', 'maxPositionPct: lots'),
    );
    const result = runCli(['backtest', '--config', broken, '--data', '/does/not/exist.csv'], tmp.dir);
    equal(result.status, 1);
    match(result.stderr, /growth\.yaml:\d+:\d+ key "risk\.maxPositionPct": expected number, found string "lots"/);
  });

  it('names the line and column of a malformed data row', () => {
    const bad = path.join(tmp.dir, 'bad.csv');
    writeBarsCsv(bad, bars.slice(0, 10));
    const text = readFileSync(bad, 'utf8').split('\n');
    text[4] = text[4]!.replace(/,[^,]+$/, ',abc');
    require('node:fs').writeFileSync(bad, text.join('\n'));
    const fixed = writeTestGrowthConfig(tmp.dir);
    const result = runCli(['backtest', '--config', fixed, '--data', bad], tmp.dir);
    equal(result.status, 1);
    match(result.stderr, /bad\.csv: 1 problem[\s\S]*line 5, column volume: expected a number, found "abc"/);
  });

  it('refuses live trading without --confirm-live, and without keys in the environment', () => {
    const unconfirmed = runCli(['live', '--config', config], tmp.dir);
    equal(unconfirmed.status, 1);
    match(unconfirmed.stderr, /real orders with real money: pass --confirm-live/);
    const env = { ...process.env };
    delete env['BOT4_API_KEY'];
    delete env['BOT4_API_SECRET'];
    const noKeys = spawnSync(
      process.execPath,
      [CLI, 'live', '--config', config, '--confirm-live', '--allow-unsealed'],
      {
        cwd: tmp.dir,
        encoding: 'utf8',
        env,
        timeout: 60_000,
      },
    );
    equal(noKeys.status, 1);
    match(noKeys.stderr, /BOT4_API_KEY and BOT4_API_SECRET/);
  });

  it('installs run-pipeline as an executable bin, as npx runs it', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    const bin = path.join(repoRoot, pkg.bin['run-pipeline']!);
    const result = spawnSync(bin, ['--help'], { cwd: tmp.dir, encoding: 'utf8', timeout: 60_000 });
    equal(result.error, undefined, `cannot execute ${bin}: ${String(result.error)}`);
    equal(result.status, 0, result.stderr);
    match(result.stdout, /Usage: run-pipeline/);
  });

  it('shows help for every command', () => {
    for (const args of [
      ['--help'],
      ['backtest', '--help'],
      ['train', '--help'],
      ['download', '--help'],
      ['paper', '--help'],
      ['live', '--help'],
    ]) {
      const result = runCli(args, tmp.dir);
      equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
      match(result.stdout, /Usage: run-pipeline/);
    }
  });
});
