/**
 * Regression on real data: the shipped configs pay for their costs on the period their
 * parameters were chosen on (Binance BTC/USDT 5m, 2020-12 → 2021-03). Before forecasts, the cost
 * gate and brackets, Growth made 3,403 fills on this file and paid 6× its gross PnL in fees.
 * The later period (2021-04 → 2021-07) is reported in the README, never asserted or tuned on.
 */
import { ok } from 'node:assert/strict';
import * as path from 'node:path';
import { runBacktest } from '../../pipelines/backtest';
import { loadConfig } from '../../pipelines/config';
import { trainModel } from '../../pipelines/train';
import { readBarsCsv } from '../../sources/csvBars';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const FILE = 'candles/binance_spot_BTCUSDT_5m_nfi.csv';
const UNTIL = Date.UTC(2021, 3, 1);

describe('shipped configs on real data, 2020-12 → 2021-03 (the period they were chosen on)', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  for (const name of ['growth', 'survival']) {
    it(`${name}: at most 2 round trips a day, fees at most 30 % of the gross PnL, a positive net return`, async function () {
      const data = requireSharedData(this, FILE);
      const { report } = await runBacktest({
        configFile: path.join(repoRoot, 'config', `${name}.yaml`),
        dataFile: data,
        until: UNTIL,
        outDir: path.join(tmp.dir, name),
      });
      const days = report.bars / 288;
      const fees = Number(report.fees);
      const gross = Number(report.realizedPnl);
      ok(report.roundTrips > 0, 'no round trip at all: the test would prove nothing');
      ok(report.roundTrips / days <= 2, `${report.roundTrips} round trips in ${days.toFixed(0)} days`);
      ok(gross > 0 && fees <= 0.3 * gross, `fees ${fees} against a gross PnL of ${gross}`);
      ok(report.totalReturn > 0, `net return ${report.totalReturn}`);
      ok(report.maxDrawdown < 0.1, `max drawdown ${report.maxDrawdown}`);
    });
  }

  it('growth-7 (seven symbols, one book): at most 2 round trips per symbol a day, fees at most 30 % of the gross PnL, a positive net return', async function () {
    const symbols = ['BTC', 'LTC', 'XRP', 'SOL', 'ADA', 'DOT', 'LINK'];
    const files = symbols.map(
      (s) => `${s}/USDT=${requireSharedData(this, `candles/binance_spot_${s}USDT_5m_nfi.csv`)}`,
    );
    const { report } = await runBacktest({
      configFile: path.join(repoRoot, 'config', 'growth-7.yaml'),
      dataFile: files,
      until: UNTIL,
      outDir: path.join(tmp.dir, 'growth-7'),
    });
    const days = report.bars / 288;
    const fees = Number(report.fees);
    const gross = Number(report.realizedPnl);
    ok(report.roundTrips > 0, 'no round trip at all: the test would prove nothing');
    ok(report.roundTrips / days / symbols.length <= 2, `${report.roundTrips} round trips in ${days.toFixed(0)} days`);
    ok(gross > 0 && fees <= 0.3 * gross, `fees ${fees} against a gross PnL of ${gross}`);
    ok(report.totalReturn > 0, `net return ${report.totalReturn}`);
  });

  it('ML: probabilities calibrated on a later slice score better than the raw network on the test slice', async function () {
    const data = requireSharedData(this, FILE);
    const config = loadConfig(path.join(repoRoot, 'config', 'growth.yaml'));
    const bars = readBarsCsv(data, { venue: 'binance', symbol: 'BTC/USDT', timeframe: '5m', until: UNTIL });
    const model = await trainModel(
      {
        ...config,
        signals: {
          ...config.signals,
          ml: { ...config.signals.ml!, training: { ...config.signals.ml!.training!, iterations: 10 } },
        },
      },
      bars,
      { dataFile: 'real', dataSha256: '0' },
    );
    const c = model.metrics.calibration;
    ok(c && model.calibration, 'no calibration');
    ok(c.samples > 1000, `${c.samples} test samples`);
    ok(c.logLoss < model.metrics.oosLogLoss, `calibrated log loss ${c.logLoss} vs raw ${model.metrics.oosLogLoss}`);
    const predicted = c.reliability.reduce((sum, r) => sum + r.meanPredicted * r.count, 0) / c.samples;
    ok(Math.abs(predicted - c.baseRate) < 0.1, `mean prediction ${predicted} vs observed rate ${c.baseRate}`);
    ok(c.reliability.reduce((sum, r) => sum + r.count, 0) === c.samples);
  });
});
