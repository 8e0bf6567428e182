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
  /** Label: close `horizon` bars ahead above the close now. */
  readonly horizon: number;
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
  };
  readonly network: INeuralNetworkJSON;
}

/** A loaded model, ready for inference. */
export interface CompiledModel {
  readonly file: ModelFile;
  /** Probability of an up move for a raw (unnormalised) input vector. */
  predict(vector: Float64Array): number;
}

export function compileModel(file: ModelFile): CompiledModel {
  const { NeuralNetwork } = require('brain.js') as typeof Brain;
  const net = new NeuralNetwork().fromJSON(file.network);
  const { mean, std } = file.normalization;
  const scratch = new Array<number>(file.inputs.length).fill(0);
  return {
    file,
    predict(vector) {
      for (let i = 0; i < scratch.length; i++) scratch[i] = (vector[i]! - mean[i]!) / std[i]!;
      const out = net.run(scratch);
      return out[0]!;
    },
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
