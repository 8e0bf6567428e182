/** The series the tests are applied to, derived from bars the same way everywhere. */
import type { Bar } from '../types';

/** ln(close) of every bar, in order. */
export function logLevels(bars: readonly Bar[]): Float64Array {
  return Float64Array.from(bars, (b) => Math.log(b.close));
}

/**
 * ln(close_t / close_{t−1}) of adjacent bars only: a return across a gap in the data (an exchange
 * outage) is skipped, never counted as a one-bar return.
 */
export function adjacentLogReturns(bars: readonly Bar[]): Float64Array {
  const out: number[] = [];
  for (let i = 1; i < bars.length; i++) {
    const b = bars[i] as Bar;
    const a = bars[i - 1] as Bar;
    if (b.tsOpen === a.tsEvent) out.push(Math.log(b.close / a.close));
  }
  return Float64Array.from(out);
}
