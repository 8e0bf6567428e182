/**
 * Jarque–Bera normality test, as scipy.stats.jarque_bera: JB = n/6 (S² + (K − 3)²/4) with the
 * biased sample skewness S and kurtosis K; p = P(χ²₂ > JB). H0: normal (skewness 0, kurtosis 3).
 */
import { chiSquareSf } from './distributions';
import { checkSeries, StatsError } from './errors';
import { moments } from './moments';

export interface JarqueBeraResult {
  readonly statistic: number;
  readonly pValue: number;
  readonly skewness: number;
  /** Kurtosis (3 for a normal), not excess kurtosis. */
  readonly kurtosis: number;
}

export function jarqueBeraTest(x: ArrayLike<number>): JarqueBeraResult {
  checkSeries(x, 3, 'Jarque–Bera test');
  const m = moments(x);
  if (!(m.variance > 0)) throw new StatsError('STATS_DEGENERATE', 'Jarque–Bera test: the series is constant');
  const statistic = (m.n / 6) * (m.skewness ** 2 + (m.kurtosis - 3) ** 2 / 4);
  return { statistic, pValue: chiSquareSf(statistic, 2), skewness: m.skewness, kurtosis: m.kurtosis };
}
