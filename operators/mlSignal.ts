import { Observable, type OperatorFunction } from 'rxjs';
import { featureVector, type CompiledModel } from './mlModel';
import { signalOnBar } from './taSignal';
import { isTimeframe, timeframeMs, type Direction, type Features, type Signal } from './types';
import { routeThrows } from './routeThrows';

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

  return (source) =>
    new Observable<Signal>((subscriber) => {
      const vector = new Float64Array(width);
      return source.subscribe({
        next: routeThrows(subscriber, (features) => {
          if (features.tsEvent <= inSampleUntil) {
            subscriber.next(signalOnBar(features, 'ml', 0, 0, 0, false, IN_SAMPLE));
            return;
          }
          if (!featureVector(features, model.file.inputs, vector)) {
            subscriber.next(signalOnBar(features, 'ml', 0, 0, 0, false, WARMING_UP));
            return;
          }
          const p = model.predict(vector);
          if (!Number.isFinite(p)) {
            subscriber.next(signalOnBar(features, 'ml', 0, 0, 0, false, NOT_FINITE));
            return;
          }
          const direction: Direction = p > neutral + band ? 1 : p < neutral - band ? -1 : 0;
          const strength = Math.min(1, Math.abs(p - neutral) / scale);
          // A calibrated model's confidence varies per bar: its skill × how far p is from the base rate.
          const confidence = calibrated ? skill * strength : fixedConfidence;
          subscriber.next(signalOnBar(features, 'ml', direction, strength, confidence, true, { p }));
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
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
