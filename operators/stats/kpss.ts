/**
 * KPSS test of level stationarity — statsmodels' `kpss(x, regression='c', nlags='auto')`:
 * Newey–West long-run variance (Bartlett kernel) with Hobijn et al. (1998)'s automatic lag,
 * p-value interpolated in KPSS (1992)'s table.
 *
 * H0: x is level-stationary (the opposite null of ADF). A small p-value rejects it. The table
 * only spans p ∈ [0.01, 0.10]: outside it the p-value is clipped and `pValueBound` says which way.
 */
import { checkSeries, StatsError } from './errors';

export interface KpssConfig {
  /** Bartlett-kernel lags; default automatic (Hobijn et al. 1998). */
  readonly lags?: number;
}

export interface KpssResult {
  readonly statistic: number;
  readonly pValue: number;
  /** 'below': the true p-value is smaller than reported (0.01); 'above': larger (0.10). */
  readonly pValueBound: 'exact' | 'below' | 'above';
  readonly lags: number;
  readonly criticalValues: {
    readonly '10%': number;
    readonly '5%': number;
    readonly '2.5%': number;
    readonly '1%': number;
  };
}

const CRIT = [0.347, 0.463, 0.574, 0.739] as const;
const PVALS = [0.1, 0.05, 0.025, 0.01] as const;

function autocovarianceSum(e: Float64Array, lag: number): number {
  let s = 0;
  for (let i = lag; i < e.length; i++) s += (e[i] as number) * (e[i - lag] as number);
  return s;
}

/** Hobijn, Franses & Ooms (1998) automatic bandwidth, as statsmodels' `_kpss_autolag`. */
function autoLags(e: Float64Array): number {
  const n = e.length;
  const covLags = Math.trunc(n ** (2 / 9));
  let s0 = autocovarianceSum(e, 0) / n;
  let s1 = 0;
  for (let i = 1; i <= covLags; i++) {
    const prod = autocovarianceSum(e, i) / (n / 2);
    s0 += prod;
    s1 += i * prod;
  }
  const sHat = s1 / s0;
  const gamma = 1.1447 * (sHat * sHat) ** (1 / 3);
  return Math.trunc(gamma * n ** (1 / 3));
}

export function kpssTest(x: ArrayLike<number>, config: KpssConfig = {}): KpssResult {
  checkSeries(x, 10, 'KPSS test');
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i] as number;
  mean /= n;
  const e = new Float64Array(n);
  for (let i = 0; i < n; i++) e[i] = (x[i] as number) - mean;
  const lags = config.lags ?? Math.min(autoLags(e), n - 1);
  if (!Number.isInteger(lags) || lags < 0 || lags >= n)
    throw new StatsError('STATS_BAD_INPUT', `KPSS test: lags must be an integer in [0, ${n - 1}], found ${lags}`);
  let cum = 0;
  let eta = 0;
  for (let i = 0; i < n; i++) {
    cum += e[i] as number;
    eta += cum * cum;
  }
  eta /= n * n;
  let sHat = autocovarianceSum(e, 0);
  for (let i = 1; i <= lags; i++) sHat += 2 * autocovarianceSum(e, i) * (1 - i / (lags + 1));
  sHat /= n;
  if (!(sHat > 0)) throw new StatsError('STATS_DEGENERATE', 'KPSS test: the series has no variance');
  const statistic = eta / sHat;
  let pValue: number;
  let pValueBound: KpssResult['pValueBound'] = 'exact';
  if (statistic <= CRIT[0]) {
    pValue = PVALS[0];
    pValueBound = statistic < CRIT[0] ? 'above' : 'exact';
  } else if (statistic >= CRIT[3]) {
    pValue = PVALS[3];
    pValueBound = statistic > CRIT[3] ? 'below' : 'exact';
  } else {
    let k = 0;
    while (statistic > (CRIT[k + 1] as number)) k++;
    const f = (statistic - (CRIT[k] as number)) / ((CRIT[k + 1] as number) - (CRIT[k] as number));
    pValue = (PVALS[k] as number) + f * ((PVALS[k + 1] as number) - (PVALS[k] as number));
  }
  return {
    statistic,
    pValue,
    pValueBound,
    lags,
    criticalValues: { '10%': CRIT[0], '5%': CRIT[1], '2.5%': CRIT[2], '1%': CRIT[3] },
  };
}
