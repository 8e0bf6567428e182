/**
 * The page a backtest writes: the equity rebuilt from the journal's fills ends where the exact
 * accounting ended, for one symbol and for a universe, and the price line is the first symbol's
 * close at every valued time (a universe interleaves its symbols' bars).
 */
import { deepEqual, equal, ok } from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runBacktest } from '../../pipelines/backtest';
import { backtestReport } from '../../pipelines/reportData';
import { readBacktestRun } from '../../pipelines/researchData';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { bar } from '../support/fixtures';
import { tempDir, writeBarsCsv } from '../support/tmp';

describe('backtest report page data', function () {
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('a universe backtest: rebuilt equity ends at the report’s final equity, the price line is BTC’s close, only BTC’s trades are on it', async function () {
    const btc = requireSharedData(this, 'candles/binance_spot_BTCUSDT_1h_nfi.csv');
    const outDir = path.join(tmp.dir, 'u');
    const result = await runBacktest({
      configFile: path.join(repoRoot, 'config', 'portfolio-7.yaml'),
      dataFile: [path.dirname(btc)],
      outDir,
      from: Date.parse('2021-04-01T00:00:00Z'),
      until: Date.parse('2021-05-01T00:00:00Z'),
    });
    equal(result.htmlFile, path.join(outDir, 'report.html'));
    ok(existsSync(result.htmlFile));
    // Read back from the files alone, as `research report` does.
    const run = readBacktestRun(outDir);
    equal(run.symbol, 'BTC/USDT');
    equal(new Set(run.bars.map((b) => b.symbol)).size, 7, 'every symbol’s bars');
    const fills = result.report.trades;
    ok(fills > 0, 'the run traded, so the rebuilt equity is tested');
    const last = run.curve.equity[run.curve.equity.length - 1]!;
    ok(Math.abs(last / result.report.finalEquity - 1) < 1e-6, `rebuilt ${last} vs exact ${result.report.finalEquity}`);
    const data = backtestReport(run);
    equal(data.curve.close.length, data.curve.ts.length);
    const btcClose = new Map(run.bars.filter((b) => b.symbol === 'BTC/USDT').map((b) => [b.tsEvent, b.close]));
    deepEqual(
      data.curve.close,
      data.curve.ts.map((t) => btcClose.get(t)),
    );
    ok(data.trips.every((t) => t.symbol === 'BTC/USDT'));
  });

  it('reportHtml: false writes no page', async function () {
    const btc = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const outDir = path.join(tmp.dir, 'none');
    const result = await runBacktest({
      configFile: path.join(repoRoot, 'config', 'survival.yaml'),
      dataFile: btc,
      outDir,
      from: Date.parse('2021-04-01T00:00:00Z'),
      until: Date.parse('2021-04-02T00:00:00Z'),
      reportHtml: false,
    });
    equal(result.htmlFile, undefined);
    ok(!existsSync(path.join(outDir, 'report.html')));
  });

  it('a run whose returns the tests cannot take (a straight-line price) still gets its page, which says why', async () => {
    const dir = path.join(tmp.dir, 'line');
    mkdirSync(dir);
    const h = 3_600_000;
    for (const base of ['BTC', 'LTC', 'XRP', 'SOL', 'ADA', 'DOT', 'LINK'])
      writeBarsCsv(
        path.join(dir, `${base}USDT_1h.csv`),
        Array.from({ length: 30 }, (_, i) => bar(i * h, { o: 100 + i }, '1h', `${base}/USDT`)),
      );
    const result = await runBacktest({
      configFile: path.join(repoRoot, 'config', 'portfolio-7.yaml'),
      dataFile: [dir],
      outDir: path.join(tmp.dir, 'line-out'),
    });
    ok(result.htmlFile);
    const html = readFileSync(result.htmlFile, 'utf8');
    ok(
      /market \(BTC\/USDT\): log returns of adjacent bars: no statistical tests \(/.test(html),
      'the page names the untested series',
    );
  });
});
