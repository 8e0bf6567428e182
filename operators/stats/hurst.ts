/**
 * Hurst exponent by rescaled-range (R/S) analysis with the Anis–Lloyd–Peters small-sample
 * correction — the procedure of nolds' `hurst_rs(x, fit='poly')` (defaults: 15 log-spaced window
 * sizes from the middle half of log n, unbiased standard deviation, corrected).
 *
 * Read it on returns: H ≈ 0.5 is no memory, H > 0.5 persistence (trends), H < 0.5 mean reversion.
 */
import { jStat } from 'jstat';
import { checkSeries, StatsError } from './errors';

export interface HurstConfig {
  /** Window sizes n; default nolds' logmid_n(len, 1/4, 15). */
  readonly windows?: readonly number[];
  /** Subtract the expected R/S of white noise (Anis–Lloyd–Peters) and add 0.5. Default true. */
  readonly corrected?: boolean;
}

export interface HurstResult {
  readonly hurst: number;
  /** The window sizes used (those with a defined R/S). */
  readonly windows: readonly number[];
  /** Mean R/S at each window size. */
  readonly rescaledRanges: readonly number[];
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** nolds' logmid_n: up to `steps` log-spaced integers in the middle `ratio` of [0, log maxN]. */
export function logMidWindows(maxN: number, ratio = 0.25, steps = 15): number[] {
  const l = Math.log(maxN);
  const span = l * ratio;
  const start = l * (1 - ratio) * 0.5;
  const out = new Set<number>();
  for (let i = 0; i < steps; i++) out.add(roundHalfEven(Math.exp(start + (i / steps) * span)));
  return [...out].sort((a, b) => a - b);
}

/** E[(R/S)_n] of white noise (Anis–Lloyd 1976 with Peters' factor), as nolds' expected_rs. */
export function expectedRescaledRange(n: number): number {
  const front = (n - 0.5) / n;
  let back = 0;
  for (let i = 1; i < n; i++) back += Math.sqrt((n - i) / i);
  const middle =
    n <= 340
      ? Math.exp(jStat.gammaln((n - 1) * 0.5) - jStat.gammaln(n * 0.5)) / Math.sqrt(Math.PI)
      : 1 / Math.sqrt(n * Math.PI * 0.5);
  return front * middle * back;
}

/** Mean R/S over the ⌊len/n⌋ consecutive blocks of length n (ranges of 0 are left out). */
function rescaledRange(x: ArrayLike<number>, n: number): number {
  const blocks = Math.floor(x.length / n);
  let sum = 0;
  let count = 0;
  for (let b = 0; b < blocks; b++) {
    const o = b * n;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[o + i] as number;
    mean /= n;
    let cum = 0;
    let hi = -Infinity;
    let lo = Infinity;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const d = (x[o + i] as number) - mean;
      cum += d;
      hi = Math.max(hi, cum);
      lo = Math.min(lo, cum);
      ss += d * d;
    }
    const r = hi - lo;
    if (r === 0) continue;
    sum += r / Math.sqrt(ss / (n - 1));
    count++;
  }
  return count ? sum / count : Number.NaN;
}

export function hurstExponent(x: ArrayLike<number>, config: HurstConfig = {}): HurstResult {
  checkSeries(x, 20, 'Hurst exponent');
  const corrected = config.corrected ?? true;
  const candidates = config.windows ?? logMidWindows(x.length);
  for (const n of candidates)
    if (!Number.isInteger(n) || n < 2 || n > x.length)
      throw new StatsError(
        'STATS_BAD_INPUT',
        `Hurst exponent: window sizes must be integers in [2, ${x.length}], found ${n}`,
      );
  const windows: number[] = [];
  const rescaledRanges: number[] = [];
  for (const n of candidates) {
    const rs = rescaledRange(x, n);
    if (Number.isNaN(rs)) continue;
    windows.push(n);
    rescaledRanges.push(rs);
  }
  if (windows.length < 2)
    throw new StatsError('STATS_DEGENERATE', 'Hurst exponent: fewer than two window sizes with a non-zero range');
  // Least-squares slope of log(R/S) (minus the white-noise expectation) on log n.
  const xs = windows.map(Math.log);
  const ys = rescaledRanges.map(
    (rs, i) => Math.log(rs) - (corrected ? Math.log(expectedRescaledRange(windows[i] as number)) : 0),
  );
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
  }
  const slope = sxy / sxx;
  return { hurst: corrected ? slope + 0.5 : slope, windows, rescaledRanges };
}
