/** Sample moments shared by the tests (population form, 1/n, as scipy's defaults). */

export interface Moments {
  readonly n: number;
  readonly mean: number;
  /** Population variance (1/n). */
  readonly variance: number;
  /** Skewness g1 = m3 / m2^1.5 (biased, scipy.stats.skew default). */
  readonly skewness: number;
  /** Kurtosis m4 / m2² (not excess: 3 for a normal). */
  readonly kurtosis: number;
}

export function moments(x: ArrayLike<number>): Moments {
  const n = x.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i] as number;
  const mean = sum / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - mean;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  return { n, mean, variance: m2, skewness: m3 / m2 ** 1.5, kurtosis: m4 / (m2 * m2) };
}

/** Sample autocorrelations r_1..r_maxLag (demeaned, denominator Σ(x−x̄)², as statsmodels' acf). */
export function autocorrelations(x: ArrayLike<number>, maxLag: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i] as number;
  mean /= n;
  const d = new Float64Array(n);
  let c0 = 0;
  for (let i = 0; i < n; i++) {
    const v = (x[i] as number) - mean;
    d[i] = v;
    c0 += v * v;
  }
  const out = new Float64Array(maxLag);
  for (let k = 1; k <= maxLag; k++) {
    let c = 0;
    for (let i = k; i < n; i++) c += (d[i] as number) * (d[i - k] as number);
    out[k - 1] = c / c0;
  }
  return out;
}
