/**
 * `research walk-forward`: in each fold, choose among candidate configs on the training part, then
 * trade the next part unseen; purge and embargo bars between them; stitch the out-of-sample
 * equity, and report per-fold metrics next to buy-and-hold with the overfitting controls (PSR, DSR
 * counting the candidates, PBO by CSCV over the candidates' out-of-sample returns, a bootstrap of
 * the out-of-sample round trips).
 *
 * Fold layout over the T bars selected (indices, half-open):
 *
 *   anchored:  train [0, e_i)          gap [e_i, s_i)  test [s_i, s_i + L)
 *   rolling:   train [e_i − W, e_i)    gap [e_i, s_i)  test [s_i, s_i + L)
 *
 * with gap = purge + embargo bars (purge: the longest look-ahead of a label or indicator window
 * that straddles the boundary; embargo: extra bars against serial correlation, López de Prado's
 * ~1 % of T), the first training part the first `trainFraction` of the bars, and the remaining
 * bars cut into `folds` test parts of equal length L. Every backtest starts flat with the config's
 * initial capital; indicators warm up inside the part (no bar of another part is seen).
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import {
  adjacentLogReturns,
  bootstrapTrades,
  deflatedSharpe,
  equityReturns,
  estimateSharpe,
  probabilityOfBacktestOverfitting,
  type DeflatedSharpe,
  type PboResult,
  type RoundTrip,
  type TradeBootstrap,
} from '../operators/stats';
import { unitsToNumber } from '../operators/money';
import { timeframeMs, type Bar } from '../operators/types';
import { readBarsCsv } from '../sources/csvBars';
import { backtestBars, mergeByEventTime, resolveDataFiles } from './backtest';
import type { PipelineConfig } from './config';
import { compileModel, type CompiledModel } from '../operators/mlModel';
import { loadModelFor } from './model';
import { trainModel } from './train';
import { loadConfigWith, type Overrides } from './researchConfig';
import { fileSha256, readBacktestRun } from './researchData';
import { seriesStats, type SeriesStats } from './researchStats';

export type Objective = 'sharpe' | 'return';

export interface WalkForwardOptions {
  readonly configFile: string;
  /**
   * Bars CSV of a one-symbol config; for a universe, every symbol's file (or folders of them),
   * matched to the instruments by name as `backtest --data` does.
   */
  readonly dataFile: string | readonly string[];
  /** Candidate overrides (from parameterGrid); default one candidate: the config as it is. */
  readonly candidates?: readonly Overrides[];
  readonly folds?: number;
  readonly mode?: 'rolling' | 'anchored';
  /** Share of the bars in the first training part. Default 1/3. */
  readonly trainFraction?: number;
  /** Instead of trainFraction: the first training part ends before this time (ms). */
  readonly trainUntil?: number;
  readonly purgeBars?: number;
  /** Default ⌈1 % of the bars⌉. */
  readonly embargoBars?: number;
  readonly objective?: Objective;
  readonly from?: number;
  readonly until?: number;
  /** Folder for the folds' backtests (journals of the chosen candidate per test part). */
  readonly outDir: string;
  readonly onProgress?: (message: string) => void;
  /**
   * Train the ML model afresh in every fold, on that fold's training part only (the config's
   * `signals.ml.training`), and trade the test part with it. Default: true when the config has
   * `signals.ml.training`; false uses the model file the config names in every fold.
   */
  readonly retrainModel?: boolean;
  /**
   * Run the statistical tests (ADF, KPSS, Jarque–Bera, Ljung–Box, Hurst) on the market's and the
   * strategy's returns. Default true. `optimize` and `evolve` trials turn them off: the market's
   * are the same in every trial, and the deflated Sharpe needs only `outOfSample.moments`.
   */
  readonly statistics?: boolean;
}

/** The ML model a fold traded with, trained on that fold's training part. */
export interface FoldModel {
  readonly id: string;
  /** First and last training sample, and the model's own held-out slice (all inside the training part). */
  readonly trainedFrom: string;
  readonly trainedTo: string;
  readonly heldOutTo: string;
  readonly trainSamples: number;
  /** Log loss on the model's held-out slice of the training part. */
  readonly heldOutLogLoss: number;
}

export interface PartRange {
  readonly from: string;
  readonly to: string;
  readonly bars: number;
}

export interface FoldResult {
  readonly index: number;
  readonly train: PartRange;
  readonly test: PartRange;
  readonly purgeBars: number;
  readonly embargoBars: number;
  /** Training-part score of every candidate (the objective; empty with a single candidate), and the one chosen. */
  readonly trainScores: readonly number[];
  readonly chosen: number;
  readonly testMetrics: {
    readonly totalReturn: number;
    readonly buyAndHoldReturn: number;
    readonly sharpe: number;
    readonly maxDrawdown: number;
    readonly trades: number;
    readonly roundTrips: number;
    readonly fees: string;
    readonly configHash: string;
  };
  /** Out-of-sample return of every candidate on this test part (what choosing another would have given). */
  readonly candidateTestReturns: readonly number[];
  /** The chosen candidate's ML model, when it was retrained for this fold. */
  readonly model?: FoldModel;
}

export interface WalkForwardResult {
  readonly kind: 'walk-forward';
  readonly config: { readonly file: string; readonly name: string; readonly hash: string };
  readonly data: {
    readonly file: string;
    readonly sha256: string;
    readonly bars: number;
    readonly from: string;
    readonly to: string;
    readonly symbol: string;
  };
  readonly scheme: {
    readonly mode: 'rolling' | 'anchored';
    readonly folds: number;
    readonly trainBars: number;
    readonly testBars: number;
    readonly purgeBars: number;
    readonly embargoBars: number;
    readonly objective: Objective;
  };
  readonly candidates: readonly { readonly index: number; readonly overrides: Overrides; readonly hash: string }[];
  readonly folds: readonly FoldResult[];
  readonly outOfSample: {
    readonly bars: number;
    readonly totalReturn: number;
    readonly buyAndHoldReturn: number;
    readonly maxDrawdown: number;
    readonly sharpeAnnualised: number;
    readonly sharpePerBar: number;
    /** Skewness and kurtosis (biased, 3 for normal) of the stitched per-bar returns; null when they do not vary. */
    readonly moments: { readonly skewness: number; readonly kurtosis: number } | null;
    readonly deflated: DeflatedSharpe | null;
    readonly pbo: PboResult | null;
    readonly bootstrap: TradeBootstrap | null;
    readonly roundTrips: number;
  };
  /** Stitched out-of-sample curves (equity starts at the initial capital), one point per test bar. */
  readonly curve: {
    readonly ts: number[];
    readonly equity: number[];
    readonly buyAndHold: number[];
    readonly drawdown: number[];
    readonly close: number[];
  };
  readonly trips: readonly RoundTrip[];
  readonly trials: number;
  /** The tests on the market's log returns (all bars selected) and on the stitched out-of-sample returns. */
  readonly statistics: readonly SeriesStats[];
}

interface Layout {
  readonly trainStart: number;
  readonly trainEnd: number;
  readonly testStart: number;
  readonly testEnd: number;
}

/** The fold index ranges (see the module comment); throws when the parts would be too short. */
export function layoutFolds(
  total: number,
  folds: number,
  mode: 'rolling' | 'anchored',
  trainFraction: number,
  gap: number,
): { layouts: Layout[]; trainBars: number; testBars: number } {
  if (!Number.isInteger(folds) || folds < 1)
    throw new RangeError(`walk-forward: folds must be an integer ≥ 1, found ${folds}`);
  if (!(trainFraction > 0 && trainFraction < 1))
    throw new RangeError(`walk-forward: train fraction must be in (0, 1), found ${trainFraction}`);
  const trainBars = Math.round(total * trainFraction);
  const testBars = Math.floor((total - trainBars - gap) / folds);
  if (trainBars < 100 || testBars < 100)
    throw new RangeError(
      `walk-forward: ${total} bars give ${trainBars} training and ${testBars} test bars per fold (gap ${gap}); each needs at least 100 — fewer folds or more data`,
    );
  const layouts: Layout[] = [];
  for (let i = 0; i < folds; i++) {
    const testStart = trainBars + gap + i * testBars;
    const trainEnd = testStart - gap;
    layouts.push({
      trainStart: mode === 'anchored' ? 0 : trainEnd - trainBars,
      trainEnd,
      testStart,
      testEnd: testStart + testBars,
    });
  }
  return { layouts, trainBars, testBars };
}

function range(bars: readonly Bar[]): PartRange {
  return {
    from: new Date((bars[0] as Bar).tsOpen).toISOString(),
    to: new Date((bars[bars.length - 1] as Bar).tsEvent).toISOString(),
    bars: bars.length,
  };
}

function foldModel(model: CompiledModel): FoldModel {
  const t = model.file.training;
  return {
    id: model.file.id,
    trainedFrom: new Date(t.from).toISOString(),
    trainedTo: new Date(t.to).toISOString(),
    heldOutTo: new Date(t.testTo).toISOString(),
    trainSamples: t.trainSamples,
    heldOutLogLoss: model.file.metrics.oosLogLoss,
  };
}

function score(objective: Objective, report: { sharpe: number; totalReturn: number }): number {
  const v = objective === 'sharpe' ? report.sharpe : report.totalReturn;
  return Number.isFinite(v) ? v : -Infinity;
}

export async function runWalkForward(options: WalkForwardOptions): Promise<WalkForwardResult> {
  const progress = options.onProgress ?? (() => {});
  const candidates = options.candidates && options.candidates.length > 0 ? options.candidates : [{}];
  const configs: PipelineConfig[] = candidates.map((o) => loadConfigWith(options.configFile, o));
  const base = configs[0] as PipelineConfig;
  const retrain = options.retrainModel ?? configs.some((c) => c.signals.ml?.training !== undefined);
  // Retraining: no model file is read; each fold trains its own (below).
  const fixedModels = configs.map((c) =>
    c.signals.ml && !(retrain && c.signals.ml.training) ? loadModelFor(c) : undefined,
  );
  const files = resolveDataFiles(base, typeof options.dataFile === 'string' ? [options.dataFile] : options.dataFile);
  const dataFiles = base.instruments.map((i) => files.get(i.symbol) as string);
  const bars = mergeByEventTime(
    base.instruments.map((instrument) => {
      const file = files.get(instrument.symbol) as string;
      const series = readBarsCsv(file, {
        venue: instrument.venue,
        symbol: instrument.symbol,
        timeframe: base.timeframe,
        ...(options.from !== undefined ? { from: options.from } : {}),
        ...(options.until !== undefined ? { until: options.until } : {}),
      });
      if (series.length === 0) throw new Error(`${file}: no ${instrument.symbol} bars in the selected range`);
      return series;
    }),
  );
  const universe = base.instruments.length > 1;
  if (universe && retrain && configs.some((c) => c.signals.ml?.training))
    throw new RangeError(
      `walk-forward: retraining the ML model per fold needs a one-symbol config (${base.file} trades ${base.instruments.length}); pass --no-retrain`,
    );
  // The folds are laid out over bar times: with a universe, all symbols' bars of a time are in the same part.
  const times: number[] = [];
  const firstBarAt: number[] = [];
  for (const [k, bar] of bars.entries())
    if (times.length === 0 || bar.tsEvent !== times[times.length - 1]) {
      times.push(bar.tsEvent);
      firstBarAt.push(k);
    }
  firstBarAt.push(bars.length);
  const sliceTimes = (from: number, to: number): Bar[] =>
    bars.slice(firstBarAt[from] as number, firstBarAt[to] as number);
  const firstSymbol = base.instrument.symbol;
  const folds = options.folds ?? 6;
  const mode = options.mode ?? 'rolling';
  const purgeBars = options.purgeBars ?? 0;
  const embargoBars = options.embargoBars ?? Math.ceil(times.length * 0.01);
  if (!Number.isInteger(purgeBars) || purgeBars < 0)
    throw new RangeError(`walk-forward: purge must be an integer ≥ 0, found ${purgeBars}`);
  if (!Number.isInteger(embargoBars) || embargoBars < 0)
    throw new RangeError(`walk-forward: embargo must be an integer ≥ 0, found ${embargoBars}`);
  const objective = options.objective ?? 'sharpe';
  let trainFraction = options.trainFraction ?? 1 / 3;
  if (options.trainUntil !== undefined) {
    const cut = times.findIndex((t) => t - timeframeMs(base.timeframe) >= (options.trainUntil as number));
    if (cut <= 0)
      throw new RangeError(
        `walk-forward: --train-until ${new Date(options.trainUntil).toISOString()} leaves no training or no test bars`,
      );
    trainFraction = cut / times.length;
  }
  const { layouts, trainBars, testBars } = layoutFolds(
    times.length,
    folds,
    mode,
    trainFraction,
    purgeBars + embargoBars,
  );
  const scratch = path.join(options.outDir, 'scratch');
  const initial = unitsToNumber(base.initialCash);
  const perBarYear = Math.sqrt((365 * 86_400_000) / timeframeMs(base.timeframe));

  // One file: its sha256; several: the sha256 of their "symbol sha256" lines (universe order).
  const fileHashes = dataFiles.map((f) => fileSha256(f));
  const dataSha256 = universe
    ? createHash('sha256')
        .update(base.instruments.map((i, k) => `${i.symbol} ${fileHashes[k]}\n`).join(''))
        .digest('hex')
    : (fileHashes[0] as string);
  // Candidates that differ only outside the model's inputs and label share one model per fold.
  const modelKey = (c: PipelineConfig): string =>
    JSON.stringify([
      c.features,
      c.signals.ml,
      c.signals.timeframes,
      c.signals.patterns,
      c.execution.takerFeeBps,
      c.execution.slippageBps,
    ]);
  const trainFoldModels = async (fold: number, train: readonly Bar[]): Promise<(CompiledModel | undefined)[]> => {
    const byKey = new Map<string, CompiledModel>();
    const out: (CompiledModel | undefined)[] = [];
    for (const [c, config] of configs.entries()) {
      if (!(retrain && config.signals.ml?.training)) {
        out.push(fixedModels[c]);
        continue;
      }
      const key = modelKey(config);
      let model = byKey.get(key);
      if (!model) {
        try {
          model = compileModel(
            await trainModel(config, train, { dataFile: path.basename(dataFiles[0] as string), dataSha256 }),
          );
        } catch (err) {
          throw new Error(
            `walk-forward fold ${fold}: cannot train the ML model on the training part (${range(train).from} → ${range(train).to}): ${(err as Error).message}`,
            { cause: err },
          );
        }
        progress(
          `fold ${fold}/${folds}: ML model ${model.file.id} trained on ${new Date(model.file.training.from).toISOString().slice(0, 16)} → ${new Date(model.file.training.to).toISOString().slice(0, 16)} (held-out log loss ${model.file.metrics.oosLogLoss.toFixed(4)})`,
        );
        byKey.set(key, model);
      }
      out.push(model);
    }
    return out;
  };
  let models: (CompiledModel | undefined)[] = fixedModels;

  const run = async (c: number, part: readonly Bar[], dir: string) => {
    const config = configs[c] as PipelineConfig;
    const model = models[c];
    return backtestBars(config, part, { dataFile: dataFiles, outDir: dir, ...(model ? { model } : {}) });
  };

  const foldResults: FoldResult[] = [];
  const stitched: { ts: number[]; equity: number[]; buyAndHold: number[]; close: number[] } = {
    ts: [],
    equity: [],
    buyAndHold: [],
    close: [],
  };
  const chosenReturns: number[] = [];
  const candidateReturns: number[][] = candidates.map(() => []);
  const trips: RoundTrip[] = [];
  let equityNow = initial;
  let holdNow = initial;
  for (const [i, layout] of layouts.entries()) {
    const train = sliceTimes(layout.trainStart, layout.trainEnd);
    const test = sliceTimes(layout.testStart, layout.testEnd);
    progress(
      `fold ${i + 1}/${folds}: train ${range(train).from.slice(0, 10)} → ${range(train).to.slice(0, 10)} (${train.length} bars), ${candidates.length > 1 ? `${candidates.length} candidates` : 'one candidate: nothing to choose, not run'}`,
    );
    if (retrain) models = await trainFoldModels(i + 1, train);
    const trainScores: number[] = [];
    // With one candidate there is nothing to choose: its training part is not run.
    for (let c = 0; c < (candidates.length > 1 ? candidates.length : 0); c++) {
      const dir = path.join(scratch, `fold-${i + 1}-train-${c}`);
      const { report } = await run(c, train, dir);
      rmSync(dir, { recursive: true, force: true });
      trainScores.push(score(objective, report));
    }
    let chosen = 0;
    for (let c = 1; c < candidates.length; c++)
      if ((trainScores[c] as number) > (trainScores[chosen] as number)) chosen = c;
    const candidateTestReturns: number[] = [];
    let chosenReport: Awaited<ReturnType<typeof run>>['report'] | undefined;
    for (let c = 0; c < candidates.length; c++) {
      const keep = c === chosen;
      const dir = keep
        ? path.join(options.outDir, `fold-${i + 1}-test`)
        : path.join(scratch, `fold-${i + 1}-test-${c}`);
      const { report } = await run(c, test, dir);
      const curve = readBacktestRun(dir, test).curve;
      const r = equityReturns([initial, ...curve.equity]);
      for (const v of r) (candidateReturns[c] as number[]).push(v);
      candidateTestReturns.push(report.totalReturn);
      if (keep) {
        chosenReport = report;
        trips.push(...curve.trips);
        for (const v of r) {
          chosenReturns.push(v);
          equityNow *= 1 + v;
          stitched.equity.push(equityNow);
        }
        // Buy-and-hold over the part: equal weights bought at each symbol's first open (a symbol
        // not yet traded counts as cash), as the backtest report's; the price line is the first symbol's.
        const holdStart = holdNow;
        const entry = new Map<string, number>();
        const ratio = new Map<string, number>();
        let close = Number.NaN;
        let k = 0;
        while (k < test.length) {
          const t = (test[k] as Bar).tsEvent;
          for (; k < test.length && (test[k] as Bar).tsEvent === t; k++) {
            const bar = test[k] as Bar;
            if (!entry.has(bar.symbol)) entry.set(bar.symbol, bar.open);
            ratio.set(bar.symbol, bar.close / (entry.get(bar.symbol) as number));
            if (bar.symbol === firstSymbol) close = bar.close;
          }
          let sum = 0;
          for (const v of ratio.values()) sum += v;
          holdNow = holdStart * ((sum + (base.instruments.length - ratio.size)) / base.instruments.length);
          stitched.ts.push(t);
          stitched.close.push(close);
          stitched.buyAndHold.push(holdNow);
        }
      } else rmSync(dir, { recursive: true, force: true });
    }
    const rep = chosenReport as NonNullable<typeof chosenReport>;
    foldResults.push({
      index: i + 1,
      train: range(train),
      test: range(test),
      purgeBars,
      embargoBars,
      trainScores,
      chosen,
      testMetrics: {
        totalReturn: rep.totalReturn,
        buyAndHoldReturn: rep.buyAndHoldReturn,
        sharpe: rep.sharpe,
        maxDrawdown: rep.maxDrawdown,
        trades: rep.trades,
        roundTrips: rep.roundTrips,
        fees: rep.fees,
        configHash: rep.config.hash,
      },
      candidateTestReturns,
      ...(retrain && models[chosen] && configs[chosen]?.signals.ml?.training
        ? { model: foldModel(models[chosen] as CompiledModel) }
        : {}),
    });
    progress(
      `fold ${i + 1}/${folds}: ${candidates.length > 1 ? `chose candidate ${chosen} (${objective} ${(trainScores[chosen] as number).toFixed(3)} in training)` : 'one candidate'}; test ${range(test).from.slice(0, 10)} → ${range(test).to.slice(0, 10)}: return ${(rep.totalReturn * 100).toFixed(2)} % vs buy & hold ${(rep.buyAndHoldReturn * 100).toFixed(2)} %`,
    );
  }
  rmSync(scratch, { recursive: true, force: true });

  let peak = -Infinity;
  const drawdown = stitched.equity.map((e) => {
    peak = Math.max(peak, e);
    return 1 - e / peak;
  });
  const varies = (r: readonly number[]) => r.some((v) => v !== r[0]);
  const estimate = chosenReturns.length >= 3 && varies(chosenReturns) ? estimateSharpe(chosenReturns) : undefined;
  const trialSharpes = candidateReturns.map((r) => (r.length >= 3 && varies(r) ? estimateSharpe(r).sharpe : 0));
  const blocks = Math.min(16, 2 * Math.floor(chosenReturns.length / 4));
  const pbo =
    candidates.length >= 2 && blocks >= 2
      ? probabilityOfBacktestOverfitting(
          chosenReturns.map((_, t) => candidateReturns.map((r) => r[t] as number)),
          { blocks },
        )
      : null;
  const trialReturns = trips.map((t) => t.return);
  return {
    kind: 'walk-forward',
    config: { file: options.configFile, name: base.name, hash: base.hash },
    data: {
      file: dataFiles.join(', '),
      sha256: dataSha256,
      ...range(bars),
      bars: times.length,
      symbol: base.instruments.map((i) => i.symbol).join(', '),
    },
    scheme: { mode, folds, trainBars, testBars, purgeBars, embargoBars, objective },
    candidates: candidates.map((overrides, index) => ({
      index,
      overrides,
      hash: (configs[index] as PipelineConfig).hash,
    })),
    folds: foldResults,
    outOfSample: {
      bars: chosenReturns.length,
      totalReturn: equityNow / initial - 1,
      buyAndHoldReturn: holdNow / initial - 1,
      maxDrawdown: Math.max(0, ...drawdown),
      sharpePerBar: estimate?.sharpe ?? 0,
      sharpeAnnualised: (estimate?.sharpe ?? 0) * perBarYear,
      moments: estimate ? { skewness: estimate.skewness, kurtosis: estimate.kurtosis } : null,
      deflated: estimate ? deflatedSharpe(estimate, candidates.length, trialSharpes) : null,
      pbo: pbo ? { ...pbo, logits: [] } : null,
      bootstrap: trialReturns.length >= 2 ? bootstrapTrades(trialReturns) : null,
      roundTrips: trips.length,
    },
    curve: { ...stitched, drawdown },
    trips,
    trials: candidates.length,
    statistics:
      options.statistics === false
        ? []
        : [
            seriesStats(
              `market${universe ? ` (${firstSymbol})` : ''}: log returns of adjacent bars (whole range)`,
              adjacentLogReturns(universe ? bars.filter((b) => b.symbol === firstSymbol) : bars),
            ),
            ...(estimate
              ? [seriesStats('strategy: stitched out-of-sample per-bar returns', Float64Array.from(chosenReturns))]
              : []),
          ],
  };
}

export function formatWalkForward(r: WalkForwardResult): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  const lines = [
    `walk-forward ${r.config.name} on ${r.data.file
      .split(', ')
      .map((f) => path.basename(f))
      .join(
        ', ',
      )}: ${r.scheme.mode}, ${r.scheme.folds} folds, train ${r.scheme.trainBars} / test ${r.scheme.testBars} bars, purge ${r.scheme.purgeBars} + embargo ${r.scheme.embargoBars} bars, ${r.trials} candidate(s) chosen by ${r.scheme.objective}`,
    '  fold  test period                 chosen  return     buy&hold   sharpe   max DD    trades',
    ...r.folds.map(
      (f) =>
        `  ${String(f.index).padEnd(4)}  ${f.test.from.slice(0, 10)} → ${f.test.to.slice(0, 10)}    ${String(f.chosen).padEnd(6)}  ${pct(f.testMetrics.totalReturn).padStart(9)}  ${pct(f.testMetrics.buyAndHoldReturn).padStart(9)}  ${f.testMetrics.sharpe.toFixed(2).padStart(7)}  ${pct(f.testMetrics.maxDrawdown).padStart(7)}  ${String(f.testMetrics.trades).padStart(6)}`,
    ),
    `  out of sample (stitched, ${r.outOfSample.bars} bars): return ${pct(r.outOfSample.totalReturn)} vs buy & hold ${pct(r.outOfSample.buyAndHoldReturn)}, max drawdown ${pct(r.outOfSample.maxDrawdown)}, Sharpe ${r.outOfSample.sharpeAnnualised.toFixed(2)} (annualised)`,
  ];
  const d = r.outOfSample.deflated;
  if (d)
    lines.push(
      `  probabilistic Sharpe ${d.probabilisticSharpe.toFixed(3)}, deflated Sharpe ${d.deflatedSharpe.toFixed(3)} (${d.trials} trial(s), benchmark SR ${d.benchmarkSharpe.toExponential(2)} per bar)`,
    );
  const p = r.outOfSample.pbo;
  lines.push(
    p
      ? `  PBO ${p.pbo.toFixed(3)} over ${p.splits} CSCV splits of ${p.candidates} candidates`
      : '  PBO: needs at least 2 candidates (--param)',
  );
  const b = r.outOfSample.bootstrap;
  lines.push(
    b
      ? `  ${b.trades} round trips; bootstrap ${(b.confidence * 100).toFixed(0)} % CI of return ${pct(b.totalReturnInterval.low)} … ${pct(b.totalReturnInterval.high)}, of max drawdown ${pct(b.maxDrawdownInterval.low)} … ${pct(b.maxDrawdownInterval.high)}`
      : `  ${r.outOfSample.roundTrips} round trips: too few to bootstrap`,
  );
  return lines.join('\n');
}
