/**
 * The report page's content for a walk-forward result. Apart from reportData.ts so that a backtest
 * (which writes its own page) does not depend on the walk-forward that runs backtests.
 */
import * as path from 'node:path';
import type { ReportData } from './report';
import type { WalkForwardResult } from './researchWalkForward';

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
/** The data file names without their folders (a universe's are joined by ", "). */
const names = (files: string) =>
  files
    .split(', ')
    .map((f) => path.basename(f))
    .join(', ');

export function walkForwardReport(r: WalkForwardResult): ReportData {
  const o = r.outOfSample;
  const summary: [string, string][] = [
    ['out-of-sample return', `${pct(o.totalReturn)} (buy & hold ${pct(o.buyAndHoldReturn)})`],
    ['max drawdown', pct(o.maxDrawdown)],
    ['Sharpe (annualised)', o.sharpeAnnualised.toFixed(2)],
  ];
  if (o.deflated) {
    summary.push(['probabilistic Sharpe (vs 0)', o.deflated.probabilisticSharpe.toFixed(3)]);
    summary.push([`deflated Sharpe (${o.deflated.trials} trials)`, o.deflated.deflatedSharpe.toFixed(3)]);
  }
  summary.push(['PBO (CSCV)', o.pbo ? `${o.pbo.pbo.toFixed(3)} over ${o.pbo.splits} splits` : 'needs ≥ 2 candidates']);
  if (o.bootstrap)
    summary.push(
      [
        `return, ${(o.bootstrap.confidence * 100).toFixed(0)} % bootstrap CI`,
        `${pct(o.bootstrap.totalReturnInterval.low)} … ${pct(o.bootstrap.totalReturnInterval.high)}`,
      ],
      [
        `max drawdown, ${(o.bootstrap.confidence * 100).toFixed(0)} % bootstrap CI`,
        `${pct(o.bootstrap.maxDrawdownInterval.low)} … ${pct(o.bootstrap.maxDrawdownInterval.high)}`,
      ],
    );
  summary.push(['round trips (out of sample)', String(o.roundTrips)]);
  return {
    title: `Walk-forward: ${r.config.name} on ${r.data.symbol} (${names(r.data.file)})`,
    provenance: [
      ['config', `${r.config.file} (hash ${r.config.hash})`],
      ['data', `${names(r.data.file)}, sha256 ${r.data.sha256.slice(0, 16)}…`],
      ['period', `${r.data.from} → ${r.data.to} (${r.data.bars} bars)`],
      [
        'scheme',
        `${r.scheme.mode}, ${r.scheme.folds} folds, train ${r.scheme.trainBars} / test ${r.scheme.testBars} bars`,
      ],
      ['purge + embargo', `${r.scheme.purgeBars} + ${r.scheme.embargoBars} bars`],
      ['candidates', r.candidates.map((c) => `${c.index}: ${JSON.stringify(c.overrides)}`).join('; ')],
      ['chosen by', `${r.scheme.objective} on the training part`],
    ],
    summary,
    curve: r.curve,
    trips: r.trips,
    folds: {
      header: [
        'fold',
        'train',
        'test',
        'chosen',
        'return',
        'buy & hold',
        'Sharpe',
        'max DD',
        'fills',
        'fees',
        'all candidates’ test returns',
      ],
      rows: r.folds.map((f) => [
        String(f.index),
        `${f.train.from.slice(0, 10)} → ${f.train.to.slice(0, 10)}`,
        `${f.test.from.slice(0, 10)} → ${f.test.to.slice(0, 10)}`,
        String(f.chosen),
        pct(f.testMetrics.totalReturn),
        pct(f.testMetrics.buyAndHoldReturn),
        f.testMetrics.sharpe.toFixed(2),
        pct(f.testMetrics.maxDrawdown),
        String(f.testMetrics.trades),
        f.testMetrics.fees,
        f.candidateTestReturns.map(pct).join(', '),
      ]),
    },
    statistics: r.statistics,
    notes: [
      'Every fold starts flat with the config’s initial capital; the stitched curve compounds the folds’ per-bar returns. Costs (fees, slippage) are those of the paper venue.',
    ],
  };
}
