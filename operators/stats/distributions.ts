/**
 * The distribution functions the tests need, from jStat (one dependency-free package, MIT),
 * rather than our own series expansions.
 */
import { jStat } from 'jstat';

/** Φ(x): standard normal CDF. */
export function normalCdf(x: number): number {
  return jStat.normal.cdf(x, 0, 1);
}

/** Φ⁻¹(p): standard normal quantile, p in (0, 1). */
export function normalQuantile(p: number): number {
  return jStat.normal.inv(p, 0, 1);
}

/**
 * P(χ²_k > x): the upper tail, the p-value of a χ² statistic. Computed as 1 − P(k/2, x/2), so
 * values below ~1e-16 come out as 0 (reported as "< 1e-16", never as evidence of exactly 0).
 */
export function chiSquareSf(x: number, k: number): number {
  if (x <= 0) return 1;
  return Math.max(0, 1 - jStat.lowRegGamma(k / 2, x / 2));
}
