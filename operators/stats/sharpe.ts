/**
 * The probabilistic and deflated Sharpe ratios (Bailey & López de Prado, "The Sharpe Ratio
 * Efficient Frontier", 2012, and "The Deflated Sharpe Ratio", 2014).
 *
 * All Sharpe ratios here are per period (not annualised): mean / standard deviation of the
 * returns the strategy was measured on. Multiply by √(periods per year) only to display.
 */
import { normalCdf, normalQuantile } from './distributions';
import { checkSeries, StatsError } from './errors';
import { moments } from './moments';

/** Euler–Mascheroni constant. */
const EULER_GAMMA = 0.5772156649015329;

export interface SharpeEstimate {
  /** Per-period Sharpe ratio (mean / sample standard deviation, n − 1). */
  readonly sharpe: number;
  readonly n: number;
  /** Skewness of the returns (biased, as in the papers). */
  readonly skewness: number;
  /** Kurtosis (3 for normal returns). */
  readonly kurtosis: number;
}

export function estimateSharpe(returns: ArrayLike<number>): SharpeEstimate {
  checkSeries(returns, 3, 'Sharpe ratio');
  const m = moments(returns);
  const sd = Math.sqrt((m.variance * m.n) / (m.n - 1));
  if (!(sd > 0)) throw new StatsError('STATS_DEGENERATE', 'Sharpe ratio: the returns do not vary');
  return { sharpe: m.mean / sd, n: m.n, skewness: m.skewness, kurtosis: m.kurtosis };
}

/**
 * PSR(SR*) = Φ((SR̂ − SR*) √(n − 1) / √(1 − γ₃ SR̂ + (γ₄ − 1)/4 SR̂²)): the probability that the
 * true Sharpe ratio exceeds `benchmark` given n returns with this skewness and kurtosis.
 */
export function probabilisticSharpe(estimate: SharpeEstimate, benchmark = 0): number {
  const { sharpe: sr, n, skewness, kurtosis } = estimate;
  const denom = 1 - skewness * sr + ((kurtosis - 1) / 4) * sr * sr;
  if (!(denom > 0) || n < 2)
    throw new StatsError(
      'STATS_DEGENERATE',
      `probabilistic Sharpe: undefined for n=${n}, skewness=${skewness}, kurtosis=${kurtosis}, SR=${sr}`,
    );
  return normalCdf(((sr - benchmark) * Math.sqrt(n - 1)) / Math.sqrt(denom));
}

/**
 * E[max of N Sharpe ratios] under the null of no skill: √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))),
 * with V the variance of the trials' Sharpe ratios. 0 for a single trial.
 */
export function expectedMaxSharpe(trials: number, trialSharpeVariance: number): number {
  if (!Number.isInteger(trials) || trials < 1)
    throw new StatsError('STATS_BAD_INPUT', `deflated Sharpe: trials must be an integer ≥ 1, found ${trials}`);
  if (!(trialSharpeVariance >= 0))
    throw new StatsError(
      'STATS_BAD_INPUT',
      `deflated Sharpe: variance of the trials' Sharpe ratios must be ≥ 0, found ${trialSharpeVariance}`,
    );
  if (trials === 1) return 0;
  return (
    Math.sqrt(trialSharpeVariance) *
    ((1 - EULER_GAMMA) * normalQuantile(1 - 1 / trials) + EULER_GAMMA * normalQuantile(1 - 1 / (trials * Math.E)))
  );
}

export interface DeflatedSharpe {
  /** PSR against the Sharpe ratio the best of `trials` unskilled strategies would show. */
  readonly deflatedSharpe: number;
  /** PSR against 0. */
  readonly probabilisticSharpe: number;
  /** The deflating benchmark SR*₀ (per period). */
  readonly benchmarkSharpe: number;
  readonly trials: number;
  readonly sharpe: number;
}

/**
 * DSR = PSR(SR*₀) with SR*₀ = expectedMaxSharpe(trials, V): how likely the selected strategy's
 * Sharpe ratio is real after a search over `trials` candidates whose Sharpe ratios varied by V.
 * `trialSharpes` gives V as their sample variance; or pass V directly.
 */
export function deflatedSharpe(
  estimate: SharpeEstimate,
  trials: number,
  trialSharpes: readonly number[] | number,
): DeflatedSharpe {
  let variance: number;
  if (typeof trialSharpes === 'number') variance = trialSharpes;
  else if (trialSharpes.length < 2) variance = 0;
  else {
    const m = moments(trialSharpes);
    variance = (m.variance * m.n) / (m.n - 1);
  }
  const benchmarkSharpe = expectedMaxSharpe(trials, variance);
  return {
    deflatedSharpe: probabilisticSharpe(estimate, benchmarkSharpe),
    probabilisticSharpe: probabilisticSharpe(estimate, 0),
    benchmarkSharpe,
    trials,
    sharpe: estimate.sharpe,
  };
}
