import { defer, map, type OperatorFunction } from 'rxjs';
import { featureVector, type CompiledModel } from './mlModel';
import { makePageHinkley } from './stats/pageHinkley';
import { signalOnBar } from './taSignal';
import { isTimeframe, timeframeMs, type Direction, type Features, type Signal } from './types';

export interface MlSignalConfig {
  /** A compiled model (see `compileModel`); loading it from disk is the wiring's job. */
  readonly model: CompiledModel;
  /** Dead band around 0.5: p must exceed 0.5 + band for long, fall under 0.5 − band for short. Default 0.02. */
  readonly band?: number;
  /**
   * Allow predictions on bars the model was trained on (at or before its last training sample
   * plus the horizon). Default false: such bars get an unavailable signal, so a backtest over
   * the training period does not score the model on data it has memorised.
   */
  readonly allowInSample?: boolean;
  /**
   * Drift detection: a Page–Hinkley test on the model's log loss, each prediction scored once its
   * label is known (`horizon` bars later, from the closes the operator has seen — never a bar not
   * yet closed). After an alarm the model's confidence, hence its weight in the fusion, is
   * multiplied by `weightAfterDrift` and every signal says why (`detail.drift` = 'drift',
   * `driftSince`, `driftSamples`, `driftMeanLogLoss`, `driftStatistic`, `driftWeight`), until the
   * model is retrained and reloaded. Absent: no monitoring.
   */
  readonly drift?: MlDriftConfig;
}

export interface MlDriftConfig {
  /** δ: rise of the mean log loss tolerated per label (nats). Default 0.005. */
  readonly delta?: number;
  /** λ: alarm when the cumulative excess log loss exceeds this (nats). Default 10. */
  readonly threshold?: number;
  /** Labels scored before an alarm may fire. Default 100. */
  readonly minSamples?: number;
  /** Multiplier of the confidence after drift, 0..1. Default 0: the model has no say. */
  readonly weightAfterDrift?: number;
}

/** The alarm: when, on how many labels, and the numbers (flattened into the signal's detail). */
export interface MlDrift {
  readonly reason: 'drift';
  /** Bar time of the alarm. */
  readonly since: number;
  /** Labels scored when it fired. */
  readonly samples: number;
  /** Mean log loss of those labels. */
  readonly meanLogLoss: number;
  /** Page–Hinkley statistic mₜ − Mₜ at the alarm (nats). */
  readonly statistic: number;
  readonly weight: number;
}

/**
 * Probability of an up move from a brain.js model over the bar's feature vector.
 *
 * A calibrated model (trained with a calibration slice, see `train`) gives p = P(the return over
 * its horizon beats the round trip's cost), and its neutral point is the base rate r of that
 * slice: direction = +1 when p > r + band, −1 when p < r − band; strength = |p − r| / max(r, 1 − r);
 * confidence, per bar = skill × strength, where skill = min(1, 20 × the share of the base rate's
 * test log loss the model removes) — a model no better than the base rate gets no say.
 *
 * An older, uncalibrated model: neutral point 0.5, strength = |2p − 1|, and one confidence for
 * every bar, (out-of-sample accuracy − 0.5) / 0.1 clamped to 0..1.
 * Unavailable while an input is warming up, and on in-sample bars unless allowed.
 *
 * With `drift`, each prediction is scored (log loss against its label) when the bar `horizon`
 * bars later closes, and a Page–Hinkley test on those losses watches for the model getting worse;
 * after its alarm the confidence is scaled by `weightAfterDrift` and the detail records the alarm.
 *
 * Exactly one signal per features event.
 *
 * ```
 * features: --a--b--c--|
 * mlSignal: --A--B--C--|
 * ```
 */
export function mlSignal(config: MlSignalConfig): OperatorFunction<Features, Signal> {
  const { model } = config;
  const band = config.band ?? 0.02;
  const inSampleUntil = config.allowInSample ? -Infinity : inSampleEnd(model);
  const calibrated = model.file.calibration !== undefined ? model.file.metrics.calibration : undefined;
  // Older, uncalibrated models: one confidence from the out-of-sample accuracy.
  const fixedConfidence = Math.min(1, Math.max(0, (model.file.metrics.oosAccuracy - 0.5) / 0.1));
  // Calibrated models: skill = share of the base rate's log loss the model removes on the test
  // slice (×20: a 5 % improvement is full skill); the neutral point is the base rate.
  const skill = calibrated
    ? Math.min(1, Math.max(0, ((calibrated.baseLogLoss - calibrated.logLoss) / calibrated.baseLogLoss) * 20))
    : fixedConfidence;
  const neutral = calibrated ? calibrated.referenceRate : 0.5;
  const scale = Math.max(neutral, 1 - neutral);
  const width = model.file.inputs.length;

  const drift = config.drift;
  const weightAfterDrift = drift?.weightAfterDrift ?? 0;
  if (!(weightAfterDrift >= 0 && weightAfterDrift <= 1))
    throw new Error(`mlSignal: drift.weightAfterDrift must be within 0..1, found ${weightAfterDrift}`);
  const horizon = model.file.horizon;
  const labelCostBps = model.file.labelCostBps ?? 0;

  // State per subscription (defer): every subscribe starts with a fresh detector and queue.
  return (source) =>
    defer(() => {
      const vector = new Float64Array(width);
      const detector = drift
        ? makePageHinkley({
            delta: drift.delta ?? 0.005,
            threshold: drift.threshold ?? 10,
            minSamples: drift.minSamples ?? 100,
          })
        : undefined;
      // Predictions waiting for their label: p, the close when made, and the bar count then.
      const pending: { p: number; close: number; bar: number }[] = [];
      let bars = 0;
      let alarm: MlDrift | undefined;
      const score = (features: Features): void => {
        bars++;
        while (pending.length > 0 && pending[0]!.bar + horizon <= bars) {
          const { p, close } = pending.shift()!;
          const ret = Math.log(features.bar.close / close);
          const up = labelCostBps > 0 ? ret * 10_000 > labelCostBps : ret > 0;
          const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
          const state = detector!.update(up ? -Math.log(q) : -Math.log(1 - q));
          if (state.alarm && !alarm)
            alarm = {
              reason: 'drift',
              since: features.tsEvent,
              samples: state.n,
              meanLogLoss: state.mean,
              statistic: state.statistic,
              weight: weightAfterDrift,
            };
        }
      };
      return source.pipe(
        map((features): Signal => {
          if (detector) score(features);
          if (features.tsEvent <= inSampleUntil) return signalOnBar(features, 'ml', 0, 0, 0, false, IN_SAMPLE);
          if (!featureVector(features, model.file.inputs, vector))
            return signalOnBar(features, 'ml', 0, 0, 0, false, WARMING_UP);
          const p = model.predict(vector);
          if (!Number.isFinite(p)) return signalOnBar(features, 'ml', 0, 0, 0, false, NOT_FINITE);
          if (detector) pending.push({ p, close: features.bar.close, bar: bars });
          const direction: Direction = p > neutral + band ? 1 : p < neutral - band ? -1 : 0;
          const strength = Math.min(1, Math.abs(p - neutral) / scale);
          // A calibrated model's confidence varies per bar: its skill × how far p is from the base rate.
          const confidence = calibrated ? skill * strength : fixedConfidence;
          return alarm
            ? signalOnBar(features, 'ml', direction, strength, confidence * alarm.weight, true, {
                p,
                drift: alarm.reason,
                driftSince: alarm.since,
                driftSamples: alarm.samples,
                driftMeanLogLoss: alarm.meanLogLoss,
                driftStatistic: alarm.statistic,
                driftWeight: alarm.weight,
              })
            : signalOnBar(features, 'ml', direction, strength, confidence, true, { p });
        }),
      );
    });
}

const IN_SAMPLE = Object.freeze({ reason: 'in-sample' });
const WARMING_UP = Object.freeze({ reason: 'warming up' });
const NOT_FINITE = Object.freeze({ reason: 'model output not finite' });

/** Last bar time whose label the model saw in training. */
export function inSampleEnd(model: CompiledModel): number {
  const tf = isTimeframe(model.file.timeframe) ? timeframeMs(model.file.timeframe) : 0;
  return model.file.training.to + model.file.horizon * tf;
}
