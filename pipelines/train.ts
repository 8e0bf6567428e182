/**
 * `run-pipeline train`: fits the ML signal's brain.js network on historical bars, off the hot
 * path. Features come from the same `computeFeatures` operator the pipeline runs, so training and
 * trading see identical inputs.
 *
 * Validation is time-ordered: the oldest `trainFraction` of the samples train, then `gapBars`
 * bars are left out (no label and no serially-correlated neighbour crosses the boundary), then
 * the rest test. Nothing is shuffled across time. The normalisation is fitted on the training
 * samples only. With `training.cvFolds`, a purged k-fold cross-validation with embargo
 * (`operators/stats/purgedKFold.ts`) scores the network out of fold on the training part first.
 */
import { mulberry32 } from '../operators/random';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { NeuralNetwork } from 'brain.js';
import { from, identity, lastValueFrom, toArray } from 'rxjs';
import { detectCandlePatterns } from '../operators/candlePatterns';
import { confirmTimeframes } from '../operators/confirmTimeframes';
import { buildLayout, computeFeatures } from '../operators/computeFeatures';
import { makeCostModel } from '../operators/costModel';
import { purgedKFold } from '../operators/stats/purgedKFold';
import {
  applyPlatt,
  calibrationReport,
  type CrossValidationReport,
  fitPlatt,
  type CalibrationReport,
  type PlattScaling,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  featureVector,
  normalizationOf,
  type ModelFile,
  type ModelInput,
} from '../operators/mlModel';
import type { Bar, Features } from '../operators/types';
import { readBarFile } from '../sources/csvBars';
import { canonicalJson, loadConfig, type PipelineConfig } from './config';
import { saveModel } from './model';
import { higherTimeframes } from './tradingPipeline';

export interface TrainOptions {
  readonly configFile: string;
  readonly dataFile: string;
  /** Model file to write. Default: the config's `signals.ml.model`. */
  readonly out?: string;
  /** Only bars opening before this time (ms) — keep later data for the backtest. */
  readonly until?: number;
  /** What the data file holds, for a file without a header line (`--symbol`, `--timeframe`). */
  readonly statedSymbol?: string;
  readonly statedTimeframe?: string;
  /** Train on data with outlier rows instead of refusing it (`--keep-outliers`). */
  readonly keepOutliers?: boolean;
  /** Refuse a data file that says nothing about its symbol (the CLI). */
  readonly requireDataIdentity?: boolean;
  /** Warnings about the data that do not stop training (no header line, price scale, outliers kept). */
  readonly onWarning?: (message: string) => void;
  readonly onProgress?: (message: string) => void;
}

export interface TrainResult {
  readonly file: string;
  readonly previous?: string;
  readonly model: ModelFile;
}

export async function runTrain(options: TrainOptions): Promise<TrainResult> {
  const config = loadConfig(options.configFile);
  const { bars, warnings } = readBarFile(options.dataFile, {
    venue: config.instrument.venue,
    symbol: config.instrument.symbol,
    timeframe: config.timeframe,
    ...(options.until !== undefined ? { until: options.until } : {}),
    ...(options.statedSymbol !== undefined ? { statedSymbol: options.statedSymbol } : {}),
    ...(options.statedTimeframe !== undefined ? { statedTimeframe: options.statedTimeframe } : {}),
    ...(options.keepOutliers ? { keepOutliers: true } : {}),
    ...(options.requireDataIdentity ? { requireIdentity: true } : {}),
  });
  for (const warning of warnings) options.onWarning?.(warning);
  const dataSha256 = createHash('sha256').update(readFileSync(options.dataFile)).digest('hex');
  const model = await trainModel(config, bars, {
    dataFile: path.basename(options.dataFile),
    dataSha256,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const out = options.out ?? config.modelPath;
  if (!out) throw new Error(`${config.file}: no signals.ml.model to write to; pass --out`);
  const saved = saveModel(out, model);
  return { file: saved.path, ...(saved.previous ? { previous: saved.previous } : {}), model };
}

export interface TrainModelOptions {
  readonly dataFile: string;
  readonly dataSha256: string;
  readonly onProgress?: (message: string) => void;
}

export async function trainModel(
  config: PipelineConfig,
  bars: readonly Bar[],
  options: TrainModelOptions,
): Promise<ModelFile> {
  const ml = config.signals.ml;
  const training = ml?.training;
  if (!ml || !training) {
    throw new Error(`${config.file}: signals.ml.training is required to train (it lists the model inputs)`);
  }
  const progress = options.onProgress ?? (() => undefined);
  const horizon = training.horizon ?? 1;
  const inputs: ModelInput[] = training.inputs.map((i) =>
    i.relativeTo !== undefined ? { ref: i.ref, relativeTo: i.relativeTo } : { ref: i.ref },
  );
  const layout = buildLayout(config.features);
  const gapBars = training.gapBars ?? Math.max(horizon, layout.warmup);
  const trainFraction = training.trainFraction ?? 0.7;
  const calibrationFraction = training.calibrationFraction ?? 0;
  // Net-of-cost label: a sample is a win when the return over the horizon pays the round trip.
  const labelCostBps =
    (training.label ?? 'net-of-cost') === 'net-of-cost'
      ? makeCostModel({
          takerFeeBps: config.execution.takerFeeBps ?? 10,
          ...(config.execution.slippageBps !== undefined ? { slippageBps: config.execution.slippageBps } : {}),
        }).roundTrip({ qty: 0 }).totalBps
      : 0;
  const hiddenLayers = training.hiddenLayers ?? [16, 8];
  const iterations = training.iterations ?? 100;
  const seed = training.seed ?? 1;

  const features: Features[] = await lastValueFrom(
    from(bars).pipe(
      computeFeatures({ features: config.features }),
      config.signals.timeframes
        ? confirmTimeframes({ base: config.timeframe, timeframes: higherTimeframes(config.signals.timeframes) })
        : identity,
      config.signals.patterns ? detectCandlePatterns() : identity,
      toArray(),
    ),
  );
  // Sample i: inputs at bar i, label from bar i + horizon. Index by bar so gaps are in bars.
  const samples: { index: number; vector: Float64Array; up: number; ts: number }[] = [];
  for (let i = 0; i + horizon < features.length; i++) {
    const vector = new Float64Array(inputs.length);
    if (!featureVector(features[i]!, inputs, vector)) continue;
    const now = features[i]!.bar.close;
    const later = features[i + horizon]!.bar.close;
    const up = labelCostBps > 0 ? Math.log(later / now) * 10_000 > labelCostBps : later > now;
    samples.push({ index: i, vector, up: up ? 1 : 0, ts: features[i]!.tsEvent });
  }
  if (samples.length < 100)
    throw new Error(`only ${samples.length} usable samples in ${bars.length} bars; need at least 100`);
  // Time-ordered: train, gap, calibration slice (Platt), gap, test. Nothing crosses a boundary.
  const cut = Math.floor(samples.length * trainFraction);
  const trainSet = samples.slice(0, cut);
  const lastTrainIndex = trainSet[trainSet.length - 1]!.index;
  const afterTrain = samples.slice(cut).filter((s) => s.index > lastTrainIndex + horizon + gapBars);
  const calibrationCut = Math.floor(samples.length * calibrationFraction);
  const calibrationSet = afterTrain.slice(0, calibrationCut);
  const lastCalibrationIndex = calibrationSet.at(-1)?.index ?? lastTrainIndex;
  const testSet =
    calibrationSet.length > 0
      ? afterTrain.slice(calibrationCut).filter((s) => s.index > lastCalibrationIndex + horizon + gapBars)
      : afterTrain;
  if (calibrationFraction > 0 && calibrationSet.length < 50)
    throw new Error(`not enough data for a calibration slice: ${calibrationSet.length} samples`);
  if (trainSet.length < 50 || testSet.length < 50) {
    throw new Error(
      `not enough data for a time-ordered split: ${trainSet.length} training and ${testSet.length} test samples (gap ${gapBars} bars)`,
    );
  }
  type Sample = (typeof samples)[number];
  const fitNetwork = (set: readonly Sample[], memberSeed = seed) => {
    const normalization = normalizationOf(
      set.map((s) => s.vector),
      inputs.length,
    );
    const normalize = (v: Float64Array): number[] =>
      Array.from(v, (x, i) => (x - normalization.mean[i]!) / normalization.std[i]!);
    const net = new NeuralNetwork({ hiddenLayers: [...hiddenLayers], activation: 'sigmoid' });
    const data = set.map((s) => ({ input: normalize(s.vector), output: [s.up] }));
    const state = withSeededRandom(memberSeed, () =>
      net.train(data, {
        iterations,
        errorThresh: 1e-6,
        learningRate: training.learningRate ?? 0.1,
        callbackPeriod: Math.max(1, Math.floor(iterations / 10)),
        callback: (s: { iterations: number; error: number }) =>
          progress(`iteration ${s.iterations}/${iterations}, training error ${s.error.toFixed(5)}`),
      }),
    );
    return { net, normalization, normalize, state, raw: (v: Float64Array) => net.run(normalize(v))[0]! };
  };
  const score = (
    model: { raw: (v: Float64Array) => number },
    set: readonly Sample[],
  ): { accuracy: number; logLoss: number; baseRate: number } => {
    let right = 0;
    let loss = 0;
    let ups = 0;
    for (const s of set) {
      const p = Math.min(1 - 1e-12, Math.max(1e-12, model.raw(s.vector)));
      if ((p > 0.5 ? 1 : 0) === s.up) right++;
      loss -= s.up ? Math.log(p) : Math.log(1 - p);
      ups += s.up;
    }
    return { accuracy: right / set.length, logLoss: loss / set.length, baseRate: ups / set.length };
  };

  progress(
    `training on ${trainSet.length} samples (${iso(trainSet[0]!.ts)} → ${iso(trainSet[trainSet.length - 1]!.ts)}), ` +
      `testing on ${testSet.length} (${iso(testSet[0]!.ts)} → ${iso(testSet[testSet.length - 1]!.ts)}), gap ${gapBars} bars`,
  );
  const cv = training.cvFolds ? crossValidate(training.cvFolds) : undefined;
  function crossValidate(k: number): CrossValidationReport {
    const folds = purgedKFold(
      trainSet.map((s) => s.index),
      { folds: k, horizon, embargoBars: gapBars },
    );
    const perFold = folds.map((f, n) => {
      const train = f.train.map((j) => trainSet[j]!);
      const test = f.test.map((j) => trainSet[j]!);
      if (train.length < 50)
        throw new Error(
          `purged ${k}-fold cross-validation: fold ${n + 1} keeps only ${train.length} training samples after purge and embargo (need 50); use fewer folds or more data`,
        );
      progress(
        `cross-validation fold ${n + 1}/${k}: ${test.length} samples ${iso(test[0]!.ts)} → ${iso(test.at(-1)!.ts)}, trained on ${train.length} (${f.purged} purged, ${f.embargoed} embargoed)`,
      );
      const m = score(fitNetwork(train), test);
      const rate = Math.min(1 - 1e-12, Math.max(1e-12, train.reduce((a, s) => a + s.up, 0) / train.length));
      const baseLogLoss = -test.reduce((a, s) => a + (s.up ? Math.log(rate) : Math.log(1 - rate)), 0) / test.length;
      return {
        from: test[0]!.ts,
        to: test.at(-1)!.ts,
        trainSamples: train.length,
        testSamples: test.length,
        purged: f.purged,
        embargoed: f.embargoed,
        accuracy: m.accuracy,
        logLoss: m.logLoss,
        baseLogLoss,
      };
    });
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const losses = perFold.map((f) => f.logLoss);
    const meanLogLoss = mean(losses);
    const report: CrossValidationReport = {
      folds: k,
      horizon,
      embargoBars: gapBars,
      perFold,
      meanLogLoss,
      stdLogLoss: Math.sqrt(losses.reduce((a, l) => a + (l - meanLogLoss) ** 2, 0) / Math.max(1, losses.length - 1)),
      meanBaseLogLoss: mean(perFold.map((f) => f.baseLogLoss)),
      meanAccuracy: mean(perFold.map((f) => f.accuracy)),
    };
    progress(
      `purged ${k}-fold cross-validation: out-of-fold log loss ${report.meanLogLoss.toFixed(4)} ± ${report.stdLogLoss.toFixed(4)} vs ${report.meanBaseLogLoss.toFixed(4)} for the base rate, accuracy ${(report.meanAccuracy * 100).toFixed(2)} %`,
    );
    return report;
  }

  const first = fitNetwork(trainSet);
  const { normalization, state } = first;
  // An ensemble: one network per seed, weighted by how much each beats the base rate's log loss
  // on the calibration slice (data none of them trained on); the Platt scaling then fits the mix.
  const members = training.ensemble ? ensembleMembers(training.ensemble) : undefined;
  function ensembleMembers(n: number) {
    if (calibrationSet.length === 0)
      throw new Error(
        `${config.file}: signals.ml.training.ensemble weighs its networks on the calibration slice; set calibrationFraction > 0`,
      );
    const nets = [first, ...Array.from({ length: n - 1 }, (_, k) => fitNetwork(trainSet, seed + k + 1))];
    const rate = calibrationSet.reduce((a, s) => a + s.up, 0) / calibrationSet.length;
    const q = Math.min(1 - 1e-12, Math.max(1e-12, rate));
    const baseLoss =
      -calibrationSet.reduce((a, s) => a + (s.up ? Math.log(q) : Math.log(1 - q)), 0) / calibrationSet.length;
    const losses = nets.map((m) => score(m, calibrationSet).logLoss);
    const skill = losses.map((l) => Math.max(0, baseLoss - l));
    const total = skill.reduce((a, b) => a + b, 0);
    const weights = total > 0 ? skill.map((v) => v / total) : nets.map(() => 1 / n);
    progress(
      `ensemble of ${n} (seeds ${seed}…${seed + n - 1}): calibration-slice log loss ${losses.map((l) => l.toFixed(4)).join(', ')} vs ${baseLoss.toFixed(4)} for the base rate → weights ${weights.map((w) => w.toFixed(3)).join(', ')}`,
    );
    return { nets, weights, losses };
  }
  const raw = members
    ? (v: Float64Array) => members.nets.reduce((a, m, k) => a + members.weights[k]! * m.raw(v), 0)
    : first.raw;
  const final = { raw };
  const evaluate = (set: readonly Sample[]) => score(final, set);
  const trainMetrics = evaluate(trainSet);
  const testMetrics = evaluate(testSet);
  let calibration: PlattScaling | undefined;
  let calibrationMetrics: CalibrationReport | undefined;
  if (calibrationSet.length > 0) {
    calibration = fitPlatt(
      calibrationSet.map((s) => raw(s.vector)),
      calibrationSet.map((s) => s.up),
    );
    const referenceRate = calibrationSet.reduce((sum, s) => sum + s.up, 0) / calibrationSet.length;
    calibrationMetrics = calibrationReport(
      testSet.map((s) => applyPlatt(calibration!, raw(s.vector))),
      testSet.map((s) => s.up),
      referenceRate,
    );
    const c = calibrationMetrics;
    progress(
      `calibrated (Platt a=${calibration.a.toFixed(3)} b=${calibration.b.toFixed(3)} on ${calibrationSet.length} later samples); ` +
        `test: log loss ${c.logLoss.toFixed(4)} vs ${c.baseLogLoss.toFixed(4)} for the base rate ${c.referenceRate.toFixed(3)}, ` +
        `Brier ${c.brier.toFixed(4)} vs ${c.baseBrier.toFixed(4)}`,
    );
    progress('reliability (predicted → observed, count):');
    for (const row of c.reliability)
      progress(
        `  ${row.from.toFixed(1)}–${row.to.toFixed(1)}: ${row.meanPredicted.toFixed(3)} → ${row.observed.toFixed(3)} (${row.count})`,
      );
  }
  progress(
    `out-of-sample accuracy ${(testMetrics.accuracy * 100).toFixed(2)} % on ${testSet.length} samples ` +
      `(positive labels ${(testMetrics.baseRate * 100).toFixed(2)} %, log loss ${testMetrics.logLoss.toFixed(4)}); in-sample ${(trainMetrics.accuracy * 100).toFixed(2)} %`,
  );

  const network = first.net.toJSON();
  const body = {
    kind: 'feedforward' as const,
    symbol: config.instrument.symbol,
    timeframe: config.timeframe,
    features: config.features.filter((f) => inputs.some((i) => refersTo(i, f.id))),
    inputs,
    horizon,
    ...(labelCostBps > 0 ? { labelCostBps } : {}),
    ...(calibration ? { calibration } : {}),
    normalization,
    network,
    ...(members
      ? {
          ensemble: {
            seeds: members.nets.map((_, k) => seed + k),
            weights: members.weights,
            calibrationLogLoss: members.losses,
            networks: members.nets.map((m) => m.net.toJSON()),
          },
        }
      : {}),
  };
  const id = createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 16);
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    id,
    ...body,
    training: {
      dataFile: options.dataFile,
      dataSha256: options.dataSha256,
      from: trainSet[0]!.ts,
      to: trainSet[trainSet.length - 1]!.ts,
      gapBars,
      testFrom: testSet[0]!.ts,
      testTo: testSet[testSet.length - 1]!.ts,
      trainSamples: trainSet.length,
      testSamples: testSet.length,
      iterations: state.iterations,
      trainError: state.error,
      seed,
      hiddenLayers,
    },
    metrics: {
      oosAccuracy: testMetrics.accuracy,
      oosBaseRate: testMetrics.baseRate,
      oosLogLoss: testMetrics.logLoss,
      trainAccuracy: trainMetrics.accuracy,
      ...(calibrationMetrics ? { calibration: calibrationMetrics } : {}),
      ...(cv ? { cv } : {}),
    },
  };
}

function refersTo(input: ModelInput, featureId: string): boolean {
  const matches = (ref: string | undefined): boolean =>
    ref !== undefined && (ref === featureId || ref.startsWith(`${featureId}.`));
  return matches(input.ref) || matches(input.relativeTo);
}

/**
 * Runs `fn` with Math.random replaced by a seeded generator (mulberry32): brain.js draws its
 * initial weights from Math.random, and a model should be reproducible from its data and seed.
 */
function withSeededRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

function iso(ts: number): string {
  return new Date(ts).toISOString().replace('.000Z', 'Z');
}
