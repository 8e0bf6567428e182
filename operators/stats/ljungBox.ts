/**
 * Ljung–Box portmanteau test, as statsmodels' `acorr_ljungbox(x, lags=[…])`:
 * Q(h) = n (n + 2) Σ_{k≤h} r_k² / (n − k), p = P(χ²_{h − modelDf} > Q). H0: no autocorrelation up to
 * lag h. On squared returns it is the test for ARCH effects (volatility clustering).
 */
import { chiSquareSf } from './distributions';
import { checkSeries, StatsError } from './errors';
import { autocorrelations } from './moments';

export interface LjungBoxRow {
  readonly lag: number;
  readonly statistic: number;
  readonly pValue: number;
}

/** `lags`: the horizons h to report (default [10]); `modelDf`: degrees of freedom used by a fitted model. */
export function ljungBoxTest(x: ArrayLike<number>, lags: readonly number[] = [10], modelDf = 0): LjungBoxRow[] {
  checkSeries(x, 3, 'Ljung–Box test');
  const n = x.length;
  for (const h of lags)
    if (!Number.isInteger(h) || h < 1 || h >= n)
      throw new StatsError('STATS_BAD_INPUT', `Ljung–Box test: lag must be an integer in [1, ${n - 1}], found ${h}`);
  const maxLag = Math.max(...lags);
  const r = autocorrelations(x, maxLag);
  if (!r.every(Number.isFinite)) throw new StatsError('STATS_DEGENERATE', 'Ljung–Box test: the series is constant');
  const cumulative = new Float64Array(maxLag);
  let s = 0;
  for (let k = 1; k <= maxLag; k++) {
    s += (r[k - 1] as number) ** 2 / (n - k);
    cumulative[k - 1] = s;
  }
  return lags.map((h) => {
    const statistic = n * (n + 2) * (cumulative[h - 1] as number);
    const df = h - modelDf;
    return { lag: h, statistic, pValue: df > 0 ? chiSquareSf(statistic, df) : Number.NaN };
  });
}
