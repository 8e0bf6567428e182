/**
 * Augmented Dickey–Fuller unit-root test with a constant, lag length by AIC — the same
 * procedure, defaults and tables as statsmodels' `adfuller(x, regression='c', autolag='AIC')`.
 *
 * H0: x has a unit root (is not stationary). A small p-value rejects it.
 */
import { normalCdf } from './distributions';
import { checkSeries, StatsError } from './errors';
import { leastSquares } from './leastSquares';

export interface AdfConfig {
  /** Largest number of lagged differences tried. Default ⌈12 (n/100)^¼⌉ (Schwert), capped at n/2 − 2. */
  readonly maxLag?: number;
  /** 'aic' picks the lag count by Akaike's criterion on a common sample; 'fixed' uses maxLag. Default 'aic'. */
  readonly autolag?: 'aic' | 'fixed';
}

export interface AdfResult {
  /** t-statistic of the lagged level's coefficient. */
  readonly statistic: number;
  /** MacKinnon (1994) approximate p-value. */
  readonly pValue: number;
  /** Lagged differences in the final regression. */
  readonly usedLag: number;
  /** Observations in the final regression. */
  readonly nobs: number;
  /** MacKinnon (2010) finite-sample critical values. */
  readonly criticalValues: { readonly '1%': number; readonly '5%': number; readonly '10%': number };
  /** Smallest AIC of the lag search (undefined for a fixed lag). */
  readonly icBest: number | undefined;
}

// MacKinnon (1994), regression with constant, N = 1 (statsmodels' adfvalues.py).
const TAU_MAX = 2.74;
const TAU_MIN = -18.83;
const TAU_STAR = -1.61;
const TAU_SMALL_P = [2.1659, 1.4412, 3.8269e-2];
const TAU_LARGE_P = [1.7339, 9.3202e-1, -1.2745e-1, -1.0368e-2];
// MacKinnon (2010) critical values: c0 + c1/n + c2/n² + c3/n³ for 1 %, 5 %, 10 %.
const TAU_C_2010 = [
  [-3.43035, -6.5393, -16.786, -79.433],
  [-2.86154, -2.8903, -4.234, -40.04],
  [-2.56677, -1.5384, -2.809, 0],
] as const;

function polyval(coef: readonly number[], x: number): number {
  let s = 0;
  for (let i = coef.length - 1; i >= 0; i--) s = s * x + (coef[i] as number);
  return s;
}

/** MacKinnon's approximate p-value of an ADF t-statistic (constant, one series). */
export function mackinnonPValue(statistic: number): number {
  if (statistic > TAU_MAX) return 1;
  if (statistic < TAU_MIN) return 0;
  return normalCdf(polyval(statistic <= TAU_STAR ? TAU_SMALL_P : TAU_LARGE_P, statistic));
}

/** Design of Δx_t on [x_{t−1}, Δx_{t−1}, …, Δx_{t−lags}] over t = firstRow… (Δx index). */
function design(
  x: ArrayLike<number>,
  lags: number,
  firstRow: number,
): { y: Float64Array; level: Float64Array; diffs: Float64Array[] } {
  const rows = x.length - 1 - firstRow;
  const dx = (t: number): number => (x[t + 1] as number) - (x[t] as number);
  const y = new Float64Array(rows);
  const level = new Float64Array(rows);
  const diffs = Array.from({ length: lags }, () => new Float64Array(rows));
  for (let r = 0; r < rows; r++) {
    const t = firstRow + r;
    y[r] = dx(t);
    level[r] = x[t] as number;
    for (let l = 1; l <= lags; l++) (diffs[l - 1] as Float64Array)[r] = dx(t - l);
  }
  return { y, level, diffs };
}

function ones(n: number): Float64Array {
  return new Float64Array(n).fill(1);
}

/** ADF test of the series `x` (e.g. log prices), constant in the regression. */
export function adfTest(x: ArrayLike<number>, config: AdfConfig = {}): AdfResult {
  checkSeries(x, 10, 'ADF test');
  let min = x[0] as number;
  let max = min;
  for (let i = 1; i < x.length; i++) {
    min = Math.min(min, x[i] as number);
    max = Math.max(max, x[i] as number);
  }
  if (min === max) throw new StatsError('STATS_DEGENERATE', 'ADF test: the series is constant');
  const n = x.length;
  const cap = Math.floor(n / 2) - 1 - 1;
  let maxLag = config.maxLag ?? Math.min(cap, Math.ceil(12 * (n / 100) ** 0.25));
  if (!Number.isInteger(maxLag) || maxLag < 0 || maxLag > cap)
    throw new StatsError(
      'STATS_BAD_INPUT',
      `ADF test: maxLag must be an integer in [0, ${cap}] for ${n} values, found ${maxLag}`,
    );
  let usedLag = maxLag;
  let icBest: number | undefined;
  if ((config.autolag ?? 'aic') === 'aic') {
    // Every candidate on the same sample (the rows the largest lag allows), as statsmodels does,
    // so their AICs compare; columns [const, level, Δx_{t−1} …]: the nested SSRs of one QR.
    const { y, level, diffs } = design(x, maxLag, maxLag);
    const fit = leastSquares([ones(y.length), level, ...diffs], y);
    const nobs = y.length;
    for (let lag = 0; lag <= maxLag; lag++) {
      const k = lag + 2;
      const ssr = fit.nestedSsr[k - 1] as number;
      const aic = nobs * (Math.log(2 * Math.PI) + Math.log(ssr / nobs) + 1) + 2 * k;
      if (icBest === undefined || aic < icBest) {
        icBest = aic;
        usedLag = lag;
      }
    }
    maxLag = usedLag;
  }
  const { y, level, diffs } = design(x, usedLag, usedLag);
  const fit = leastSquares([level, ...diffs, ones(y.length)], y);
  const nobs = y.length;
  const s2 = fit.ssr / (nobs - fit.p);
  const statistic = (fit.coefficients[0] as number) / Math.sqrt(s2 * (fit.inverseGramDiagonal[0] as number));
  const crit = TAU_C_2010.map((c) => polyval(c, 1 / nobs));
  return {
    statistic,
    pValue: mackinnonPValue(statistic),
    usedLag,
    nobs,
    criticalValues: { '1%': crit[0] as number, '5%': crit[1] as number, '10%': crit[2] as number },
    icBest,
  };
}
