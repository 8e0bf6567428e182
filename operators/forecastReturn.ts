import { Observable, type OperatorFunction } from 'rxjs';
import type { Forecast, Signal } from './types';
import { routeThrows } from './routeThrows';

export interface ForecastReturnConfig {
  /** Horizon of the forecast, bars: the return from this bar's close to the close `horizonBars` later. */
  readonly horizonBars: number;
  /**
   * Edges of the score bins, ascending, inside (−1, 1): the score (the signal's `detail.score`, or
   * direction × strength) falls in one of `edges.length + 1` bins, and each bin learns what
   * followed its own past signals. E.g. `[-0.5, -0.2, 0.2, 0.5]`.
   */
  readonly edges: readonly number[];
  /** Matured samples a bin needs before its forecast is available. Default 200. */
  readonly minSamples?: number;
  /**
   * Half-life of a sample's weight, in matured samples of its bin: old regimes fade. Default
   * Infinity (every sample counts the same).
   */
  readonly halfLife?: number;
  /**
   * Shrinkage toward a zero forecast, in pseudo-samples: expected = Σw·r / (Σw + shrinkage), so a
   * bin with few samples forecasts less than its raw mean. Default 50.
   */
  readonly shrinkage?: number;
  /**
   * A round trip's cost, bps, used only to count "wins" for the bin's calibrated probability
   * (P(return over the horizon > cost)). Default 0.
   */
  readonly winThresholdBps?: number;
}

/** Running, exponentially weighted statistics of one bin's matured returns (bps). */
interface BinStats {
  n: number;
  w: number;
  mean: number;
  m2: number;
  wins: number;
}

/**
 * States what a signal expects: the return over the next `horizonBars` bars, in basis points, with
 * its dispersion and a calibrated probability that it beats `winThresholdBps` — learned
 * walk-forward from what followed earlier signals with a score in the same bin.
 *
 * Only matured outcomes are used: the signal of bar t − H is scored at bar t with the log return
 * close(t) / close(t − H), so a forecast never sees a price after the bar it is made on. Until its
 * bin has `minSamples` outcomes the forecast is unavailable (`forecast.available` false, expected
 * 0), so nothing trades on an unmeasured score.
 *
 *   expectedBps = Σ wᵢ·rᵢ / (Σ wᵢ + shrinkage)         (rᵢ matured log returns of the bin, bps)
 *   stdBps      = weighted standard deviation of rᵢ    (the spread of one outcome)
 *   seBps       = stdBps / √(effective samples)       (the uncertainty of the mean)
 *   pWin        = weighted share of rᵢ > winThresholdBps
 *
 * One output per input, the same signal with `forecast` set.
 *
 * ```
 * signal:   --a--b--c--d--|
 * forecast: --A--B--C--D--|   (D's bin has learned from a's outcome when H = 3)
 * ```
 */
export function forecastReturn(config: ForecastReturnConfig): OperatorFunction<Signal, Signal> {
  const horizon = config.horizonBars;
  if (!Number.isInteger(horizon) || horizon < 1)
    throw new RangeError(`forecastReturn: horizonBars must be an integer ≥ 1, found ${horizon}`);
  const edges = config.edges;
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i]!;
    if (!Number.isFinite(e) || e <= -1 || e >= 1 || (i > 0 && !(e > edges[i - 1]!)))
      throw new RangeError(`forecastReturn: edges must ascend strictly inside (−1, 1), found [${edges.join(', ')}]`);
  }
  const minSamples = config.minSamples ?? 200;
  const shrinkage = config.shrinkage ?? 50;
  const decay = config.halfLife === undefined ? 1 : 0.5 ** (1 / config.halfLife);
  if (!(decay > 0 && decay <= 1))
    throw new RangeError(`forecastReturn: halfLife must be > 0, found ${config.halfLife}`);
  if (!(minSamples >= 1) || !(shrinkage >= 0))
    throw new RangeError('forecastReturn: minSamples must be ≥ 1 and shrinkage ≥ 0');
  const winThreshold = config.winThresholdBps ?? 0;

  return (source) =>
    new Observable<Signal>((subscriber) => {
      const bins: BinStats[] = Array.from({ length: edges.length + 1 }, () => ({
        n: 0,
        w: 0,
        mean: 0,
        m2: 0,
        wins: 0,
      }));
      // Ring of the last `horizon` signals: their bin and price, waiting for their outcome.
      const pendingBin = new Int32Array(horizon).fill(-1);
      const pendingPrice = new Float64Array(horizon);
      let count = 0;
      return source.subscribe({
        next: routeThrows(subscriber, (signal) => {
          const slot = count % horizon;
          const price = signal.price;
          // The signal of H bars ago matures now.
          const matured = pendingBin[slot]!;
          if (count >= horizon && matured >= 0 && price > 0 && pendingPrice[slot]! > 0) {
            const r = Math.log(price / pendingPrice[slot]!) * 10_000;
            const b = bins[matured]!;
            b.w *= decay;
            b.m2 *= decay;
            b.wins *= decay;
            b.w += 1;
            b.n++;
            const delta = r - b.mean;
            b.mean += delta / b.w;
            b.m2 += delta * (r - b.mean);
            if (r > winThreshold) b.wins += 1;
          }
          const score = scoreOf(signal);
          const bin = signal.available && Number.isFinite(score) ? binOf(edges, score) : -1;
          pendingBin[slot] = bin;
          pendingPrice[slot] = price;
          count++;
          let forecast: Forecast;
          const stats = bin >= 0 ? bins[bin]! : undefined;
          if (!stats || stats.n < minSamples) {
            forecast = {
              horizonBars: horizon,
              expectedBps: 0,
              stdBps: 0,
              seBps: 0,
              pWin: 0,
              samples: stats?.n ?? 0,
              bin,
              available: false,
            };
          } else {
            const variance = stats.w > 1 ? stats.m2 / (stats.w - 1) : 0;
            const std = Math.sqrt(Math.max(variance, 0));
            forecast = {
              horizonBars: horizon,
              expectedBps: (stats.mean * stats.w) / (stats.w + shrinkage),
              stdBps: std,
              seBps: std / Math.sqrt(stats.w),
              pWin: stats.wins / stats.w,
              samples: stats.n,
              bin,
              available: true,
            };
          }
          subscriber.next({ ...signal, forecast });
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

/** The signal's score: `detail.score` when it has one, else direction × strength. */
export function scoreOf(signal: Signal): number {
  const score = signal.detail['score'];
  return typeof score === 'number' ? score : signal.direction * signal.strength;
}

/** Index of the bin a score falls in: bin i holds edges[i−1] ≤ score < edges[i]. */
export function binOf(edges: readonly number[], score: number): number {
  let i = 0;
  while (i < edges.length && score >= edges[i]!) i++;
  return i;
}
