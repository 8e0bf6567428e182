/**
 * `research stats` end to end on real candles and a real backtest: the equity curve rebuilt from
 * the journal agrees with the backtest's own report, and the CLI prints verdicts and writes JSON.
 */
import { equal, match, ok } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runBacktest } from '../../pipelines/backtest';
import { readBacktestRun } from '../../pipelines/researchData';
import { runResearchStats } from '../../pipelines/researchStats';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
const BTC_5M = 'candles/binance_spot_BTCUSDT_5m_nfi.csv';

describe('research stats', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  let data: string;
  let outDir: string;
  let report: Awaited<ReturnType<typeof runBacktest>>['report'];

  before(async function () {
    data = requireSharedData(this, BTC_5M);
    outDir = path.join(tmp.dir, 'bt');
    // The shipped model was trained until 2021-04-01; these two months are in its training data,
    // so the ML signal is allowed there (the test checks the residual statistics, not skill).
    const configFile = path.join(tmp.dir, 'growth-in-sample.yaml');
    writeFileSync(
      configFile,
      readFileSync(path.join(repoRoot, 'config', 'growth.yaml'), 'utf8')
        .replace('    band: 0.02\n', '    band: 0.02\n    allowInSample: true\n')
        .replace(
          'model: models/growth-btc-5m.json',
          `model: ${JSON.stringify(path.join(repoRoot, 'config', 'models', 'growth-btc-5m.json'))}`,
        ),
    );
    ({ report } = await runBacktest({
      configFile,
      dataFile: data,
      outDir,
      from: Date.parse('2021-01-01T00:00:00Z'),
      until: Date.parse('2021-03-01T00:00:00Z'),
      journalLevel: 'all', // every bar's ML signal, for the residuals
    }));
  });
  after(() => tmp.cleanup());

  it("rebuilds the backtest's equity from its journal: same bars, same final equity, same round trips", () => {
    ok(report.trades > 10, `the two months must trade to test anything (fills: ${report.trades})`);
    const run = readBacktestRun(outDir);
    equal(run.curve.equity.length, report.bars);
    const last = run.curve.equity[run.curve.equity.length - 1]!;
    ok(
      Math.abs(last - report.finalEquity) < 1e-6 * report.finalEquity,
      `rebuilt ${last} vs report ${report.finalEquity}`,
    );
    equal(run.curve.trips.length, report.roundTrips);
    const wins = run.curve.trips.filter((t) => t.return > 0).length / run.curve.trips.length;
    ok(Math.abs(wins - report.winRate) < 1e-9, `win rate ${wins} vs ${report.winRate}`);
    const hold = run.curve.buyAndHold;
    ok(
      Math.abs(hold[hold.length - 1]! / hold[0]! - 1 - report.buyAndHoldReturn) < 0.01,
      'buy and hold follows the price',
    );
  });

  it('tests the market and the strategy returns, with PSR and a bootstrap of the trades', () => {
    const r = runResearchStats({
      dataFile: data,
      from: Date.parse('2021-01-01T00:00:00Z'),
      until: Date.parse('2021-03-01T00:00:00Z'),
      backtestDir: outDir,
    });
    equal(r.data.bars, report.bars);
    ok(r.levels.adf.pValue > 0.05, 'a price level has a unit root over two months');
    ok(
      r.returns.ljungBoxSquared.every((row) => row.pValue < 0.01),
      'BTC 5m returns show ARCH effects',
    );
    ok(r.strategy);
    equal(r.strategy.roundTrips, report.roundTrips);
    ok(r.strategy.probabilisticSharpe >= 0 && r.strategy.probabilisticSharpe <= 1);
    ok(
      r.strategy.bootstrap &&
        r.strategy.bootstrap.totalReturnInterval.low <= r.strategy.bootstrap.totalReturnInterval.high,
    );
    // The growth config trades with its ML model: its errors are tested too.
    const m = r.strategy.model;
    ok(m, 'model residuals');
    ok(m.residuals.n > 2000, `labelled ML signals: ${m.residuals.n}`);
    ok(m.brier > 0.2 && m.brier < 0.3, `Brier ${m.brier}`);
    ok(Math.abs(m.meanResidual) < 0.2);
    equal(m.residuals.ljungBox.length, 3);
  });

  it('the CLI prints the verdicts and writes the JSON result; bad input is named', () => {
    const out = path.join(tmp.dir, 'stats.json');
    const ok1 = spawnSync(
      process.execPath,
      [CLI, 'research', 'stats', '-d', data, '--from', '2021-04-01', '--until', '2021-04-05', '-o', out],
      {
        encoding: 'utf8',
      },
    );
    equal(ok1.status, 0, ok1.stderr);
    match(ok1.stdout, /ADF +stat -?\d+\.\d+ +p /);
    match(ok1.stdout, /LB²\(20\).*volatility clusters/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as {
      data: { sha256: string };
      returns: { hurst: { hurst: number } };
    };
    match(json.data.sha256, /^[0-9a-f]{64}$/);
    ok(json.returns.hurst.hurst > 0 && json.returns.hurst.hurst < 1);
    const bad = spawnSync(process.execPath, [CLI, 'research', 'stats', '-d', path.join(tmp.dir, 'missing.csv')], {
      encoding: 'utf8',
    });
    equal(bad.status, 1);
    match(bad.stderr, /missing\.csv: no such file/);
  });
});
