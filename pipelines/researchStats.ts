/**
 * `research stats`: the statistical tests on a market's returns (and, given a backtest's output
 * folder, on the strategy's per-bar returns and trades), with their verdicts in words.
 */
import * as path from 'node:path';
import {
  adfTest,
  adjacentLogReturns,
  bootstrapTrades,
  equityReturns,
  estimateSharpe,
  hurstExponent,
  jarqueBeraTest,
  kpssTest,
  ljungBoxTest,
  logLevels,
  probabilisticSharpe,
  type AdfResult,
  type HurstResult,
  type JarqueBeraResult,
  type KpssResult,
  type LjungBoxRow,
  type TradeBootstrap,
} from '../operators/stats';
import { fileSha256, readBacktestRun, readCandles, readModelResiduals } from './researchData';

export interface SeriesStats {
  readonly series: string;
  readonly n: number;
  readonly adf: AdfResult;
  readonly kpss: KpssResult;
  readonly jarqueBera: JarqueBeraResult;
  readonly ljungBox: readonly LjungBoxRow[];
  readonly ljungBoxSquared: readonly LjungBoxRow[];
  readonly hurst: HurstResult;
}

export interface StatsReport {
  readonly data: {
    readonly file: string;
    readonly sha256: string;
    readonly bars: number;
    readonly from: string;
    readonly to: string;
  };
  readonly levels: { readonly adf: AdfResult; readonly kpss: KpssResult };
  readonly returns: SeriesStats;
  readonly strategy?: {
    readonly dir: string;
    readonly returns: SeriesStats;
    readonly sharpePerBar: number;
    readonly probabilisticSharpe: number;
    readonly roundTrips: number;
    readonly bootstrap: TradeBootstrap | null;
    /** The ML model's errors (label − p), when the run had a model and enough labelled signals. */
    readonly model: {
      readonly id: string;
      readonly horizon: number;
      readonly meanResidual: number;
      readonly brier: number;
      readonly brierBaseRate: number;
      readonly residuals: SeriesStats;
    } | null;
  };
}

const LB_LAGS = [5, 10, 20];

export function seriesStats(series: string, x: Float64Array): SeriesStats {
  return {
    series,
    n: x.length,
    adf: adfTest(x),
    kpss: kpssTest(x),
    jarqueBera: jarqueBeraTest(x),
    ljungBox: ljungBoxTest(x, LB_LAGS),
    ljungBoxSquared: ljungBoxTest(
      x.map((v) => v * v),
      LB_LAGS,
    ),
    hurst: hurstExponent(x),
  };
}

export interface ResearchStatsOptions {
  readonly dataFile: string;
  readonly from?: number;
  readonly until?: number;
  /** A backtest's output folder: adds the strategy's returns, PSR and the trade bootstrap. */
  readonly backtestDir?: string;
  readonly onProgress?: (message: string) => void;
}

export function runResearchStats(options: ResearchStatsOptions): StatsReport {
  const progress = options.onProgress ?? (() => {});
  const bars = readCandles(options.dataFile, {
    ...(options.from !== undefined ? { from: options.from } : {}),
    ...(options.until !== undefined ? { until: options.until } : {}),
  });
  if (bars.length < 50)
    throw new Error(`${options.dataFile}: ${bars.length} bars in the selected range; the tests need at least 50`);
  progress(`${bars.length} bars from ${path.basename(options.dataFile)}: tests on log prices`);
  const levels = logLevels(bars);
  const levelStats = { adf: adfTest(levels), kpss: kpssTest(levels) };
  progress('tests on log returns');
  const returns = seriesStats('log returns of adjacent bars', adjacentLogReturns(bars));
  const report: StatsReport = {
    data: {
      file: options.dataFile,
      sha256: fileSha256(options.dataFile),
      bars: bars.length,
      from: new Date((bars[0] as (typeof bars)[0]).tsOpen).toISOString(),
      to: new Date((bars[bars.length - 1] as (typeof bars)[0]).tsEvent).toISOString(),
    },
    levels: levelStats,
    returns,
  };
  if (!options.backtestDir) return report;
  progress(`strategy returns of ${options.backtestDir}`);
  const run = readBacktestRun(options.backtestDir);
  const r = equityReturns(run.curve.equity);
  const estimate = estimateSharpe(r);
  const trips = run.curve.trips.map((t) => t.return);
  return {
    ...report,
    strategy: {
      dir: options.backtestDir,
      returns: seriesStats('per-bar equity returns of the strategy', r),
      sharpePerBar: estimate.sharpe,
      probabilisticSharpe: probabilisticSharpe(estimate, 0),
      roundTrips: trips.length,
      bootstrap: trips.length >= 2 ? bootstrapTrades(trips) : null,
      model: modelStats(run),
    },
  };
}

function modelStats(run: ReturnType<typeof readBacktestRun>): NonNullable<StatsReport['strategy']>['model'] {
  const m = readModelResiduals(run);
  if (!m || m.residuals.length < 50) return null;
  return {
    id: m.modelId,
    horizon: m.horizon,
    meanResidual: m.residuals.reduce((a, b) => a + b, 0) / m.residuals.length,
    brier: m.brier,
    brierBaseRate: m.brierBaseRate,
    residuals: seriesStats(`ML model residuals (label − p, horizon ${m.horizon})`, m.residuals),
  };
}

function p(x: number): string {
  return x < 1e-16 ? '< 1e-16' : x < 1e-4 ? x.toExponential(2) : x.toFixed(4);
}

function describeSeries(s: SeriesStats): string[] {
  const lb = s.ljungBox[s.ljungBox.length - 1] as LjungBoxRow;
  const lb2 = s.ljungBoxSquared[s.ljungBoxSquared.length - 1] as LjungBoxRow;
  const h = s.hurst.hurst;
  return [
    `  ${s.series} (n = ${s.n})`,
    `    ADF     stat ${s.adf.statistic.toFixed(3)}  p ${p(s.adf.pValue)}  lag ${s.adf.usedLag}  → ${s.adf.pValue < 0.05 ? 'no unit root (stationary)' : 'unit root not rejected'}`,
    `    KPSS    stat ${s.kpss.statistic.toFixed(3)}  p ${s.kpss.pValueBound === 'below' ? '< ' : s.kpss.pValueBound === 'above' ? '> ' : ''}${p(s.kpss.pValue)}  → ${s.kpss.pValue <= 0.05 ? 'not level-stationary' : 'level-stationary not rejected'}`,
    `    JB      stat ${s.jarqueBera.statistic.toFixed(1)}  p ${p(s.jarqueBera.pValue)}  skew ${s.jarqueBera.skewness.toFixed(3)}  kurtosis ${s.jarqueBera.kurtosis.toFixed(2)}  → ${s.jarqueBera.pValue < 0.05 ? `not normal (${s.jarqueBera.kurtosis > 3 ? 'fat' : 'thin'} tails)` : 'normality not rejected'}`,
    `    LB(${lb.lag})  stat ${lb.statistic.toFixed(2)}  p ${p(lb.pValue)}  → ${lb.pValue < 0.05 ? 'autocorrelated' : 'no autocorrelation found'}`,
    `    LB²(${lb2.lag}) stat ${lb2.statistic.toFixed(2)}  p ${p(lb2.pValue)}  → ${lb2.pValue < 0.05 ? 'volatility clusters (ARCH effects)' : 'no ARCH effects found'}`,
    `    Hurst   ${h.toFixed(3)}  → ${h > 0.55 ? 'persistent (trending)' : h < 0.45 ? 'anti-persistent (mean-reverting)' : 'close to a random walk'}`,
  ];
}

export function formatStats(report: StatsReport): string {
  const lines = [
    `research stats on ${path.basename(report.data.file)} (${report.data.bars} bars, ${report.data.from} → ${report.data.to}, sha256 ${report.data.sha256.slice(0, 12)})`,
    '  log prices',
    `    ADF     stat ${report.levels.adf.statistic.toFixed(3)}  p ${p(report.levels.adf.pValue)}  → ${report.levels.adf.pValue < 0.05 ? 'no unit root' : 'unit root not rejected'}`,
    `    KPSS    stat ${report.levels.kpss.statistic.toFixed(3)}  → ${report.levels.kpss.pValue <= 0.05 ? 'not level-stationary' : 'level-stationary not rejected'}`,
    ...describeSeries(report.returns),
  ];
  if (report.strategy) {
    const s = report.strategy;
    lines.push(...describeSeries(s.returns));
    lines.push(
      `    Sharpe per bar ${s.sharpePerBar.toFixed(4)}, probabilistic Sharpe (vs 0) ${s.probabilisticSharpe.toFixed(3)}`,
    );
    if (s.bootstrap) {
      const b = s.bootstrap;
      lines.push(
        `    ${s.roundTrips} round trips; bootstrap ${(b.confidence * 100).toFixed(0)} % CI of return ${(b.totalReturnInterval.low * 100).toFixed(2)} % … ${(b.totalReturnInterval.high * 100).toFixed(2)} %, ` +
          `of max drawdown ${(b.maxDrawdownInterval.low * 100).toFixed(2)} % … ${(b.maxDrawdownInterval.high * 100).toFixed(2)} %, P(loss) ${b.probabilityOfLoss.toFixed(3)}`,
      );
    } else lines.push(`    ${s.roundTrips} round trips: too few to bootstrap`);
    if (s.model) {
      lines.push(...describeSeries(s.model.residuals));
      lines.push(
        `    model ${s.model.id}: mean residual ${s.model.meanResidual.toFixed(4)} (bias), Brier ${s.model.brier.toFixed(4)} vs ${s.model.brierBaseRate.toFixed(4)} for the base rate → ${s.model.brier < s.model.brierBaseRate ? 'better than the base rate' : 'no better than the base rate'}`,
      );
    }
  }
  return lines.join('\n');
}
