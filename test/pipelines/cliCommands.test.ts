/**
 * The CLI as scripts use it (issue 14, "a CLI people enjoy"): `validate` reports every problem at
 * once, `report` re-prints a past backtest, `--json` output parses (successes and failures), the
 * exit codes are the documented ones, and `train` takes --symbol/--timeframe/--keep-outliers.
 */
import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomWalkBars } from '../support/fixtures';
import { writeTestGrowthConfig } from '../support/growthConfig';
import { repoRoot } from '../support/sharedData';
import { tempDir, writeBarsCsv } from '../support/tmp';

const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
const SURVIVAL = path.join(repoRoot, 'config', 'survival.yaml');

function runCli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Problem {
  file: string;
  line?: number;
  key: string;
  expected: string;
  found: string;
}

describe('run-pipeline validate, report, --json and exit codes', function () {
  this.timeout(180_000);
  const tmp = tempDir('bot4-cli-');
  after(() => tmp.cleanup());
  const data = path.join(tmp.dir, 'BTCUSDT_5m.csv');
  const bars = randomWalkBars(1500, { seed: 5 });
  before(() => writeBarsCsv(data, bars));

  it('validate: the five tiers and the shipped configs are valid (exit 0); --json parses', () => {
    const files = ['survival', 'growth', 'acceleration', 'institutional', 'whale'].map((t) =>
      path.join('config', 'tiers', `${t}.yaml`),
    );
    const text = runCli(['validate', ...files, 'config/growth.yaml'], repoRoot);
    equal(text.status, 0, text.stderr);
    match(text.stdout, /^ok {7}config\/tiers\/whale\.yaml: tier-whale \(whale; BTC\/USDT, LTC\/USDT/m);
    const json = runCli(['validate', ...files, '--json'], repoRoot);
    equal(json.status, 0);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; results: { ok: boolean; tier: string }[] };
    equal(parsed.ok, true);
    deepStrictEqual(
      parsed.results.map((r) => r.tier),
      ['survival', 'growth', 'acceleration', 'institutional', 'whale'],
    );
  });

  it('validate: every problem at once — a duration, the schema, and a key the base file wrote — each with file, line, key, expected, found (exit 1)', () => {
    const base = path.join(tmp.dir, 'base.yaml');
    writeFileSync(base, readFileSync(SURVIVAL, 'utf8').replace('maxOrdersPerMinute: 30', 'maxOrdersPerMinute: -1'));
    const child = path.join(tmp.dir, 'child.yaml');
    writeFileSync(
      child,
      'extends: ./base.yaml\nname: Child\nsizing:\n  kellyFraction: 3\nrisk:\n  garch:\n    windowBars: 7x\n',
    );
    const json = runCli(['validate', child, SURVIVAL, '--json'], tmp.dir);
    equal(json.status, 1);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; results: { ok: boolean; problems: Problem[] }[] };
    equal(parsed.ok, false);
    equal(parsed.results[1]!.ok, true, 'the valid file is reported valid beside the broken one');
    const problems = parsed.results[0]!.problems;
    deepStrictEqual(problems.map((p) => [path.basename(p.file), p.key]).sort(), [
      ['base.yaml', 'risk.maxOrdersPerMinute'],
      ['child.yaml', 'name'],
      ['child.yaml', 'risk.garch.windowBars'],
      ['child.yaml', 'sizing.kellyFraction'],
    ]);
    for (const p of problems) ok(p.line !== undefined && p.expected && p.found, JSON.stringify(p));
    const windowBars = problems.find((p) => p.key === 'risk.garch.windowBars')!;
    deepStrictEqual([windowBars.line, windowBars.found], [7, 'string "7x"']);
    const text = runCli(['validate', child], tmp.dir);
    equal(text.status, 1);
    match(text.stdout, /invalid {2}.*child\.yaml: 4 problems/);
    match(text.stdout, /base\.yaml:\d+:\d+ {2}key "risk\.maxOrdersPerMinute": expected a number > 0, found number -1/);
  });

  it('validate: per-bar counts are checked against the timeframe — a span beyond two years is refused, others are stated as a span', () => {
    const fourHour = (window: string) => {
      const file = path.join(tmp.dir, `survival-4h-${window}.yaml`);
      writeFileSync(
        file,
        readFileSync(SURVIVAL, 'utf8')
          .replace('timeframe: 5m', 'timeframe: 4h')
          .replace(/windowBars: 7d\b/, `windowBars: ${window}`),
      );
      return file;
    };
    const copied = runCli(['validate', fourHour('2016'), '--json'], tmp.dir);
    equal(copied.status, 0, copied.stdout);
    const notes = (JSON.parse(copied.stdout) as { results: { notes: string[] }[] }).results[0]!.notes;
    ok(
      notes.includes(
        'risk.garch.windowBars: 2016 4h bars are 336 days; a duration (e.g. "7d") keeps its meaning on another timeframe',
      ),
      notes.join('\n'),
    );
    ok(
      notes.some((n) => /^risk\.marketStats\.lambda: a decay of 0\.995 per 4h bar is a half-life of 23 days/.test(n)),
      notes.join('\n'),
    );
    const text = runCli(['validate', fourHour('2016')], tmp.dir);
    match(text.stdout, /\n {2}note: risk\.garch\.windowBars: 2016 4h bars are 336 days/);
    const absurd = runCli(['validate', fourHour('20000'), '--json'], tmp.dir);
    equal(absurd.status, 1);
    const problem = (JSON.parse(absurd.stdout) as { results: { problems: Problem[] }[] }).results[0]!.problems[0]!;
    deepStrictEqual(
      [problem.key, problem.found],
      ['risk.garch.windowBars', 'number 20000: 20000 4h bars are 3330 days'],
    );
    match(problem.expected, /^a span of at most 730 days .*write a duration such as "7d"/);
    const asDuration = runCli(['validate', fourHour('1000d')], tmp.dir);
    equal(asDuration.status, 1);
    match(
      asDuration.stdout,
      /key "risk\.garch\.windowBars": expected a span of at most 730 days, found string "1000d"/,
    );
  });

  it('backtest --json prints one parseable document; report <out-dir> prints the same run again, as text and JSON', () => {
    const out = path.join(tmp.dir, 'run');
    const run = runCli(['backtest', '-c', SURVIVAL, '-d', data, '-o', out, '--json'], tmp.dir);
    equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      ok: boolean;
      report: { bars: number; config: { name: string } };
      reportFile: string;
      seconds: number;
    };
    equal(result.ok, true);
    equal(result.report.bars, 1500);
    equal(result.reportFile, path.join(out, 'report.json'));
    ok(!/\r/.test(run.stderr), 'no progress bar when stderr is not a terminal');

    const text = runCli(['backtest', '-c', SURVIVAL, '-d', data, '-o', out], tmp.dir);
    equal(text.status, 0, text.stderr);
    const again = runCli(['report', out], tmp.dir);
    equal(again.status, 0, again.stderr);
    // The same lines as the backtest printed, without its timing.
    equal(again.stdout, text.stdout.replace(/ {2}took [\d.]+ s\n$/, ''));
    const againJson = runCli(['report', out, '--json'], tmp.dir);
    deepStrictEqual(
      (JSON.parse(againJson.stdout) as { report: unknown }).report,
      JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')),
    );
  });

  it('report names a folder without a report and a file that is not one (exit 1)', () => {
    const none = runCli(['report', tmp.dir], tmp.dir);
    equal(none.status, 1);
    match(none.stderr, /<out-dir> .*: expected a backtest output folder holding report\.json, found no report\.json/);
    const notReport = path.join(tmp.dir, 'other');
    require('node:fs').mkdirSync(notReport, { recursive: true });
    writeFileSync(path.join(notReport, 'report.json'), '{"hello": 1}');
    const wrong = runCli(['report', notReport, '--json'], tmp.dir);
    equal(wrong.status, 1);
    const parsed = JSON.parse(wrong.stdout) as { ok: boolean; error: { message: string } };
    equal(parsed.ok, false);
    match(parsed.error.message, /expected a backtest report .*found none of config, data, bars/);
  });

  it('a failing command with --json prints {"ok": false, "error": {code, problems}} on stdout, exit 1', () => {
    const broken = path.join(tmp.dir, 'broken.yaml');
    writeFileSync(broken, readFileSync(SURVIVAL, 'utf8').replace('kellyFraction: 0.25', 'kellyFraction: 0'));
    const run = runCli(['backtest', '-c', broken, '-d', data, '--json'], tmp.dir);
    equal(run.status, 1);
    const parsed = JSON.parse(run.stdout) as { ok: boolean; error: { code: string; problems: Problem[] } };
    equal(parsed.ok, false);
    equal(parsed.error.code, 'CONFIG_INVALID');
    deepStrictEqual(
      parsed.error.problems.map((p) => p.key),
      ['sizing.kellyFraction'],
    );
    match(run.stderr, /key "sizing\.kellyFraction": expected a number > 0, found number 0/);
  });

  it('--help documents the exit codes and --json', () => {
    const help = runCli(['--help'], tmp.dir);
    equal(help.status, 0);
    match(help.stdout, /Exit codes: 0 done · 1 refused or failed .* 130 interrupted/);
    for (const command of [
      'backtest',
      'train',
      'paper',
      'live',
      'validate',
      'report',
      'seal',
      'tiers',
      'doctor',
      'download',
      'mode-reset',
    ])
      match(runCli([command, '--help'], tmp.dir).stdout, /--json/, `${command} --help lists --json`);
  });

  it('train refuses an unidentified data file, takes --symbol/--timeframe, refuses outliers unless --keep-outliers, and prints JSON', () => {
    const config = writeTestGrowthConfig(tmp.dir);
    const anonymous = path.join(tmp.dir, 'bars.csv');
    const trainBars = randomWalkBars(3000, { seed: 11 });
    writeBarsCsv(anonymous, trainBars);
    const until = new Date(trainBars[1500]!.tsOpen).toISOString();
    const refused = runCli(['train', '-c', config, '-d', anonymous, '--until', until], tmp.dir);
    equal(refused.status, 1);
    match(
      refused.stderr,
      /bars\.csv: 1 problem\n\s+the file does not say which instrument it holds .*state it with --symbol BTC\/USDT --timeframe 5m/,
    );
    const wrongSymbol = runCli(['train', '-c', config, '-d', anonymous, '--symbol', 'ETH/USDT'], tmp.dir);
    equal(wrongSymbol.status, 1);
    match(wrongSymbol.stderr, /symbol: --symbol says ETH\/USDT, but the config trades BTC\/USDT/);
    const wrongTimeframe = runCli(
      ['train', '-c', config, '-d', anonymous, '--symbol', 'BTC/USDT', '--timeframe', '1h'],
      tmp.dir,
    );
    equal(wrongTimeframe.status, 1);
    match(wrongTimeframe.stderr, /timeframe: --timeframe says 1h, but the config trades 5m/);

    const spiked = path.join(tmp.dir, 'spiked_BTCUSDT.csv');
    const lines = readFileSync(anonymous, 'utf8').split('\n');
    const cells = lines[701]!.split(',');
    const close = Number(cells[4]) * 1000;
    lines[701] = [cells[0], cells[1], close, cells[3], close, cells[5]].join(',');
    writeFileSync(spiked, lines.join('\n'));
    const outlier = runCli(['train', '-c', config, '-d', spiked, '--until', until], tmp.dir);
    equal(outlier.status, 1);
    match(outlier.stderr, /line 702, column (high|close): outlier.*--keep-outliers/);
    const kept = runCli(['train', '-c', config, '-d', spiked, '--until', until, '--keep-outliers', '--json'], tmp.dir);
    equal(kept.status, 0, kept.stderr);
    match(kept.stderr, /warning: .*kept 1 outlier row\(s\) \(--keep-outliers\): line 702/);
    const result = JSON.parse(kept.stdout) as {
      ok: boolean;
      file: string;
      id: string;
      metrics: { oosAccuracy: number };
    };
    equal(result.ok, true);
    equal(result.file, path.join(tmp.dir, 'model.json'));
    match(result.id, /^[0-9a-f]{16}$/);
    ok(result.metrics.oosAccuracy >= 0 && result.metrics.oosAccuracy <= 1);

    const stated = runCli(
      ['train', '-c', config, '-d', anonymous, '--until', until, '--symbol', 'BTC/USDT', '--timeframe', '5m'],
      tmp.dir,
    );
    equal(stated.status, 0, stated.stderr);
  });
});
