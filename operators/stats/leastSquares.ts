/**
 * Ordinary least squares by Householder QR (stable where the normal equations lose digits: a
 * level of ~10 next to differences of ~1e-3 in the ADF regression).
 */
import { StatsError } from './errors';

export interface QrFit {
  /** Number of observations. */
  readonly n: number;
  /** Number of regressors. */
  readonly p: number;
  /** Coefficients, one per column in the order given. */
  readonly coefficients: Float64Array;
  /** Residual sum of squares of the full model. */
  readonly ssr: number;
  /** SSR of the model with only the first k columns, k = 1..p (index k−1): nested fits for free. */
  readonly nestedSsr: Float64Array;
  /** diag((XᵀX)⁻¹), for standard errors: se_j = √(s² · d_j), s² = ssr / (n − p). */
  readonly inverseGramDiagonal: Float64Array;
}

/**
 * Fits y = X b by least squares. `columns` are the regressors (each of length n); they are not
 * modified. The nested SSRs come from the same factorisation: with Qᵀy = (c, e), the SSR of the
 * first k columns is ‖e‖² + Σ_{j≥k} c_j².
 */
export function leastSquares(columns: readonly Float64Array[], y: Float64Array): QrFit {
  const p = columns.length;
  const n = y.length;
  if (p === 0) throw new StatsError('STATS_BAD_INPUT', 'least squares: no regressors');
  if (n <= p) throw new StatsError('STATS_TOO_SHORT', `least squares: ${n} observations for ${p} regressors`);
  const a = columns.map((c, j) => {
    if (c.length !== n)
      throw new StatsError('STATS_BAD_INPUT', `least squares: column ${j} has ${c.length} rows, y has ${n}`);
    return Float64Array.from(c);
  });
  const qty = Float64Array.from(y);
  const rDiag = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    const col = a[j] as Float64Array;
    let norm = 0;
    for (let i = j; i < n; i++) norm += (col[i] as number) ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) throw new StatsError('STATS_DEGENERATE', `least squares: column ${j} is zero or collinear`);
    const alpha = (col[j] as number) > 0 ? -norm : norm;
    // v = col[j..] − alpha e_1, stored in place; H = I − 2 v vᵀ / vᵀv.
    col[j] = (col[j] as number) - alpha;
    let vtv = 0;
    for (let i = j; i < n; i++) vtv += (col[i] as number) ** 2;
    const reflect = (target: Float64Array): void => {
      let dot = 0;
      for (let i = j; i < n; i++) dot += (col[i] as number) * (target[i] as number);
      const f = (2 * dot) / vtv;
      for (let i = j; i < n; i++) target[i] = (target[i] as number) - f * (col[i] as number);
    };
    for (let k = j + 1; k < p; k++) reflect(a[k] as Float64Array);
    reflect(qty);
    rDiag[j] = alpha;
  }
  const r = (i: number, k: number): number => (i === k ? (rDiag[i] as number) : ((a[k] as Float64Array)[i] as number));
  for (let j = 0; j < p; j++)
    if (Math.abs(rDiag[j] as number) <= 1e-12 * Math.abs(rDiag[0] as number))
      throw new StatsError('STATS_DEGENERATE', `least squares: column ${j} is collinear with the ones before it`);
  const coefficients = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = qty[i] as number;
    for (let k = i + 1; k < p; k++) s -= r(i, k) * (coefficients[k] as number);
    coefficients[i] = s / r(i, i);
  }
  let ssr = 0;
  for (let i = p; i < n; i++) ssr += (qty[i] as number) ** 2;
  const nestedSsr = new Float64Array(p);
  let tail = ssr;
  for (let k = p; k >= 1; k--) {
    nestedSsr[k - 1] = tail;
    tail += (qty[k - 1] as number) ** 2;
  }
  // R⁻¹ (upper triangular), then diag((XᵀX)⁻¹) = row sums of squares of R⁻¹.
  const rInv = Array.from({ length: p }, () => new Float64Array(p));
  for (let k = 0; k < p; k++) {
    (rInv[k] as Float64Array)[k] = 1 / r(k, k);
    for (let i = k - 1; i >= 0; i--) {
      let s = 0;
      for (let m = i + 1; m <= k; m++) s += r(i, m) * ((rInv[m] as Float64Array)[k] as number);
      (rInv[i] as Float64Array)[k] = -s / r(i, i);
    }
  }
  const inverseGramDiagonal = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = 0;
    for (let k = i; k < p; k++) s += ((rInv[i] as Float64Array)[k] as number) ** 2;
    inverseGramDiagonal[i] = s;
  }
  return { n, p, coefficients, ssr, nestedSsr, inverseGramDiagonal };
}
