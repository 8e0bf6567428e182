/**
 * Page–Hinkley test for an increase in the mean of a stream (Page 1954; Hinkley 1971; the form of
 * Gama et al., "A survey on concept drift adaptation", 2014): with x̄ₜ the running mean,
 *   mₜ = Σᵢ≤ₜ (xᵢ − x̄ᵢ − δ),  Mₜ = min over i ≤ t of mᵢ,  alarm when mₜ − Mₜ > λ.
 * Fed a model's per-sample loss, an alarm says the model has become worse than it was: drift.
 * δ tolerates small rises; λ trades detection delay for false alarms. Not before `minSamples`.
 */
import { StatsError } from './errors';

export interface PageHinkleyConfig {
  /** Tolerated rise of the mean per sample, δ ≥ 0 (in the units of x). */
  readonly delta: number;
  /** Alarm threshold λ > 0 on the cumulative excess mₜ − Mₜ (units of x). */
  readonly threshold: number;
  /** Samples seen before an alarm may fire. Default 30. */
  readonly minSamples?: number;
}

export interface PageHinkleyState {
  readonly n: number;
  readonly mean: number;
  /** mₜ − Mₜ: the statistic compared with the threshold. */
  readonly statistic: number;
  readonly alarm: boolean;
}

/** A detector: `update(x)` takes the next sample and says whether the mean has risen (it keeps alarming after). */
export interface PageHinkley {
  update(x: number): PageHinkleyState;
}

export function makePageHinkley(config: PageHinkleyConfig): PageHinkley {
  const { delta, threshold } = config;
  const minSamples = config.minSamples ?? 30;
  if (!(delta >= 0) || !Number.isFinite(delta))
    throw new StatsError('STATS_BAD_INPUT', `Page–Hinkley: delta must be a finite number ≥ 0, found ${delta}`);
  if (!(threshold > 0) || !Number.isFinite(threshold))
    throw new StatsError('STATS_BAD_INPUT', `Page–Hinkley: threshold must be a finite number > 0, found ${threshold}`);
  if (!Number.isInteger(minSamples) || minSamples < 1)
    throw new StatsError('STATS_BAD_INPUT', `Page–Hinkley: minSamples must be an integer ≥ 1, found ${minSamples}`);
  let n = 0;
  let mean = 0;
  let m = 0;
  let min = 0;
  let alarm = false;
  return {
    update(x: number): PageHinkleyState {
      if (!Number.isFinite(x))
        throw new StatsError('STATS_BAD_INPUT', `Page–Hinkley: sample ${n + 1} is not a finite number (${x})`);
      n++;
      mean += (x - mean) / n;
      m += x - mean - delta;
      min = Math.min(min, m);
      const statistic = m - min;
      if (n >= minSamples && statistic > threshold) alarm = true;
      return { n, mean, statistic, alarm };
    },
  };
}
