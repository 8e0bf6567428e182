/** The report page's content for a backtest's output folder (a walk-forward's is in reportWalkForward.ts). */
import * as path from 'node:path';
import {
  equityReturns,
  estimateSharpe,
  probabilisticSharpe,
  bootstrapTrades,
  adjacentLogReturns,
  StatsError,
} from '../operators/stats';
import type { ReportData } from './report';
import { readModelResiduals, type BacktestRun } from './researchData';
import { seriesStats, type SeriesStats } from './researchStats';

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

export function backtestReport(run: BacktestRun): ReportData {
  const { report, curve } = run;
  const returns = equityReturns([report.initialEquity, ...curve.equity]);
  const varies = returns.some((v) => v !== returns[0]);
  const estimate = varies ? estimateSharpe(returns) : undefined;
  const trips = curve.trips.map((t) => t.return);
  const boot = trips.length >= 2 ? bootstrapTrades(trips) : undefined;
  const summary: [string, string][] = [
    ['return', `${pct(report.totalReturn)} (buy & hold ${pct(report.buyAndHoldReturn)})`],
    ['equity', `${report.initialEquity.toFixed(2)} → ${report.finalEquity.toFixed(2)}`],
    ['max drawdown', pct(Math.max(0, ...curve.drawdown))],
    ['probabilistic Sharpe (vs 0)', estimate ? probabilisticSharpe(estimate, 0).toFixed(3) : '-'],
    ['round trips', String(curve.trips.length)],
  ];
  if (boot)
    summary.push(
      ['return, 95 % bootstrap CI', `${pct(boot.totalReturnInterval.low)} … ${pct(boot.totalReturnInterval.high)}`],
      [
        'max drawdown, 95 % bootstrap CI',
        `${pct(boot.maxDrawdownInterval.low)} … ${pct(boot.maxDrawdownInterval.high)}`,
      ],
    );
  const symbols = [...new Set(run.bars.map((b) => b.symbol))];
  const first = symbols.length > 1 ? run.bars.filter((b) => b.symbol === run.symbol) : run.bars;
  // A series the tests cannot take (too short, constant, collinear lags) is named in the notes;
  // it does not cost the run its page.
  const statistics: SeriesStats[] = [];
  const untested: string[] = [];
  const test = (label: string, x: Float64Array): void => {
    try {
      statistics.push(seriesStats(label, x));
    } catch (err) {
      if (!(err instanceof StatsError)) throw err;
      untested.push(`${label}: no statistical tests (${err.message}).`);
    }
  };
  test(
    `market${symbols.length > 1 ? ` (${run.symbol})` : ''}: log returns of adjacent bars`,
    adjacentLogReturns(first),
  );
  if (estimate) test('strategy: per-bar equity returns', returns);
  const model = readModelResiduals(run);
  if (model && model.residuals.length >= 50) {
    test(`ML model ${model.modelId} residuals (label − p, horizon ${model.horizon})`, model.residuals);
    summary.push(['ML model Brier score', `${model.brier.toFixed(4)} (base rate ${model.brierBaseRate.toFixed(4)})`]);
  }
  const config = (report as unknown as { config?: { file: string; hash: string; name: string } }).config;
  return {
    title: `Backtest: ${config?.name ?? path.basename(run.dir)} on ${report.data.symbol}`,
    provenance: [
      ['folder', run.dir],
      ['config', config ? `${config.file} (hash ${config.hash})` : '-'],
      [
        'data',
        report.data.file
          .split(', ')
          .map((f) => path.basename(f))
          .join(', '),
      ],
      ['bars', String(run.bars.length)],
      ...(symbols.length > 1
        ? [['symbols', `${symbols.join(', ')} (price and buy & hold curves: ${run.symbol})`] as [string, string]]
        : []),
    ],
    summary,
    curve: {
      ts: [...curve.ts],
      equity: [...curve.equity],
      buyAndHold: [...curve.buyAndHold],
      drawdown: [...curve.drawdown],
      close: closesAt(curve.ts, first),
    },
    // The price chart is the first symbol's: only its trades are marked on it.
    trips: symbols.length > 1 ? curve.trips.filter((t) => t.symbol === run.symbol) : curve.trips,
    statistics,
    notes: [
      'In-sample: one backtest over the whole period, no choice was made on other data. Costs (fees, slippage) are those of the paper venue.',
      ...untested,
    ],
  };
}

/** The close of `bars` (one symbol, time order) in force at each time of `ts`: the last at or before it. */
function closesAt(ts: ArrayLike<number>, bars: readonly { tsEvent: number; close: number }[]): number[] {
  const out: number[] = [];
  let j = 0;
  let last = bars[0]?.close ?? Number.NaN;
  for (let i = 0; i < ts.length; i++) {
    while (j < bars.length && (bars[j] as { tsEvent: number }).tsEvent <= (ts[i] as number)) {
      last = (bars[j] as { close: number }).close;
      j++;
    }
    out.push(last);
  }
  return out;
}
