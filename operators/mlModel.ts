/**
 * The on-disk model format of the ML signal, and the pure pieces shared by training and
 * inference: the feature vector and its normalisation. Training itself (brain.js `train`) runs
 * off the hot path in `pipelines/train`; inference (`run`) is pure.
 */
// brain.js is loaded when a model is compiled: pipelines without ML never pay for loading it.
import type * as Brain from 'brain.js';
import type { INeuralNetworkJSON } from 'brain.js';
import { read, type FeatureRef } from './taSignal';
import type { FeatureSpec } from './computeFeatures';
import type { Features } from './types';

export const MODEL_FORMAT = 'bot4-ml-model';
export const MODEL_FORMAT_VERSION = 1;

/** One model input: a feature (or bar field), optionally as a ratio to another minus one. */
export interface ModelInput {
  readonly ref: FeatureRef;
  /** When set, the input is `ref / relativeTo − 1` (price levels become stationary ratios). */
  readonly relativeTo?: FeatureRef;
}

export interface ModelFile {
  readonly format: typeof MODEL_FORMAT;
  readonly version: typeof MODEL_FORMAT_VERSION;
  /** Content hash of the model (network + inputs + normalisation), hex. */
  readonly id: string;
  readonly kind: 'feedforward';
  readonly symbol: string;
  readonly timeframe: string;
  /** Features the inputs are computed from (must be configured in the pipeline). */
  readonly features: readonly FeatureSpec[];
  readonly inputs: readonly ModelInput[];
  /**
   * Label: the log return from the close now to the close `horizon` bars ahead beats
   * `labelCostBps` (the round trip's cost: a net-of-cost win). 0 (older models): close ahead above
   * the close now.
   */
  readonly horizon: number;
  readonly labelCostBps?: number;
  /** Platt scaling fitted on a separate, later slice: p = σ(a·logit(raw) + b). Absent: raw output. */
  readonly calibration?: PlattScaling;
  readonly normalization: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly training: {
    readonly dataFile: string;
    readonly dataSha256: string;
    /** tsEvent of the first and last training sample. */
    readonly from: number;
    readonly to: number;
    /** Bars skipped between training and test samples (purge gap). */
    readonly gapBars: number;
    readonly testFrom: number;
    readonly testTo: number;
    readonly trainSamples: number;
    readonly testSamples: number;
    readonly iterations: number;
    readonly trainError: number;
    readonly seed: number;
    readonly hiddenLayers: readonly number[];
  };
  readonly metrics: {
    /** Share of test samples whose direction was predicted right (threshold 0.5). */
    readonly oosAccuracy: number;
    /** Share of up moves in the test set (the accuracy of always saying "up"). */
    readonly oosBaseRate: number;
    readonly oosLogLoss: number;
    readonly trainAccuracy: number;
    /** Calibrated-probability scores on the test slice (models with a calibration). */
    readonly calibration?: CalibrationReport;
    /** Purged k-fold cross-validation on the training part (`training.cvFolds`). */
    readonly cv?: CrossValidationReport;
  };
  readonly network: INeuralNetworkJSON;
  /**
   * Several networks (one per seed, same inputs and normalisation) whose outputs are averaged with
   * `weights` (sum 1) before the calibration; `network` is then the first member. Absent: one network.
   */
  readonly ensemble?: {
    readonly seeds: readonly number[];
    /** ∝ max(0, base-rate log loss − member log loss) on the calibration slice; equal when none beats it. */
    readonly weights: readonly number[];
    readonly calibrationLogLoss: readonly number[];
    readonly networks: readonly INeuralNetworkJSON[];
  };
}

/** Out-of-fold scores of a purged k-fold cross-validation (raw network output, threshold 0.5). */
export interface CrossValidationReport {
  readonly folds: number;
  readonly horizon: number;
  readonly embargoBars: number;
  readonly perFold: readonly {
    readonly from: number;
    readonly to: number;
    readonly trainSamples: number;
    readonly testSamples: number;
    readonly purged: number;
    readonly embargoed: number;
    readonly accuracy: number;
    readonly logLoss: number;
    /** Log loss of always saying the fold's training base rate: the bar the network must beat. */
    readonly baseLogLoss: number;
  }[];
  readonly meanLogLoss: number;
  /** Sample standard deviation of the folds' log losses. */
  readonly stdLogLoss: number;
  readonly meanBaseLogLoss: number;
  readonly meanAccuracy: number;
}

/** A loaded model, ready for inference. */
export interface CompiledModel {
  readonly file: ModelFile;
  /** Probability of an up move for a raw (unnormalised) input vector. */
  predict(vector: Float64Array): number;
}

export function compileModel(file: ModelFile): CompiledModel {
  const { NeuralNetwork } = require('brain.js') as typeof Brain;
  const members = (file.ensemble?.networks ?? [file.network]).map((n) => new NeuralNetwork().fromJSON(n));
  const weights = file.ensemble?.weights ?? [1];
  if (weights.length !== members.length)
    throw new Error(`model ${file.id}: ${members.length} ensemble networks but ${weights.length} weights`);
  const { mean, std } = file.normalization;
  const scratch = new Array<number>(file.inputs.length).fill(0);
  const calibration = file.calibration;
  return {
    file,
    predict(vector) {
      for (let i = 0; i < scratch.length; i++) scratch[i] = (vector[i]! - mean[i]!) / std[i]!;
      let out = 0;
      for (let m = 0; m < members.length; m++) out += weights[m]! * members[m]!.run(scratch)[0]!;
      return calibration ? applyPlatt(calibration, out) : out;
    },
  };
}

/** Platt scaling: p = σ(a·logit(raw) + b). */
export interface PlattScaling {
  readonly kind: 'platt';
  readonly a: number;
  readonly b: number;
}

const EPS = 1e-9;

function logit(p: number): number {
  const q = Math.min(1 - EPS, Math.max(EPS, p));
  return Math.log(q / (1 - q));
}

export function applyPlatt(scaling: PlattScaling, raw: number): number {
  return 1 / (1 + Math.exp(-(scaling.a * logit(raw) + scaling.b)));
}

/**
 * Fits Platt scaling on (raw probability, 0/1 label) pairs — on a slice the network was not
 * trained on, so the calibration is not fitted to its own errors. Newton's method with a
 * backtracking line search on the log loss, with Platt's smoothed targets (y+ = (N+ + 1)/(N+ + 2),
 * y− = 1/(N− + 2)), so saturated raw outputs cannot drive the slope to infinity.
 */
export function fitPlatt(raw: readonly number[], labels: readonly number[], iterations = 100): PlattScaling {
  const x = raw.map(logit);
  const positives = labels.reduce((sum, y) => sum + y, 0);
  const hi = (positives + 1) / (positives + 2);
  const lo = 1 / (labels.length - positives + 2);
  const t = labels.map((y) => (y ? hi : lo));
  const loss = (a: number, b: number): number => {
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      const z = a * x[i]! + b;
      // log(1 + e^z) − t·z, computed stably
      sum += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - t[i]! * z;
    }
    return sum;
  };
  let a = 1;
  let b = 0;
  let current = loss(a, b);
  for (let it = 0; it < iterations; it++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-12;
    let hab = 0;
    let hbb = 1e-12;
    for (let i = 0; i < x.length; i++) {
      const p = 1 / (1 + Math.exp(-(a * x[i]! + b)));
      const e = p - t[i]!;
      const w = Math.max(p * (1 - p), 1e-12);
      ga += e * x[i]!;
      gb += e;
      haa += w * x[i]! * x[i]!;
      hab += w * x[i]!;
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    let step = 1;
    let next = loss(a - da, b - db);
    while (next > current && step > 1e-8) {
      step /= 2;
      next = loss(a - step * da, b - step * db);
    }
    if (!(next <= current)) break;
    a -= step * da;
    b -= step * db;
    const improvement = current - next;
    current = next;
    if (improvement < 1e-10 * Math.max(1, Math.abs(current))) break;
  }
  return { kind: 'platt', a, b };
}

/** How well probabilities match outcomes, next to always predicting the base rate. */
export interface CalibrationReport {
  readonly samples: number;
  /** Share of positive labels in the scored slice. */
  readonly baseRate: number;
  readonly logLoss: number;
  readonly brier: number;
  /** The same scores for a constant prediction of `referenceRate` (the rate the model was fitted to). */
  readonly referenceRate: number;
  readonly baseLogLoss: number;
  readonly baseBrier: number;
  /** Reliability table: per bin of predicted probability, its mean prediction and the observed rate. */
  readonly reliability: readonly {
    readonly from: number;
    readonly to: number;
    readonly count: number;
    readonly meanPredicted: number;
    readonly observed: number;
  }[];
}

/** Log loss, Brier score and a reliability table of probabilities against 0/1 outcomes. */
export function calibrationReport(
  probabilities: readonly number[],
  labels: readonly number[],
  referenceRate: number,
  bins = 10,
): CalibrationReport {
  const n = probabilities.length;
  let logLoss = 0;
  let brier = 0;
  let baseLogLoss = 0;
  let baseBrier = 0;
  let positives = 0;
  const r = Math.min(1 - EPS, Math.max(EPS, referenceRate));
  const table = Array.from({ length: bins }, (_, i) => ({
    from: i / bins,
    to: (i + 1) / bins,
    count: 0,
    sumP: 0,
    sumY: 0,
  }));
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - EPS, Math.max(EPS, probabilities[i]!));
    const y = labels[i]!;
    positives += y;
    logLoss -= y ? Math.log(p) : Math.log(1 - p);
    baseLogLoss -= y ? Math.log(r) : Math.log(1 - r);
    brier += (p - y) ** 2;
    baseBrier += (r - y) ** 2;
    const bin = table[Math.min(bins - 1, Math.floor(p * bins))]!;
    bin.count++;
    bin.sumP += p;
    bin.sumY += y;
  }
  const d = Math.max(1, n);
  return {
    samples: n,
    baseRate: positives / d,
    logLoss: logLoss / d,
    brier: brier / d,
    referenceRate,
    baseLogLoss: baseLogLoss / d,
    baseBrier: baseBrier / d,
    reliability: table
      .filter((t) => t.count > 0)
      .map((t) => ({
        from: t.from,
        to: t.to,
        count: t.count,
        meanPredicted: t.sumP / t.count,
        observed: t.sumY / t.count,
      })),
  };
}

/**
 * Writes the model inputs of one bar into `out`; false when an input is not warm yet or not a
 * finite number.
 */
export function featureVector(features: Features, inputs: readonly ModelInput[], out: Float64Array): boolean {
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    const value = read(features, input.ref);
    if (value === null) return false;
    let x = value;
    if (input.relativeTo !== undefined) {
      const base = read(features, input.relativeTo);
      if (base === null || base === 0) return false;
      x = value / base - 1;
    }
    if (!Number.isFinite(x)) return false;
    out[i] = x;
  }
  return true;
}

/** Mean and standard deviation per column (std floored so constant columns do not divide by 0). */
export function normalizationOf(rows: readonly Float64Array[], width: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(width).fill(0);
  const std = new Array<number>(width).fill(0);
  for (const row of rows) for (let i = 0; i < width; i++) mean[i]! += row[i]!;
  for (let i = 0; i < width; i++) mean[i] = mean[i]! / Math.max(1, rows.length);
  for (const row of rows) for (let i = 0; i < width; i++) std[i]! += (row[i]! - mean[i]!) ** 2;
  for (let i = 0; i < width; i++) std[i] = Math.max(Math.sqrt(std[i]! / Math.max(1, rows.length)), 1e-12);
  return { mean, std };
}
