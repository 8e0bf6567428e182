import { defer, map, type OperatorFunction } from 'rxjs';
import type { Bar } from './types';

/** Market regime of spec §6.5's regime adjustment; `unknown` until enough bars were seen. */
export type Regime = 'trend' | 'range' | 'high-vol' | 'unknown';

export interface DetectRegimeConfig {
  /** Bars over which the efficiency ratio |Δclose| / Σ|Δclose| is measured. Default 48. */
  readonly trendBars?: number;
  /** Efficiency ratio at or above which the market trends. Default 0.3. */
  readonly trendEfficiency?: number;
  /** Half-life of the short volatility estimate, bars. Default 24. */
  readonly shortHalfLife?: number;
  /** Half-life of the long (baseline) volatility estimate, bars. Default 480. */
  readonly longHalfLife?: number;
  /** Short/long volatility ratio at or above which the regime is high volatility. Default 1.5. */
  readonly highVolRatio?: number;
}

export interface RegimeReading {
  readonly regime: Regime;
  /** Kaufman efficiency ratio over `trendBars` (null until warm). */
  readonly efficiency: number | null;
  /** Short σ / long σ of log returns (null until warm). */
  readonly volRatio: number | null;
}

/**
 * Classifies each bar's market from its own series (nothing later): high volatility when the
 * short EWMA volatility of log returns is at least `highVolRatio` times the long one, else trend
 * when the efficiency ratio over `trendBars` is at least `trendEfficiency`, else range.
 *
 * ```
 * bars:   -a-b-c-…-x-|
 * regime: -u-u-u-…-T-|   (u = unknown while warming up)
 * ```
 * @example
 * bars$.pipe(detectRegime({ trendBars: 48 }))
 */
export function detectRegime(config: DetectRegimeConfig = {}): OperatorFunction<Bar, RegimeReading> {
  const n = config.trendBars ?? 48;
  const threshold = config.trendEfficiency ?? 0.3;
  const highVol = config.highVolRatio ?? 1.5;
  const shortHl = config.shortHalfLife ?? 24;
  const longHl = config.longHalfLife ?? 480;
  if (!(Number.isInteger(n) && n >= 2))
    throw new RangeError(`detectRegime: trendBars must be an integer ≥ 2, found ${n}`);
  if (!(shortHl > 0 && longHl > shortHl))
    throw new RangeError(`detectRegime: expected 0 < shortHalfLife < longHalfLife, found ${shortHl} and ${longHl}`);
  const aShort = 1 - 0.5 ** (1 / shortHl);
  const aLong = 1 - 0.5 ** (1 / longHl);
  const warmReturns = Math.max(n, Math.ceil(shortHl * 4));
  return (bars$) =>
    defer(() => {
      // State of this subscription only.
      const closes = new Float64Array(n + 1);
      const moves = new Float64Array(n);
      let count = 0;
      let moveSum = 0;
      let prev = Number.NaN;
      let varShort = 0;
      let varLong = 0;
      let returns = 0;
      return bars$.pipe(
        map((bar): RegimeReading => {
          const close = bar.close;
          if (!(close > 0)) throw new RangeError(`detectRegime: bar ${bar.symbol} ${bar.tsEvent} has close ${close}`);
          if (prev > 0) {
            const r = Math.log(close / prev);
            varShort = returns === 0 ? r * r : varShort + aShort * (r * r - varShort);
            varLong = returns === 0 ? r * r : varLong + aLong * (r * r - varLong);
            returns++;
            const move = Math.abs(close - prev);
            const slot = (count - 1) % n;
            if (count > n) moveSum -= moves[slot]!;
            moves[slot] = move;
            moveSum += move;
          }
          closes[count % (n + 1)] = close;
          count++;
          prev = close;
          if (count <= n || returns < warmReturns) return { regime: 'unknown', efficiency: null, volRatio: null };
          const first = closes[count % (n + 1)]!; // the close n bars ago
          const efficiency = moveSum > 0 ? Math.abs(close - first) / moveSum : 0;
          const volRatio = varLong > 0 ? Math.sqrt(varShort / varLong) : 1;
          const regime: Regime = volRatio >= highVol ? 'high-vol' : efficiency >= threshold ? 'trend' : 'range';
          return { regime, efficiency, volRatio };
        }),
      );
    });
}
