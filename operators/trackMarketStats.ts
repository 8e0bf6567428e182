import { Observable, type OperatorFunction } from 'rxjs';
import { timeframeMs, type Bar, type Symbol } from './types';

export interface TrackMarketStatsConfig {
  /**
   * EWMA decay per bar for variances and covariances (RiskMetrics uses 0.94 for daily data).
   * Default 0.97: for intraday bars a slower decay keeps the estimate from chasing noise.
   */
  readonly lambda?: number;
  /** Returns needed before a symbol's volatility is reported. Default 50. */
  readonly minReturns?: number;
  /** Bars averaged for the average daily (quote) volume. Default one day of bars. */
  readonly advBars?: number;
}

/** Risk statistics of the market at one bar, for sizing and the risk gate. */
export interface MarketStats {
  readonly kind: 'market-stats';
  readonly tsEvent: number;
  /** Annualised volatility of log returns per symbol (365-day year); absent until warm. */
  readonly volatility: ReadonlyMap<Symbol, number>;
  /** Average daily traded value in quote currency per symbol. */
  readonly adv: ReadonlyMap<Symbol, number>;
  /** Latest close per symbol. */
  readonly price: ReadonlyMap<Symbol, number>;
  /** EWMA correlation of two symbols' returns (1 for a symbol with itself), or undefined until both are warm. */
  correlation(a: Symbol, b: Symbol): number | undefined;
}

/**
 * Rolling market statistics from bars of one timeframe (one or several symbols): EWMA
 * volatility, EWMA pairwise correlation and average daily traded value. O(symbols) per bar for
 * the variance and O(symbols) for the covariances of the bar's symbol with the others.
 *
 * Returns across a gap in the data are skipped (a 3-hour move is not a 5-minute return).
 * Correlations pair each symbol's latest return with the others' returns of the same bar time.
 *
 * ```
 * bars:  --a--b--c--|
 * stats: --A--B--C--|    one immutable snapshot per bar
 * ```
 */
export function trackMarketStats(config: TrackMarketStatsConfig = {}): OperatorFunction<Bar, MarketStats> {
  const lambda = config.lambda ?? 0.97;
  const minReturns = config.minReturns ?? 50;
  return (source) =>
    new Observable<MarketStats>((subscriber) => {
      const series = new Map<Symbol, SeriesStats>();
      const pairs = new Map<string, PairStats>();
      const volatility = new Map<Symbol, number>();
      const adv = new Map<Symbol, number>();
      const price = new Map<Symbol, number>();
      /** Correlations of the warm pairs, as of now (copied into each snapshot). */
      const correlations = (): Map<string, number> => {
        const out = new Map<string, number>();
        for (const [key, pair] of pairs) {
          const [a, b] = key.split('|') as [Symbol, Symbol];
          const sa = series.get(a)!;
          const sb = series.get(b)!;
          if (pair.count < minReturns || sa.count < minReturns || sb.count < minReturns) continue;
          const denominator = Math.sqrt(sa.variance * sb.variance);
          if (denominator > 0) out.set(key, Math.max(-1, Math.min(1, pair.covariance / denominator)));
        }
        return out;
      };
      return source.subscribe({
        next: (bar) => {
          const tf = timeframeMs(bar.timeframe);
          let s = series.get(bar.symbol);
          if (!s) {
            s = new SeriesStats(tf, config.advBars ?? Math.max(1, Math.round(86_400_000 / tf)));
            series.set(bar.symbol, s);
          }
          const r = s.add(bar, lambda);
          price.set(bar.symbol, bar.close);
          adv.set(bar.symbol, s.advQuote());
          if (s.count >= minReturns) volatility.set(bar.symbol, Math.sqrt(s.variance * ((365 * 86_400_000) / tf)));
          if (r !== undefined) {
            for (const [other, o] of series) {
              if (other === bar.symbol || o.lastReturnTs !== bar.tsEvent || o.lastReturn === undefined) continue;
              const key = pairKey(bar.symbol, other);
              let pair = pairs.get(key);
              if (!pair) {
                pair = { covariance: r * o.lastReturn, count: 0 };
                pairs.set(key, pair);
              }
              pair.covariance = lambda * pair.covariance + (1 - lambda) * r * o.lastReturn;
              pair.count++;
            }
          }
          // Each snapshot owns its maps: a consumer that keeps one never sees it change.
          const vol = new Map(volatility);
          const corr = pairs.size > 0 ? correlations() : EMPTY;
          subscriber.next({
            kind: 'market-stats',
            tsEvent: bar.tsEvent,
            volatility: vol,
            adv: new Map(adv),
            price: new Map(price),
            correlation: (a, b) => (a === b ? (vol.has(a) ? 1 : undefined) : corr.get(pairKey(a, b))),
          });
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

const EMPTY: ReadonlyMap<string, number> = new Map();

function pairKey(a: Symbol, b: Symbol): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

interface PairStats {
  covariance: number;
  count: number;
}

class SeriesStats {
  variance = 0;
  count = 0;
  lastReturn: number | undefined;
  lastReturnTs = -1;
  private lastClose: number | undefined;
  private lastTsEvent = -1;
  private readonly quoteVolumes: Float64Array;
  private volumeIndex = 0;
  private volumeCount = 0;
  private volumeSum = 0;

  constructor(
    private readonly tfMs: number,
    advBars: number,
  ) {
    this.quoteVolumes = new Float64Array(advBars);
  }

  /** Adds a bar; returns its log return, or undefined (first bar, gap, bad price). */
  add(bar: Bar, lambda: number): number | undefined {
    const quote = bar.volume * bar.close;
    if (this.volumeCount === this.quoteVolumes.length) this.volumeSum -= this.quoteVolumes[this.volumeIndex]!;
    else this.volumeCount++;
    this.quoteVolumes[this.volumeIndex] = quote;
    this.volumeSum += quote;
    this.volumeIndex = (this.volumeIndex + 1) % this.quoteVolumes.length;

    let r: number | undefined;
    if (this.lastClose !== undefined && this.lastClose > 0 && bar.close > 0 && bar.tsOpen === this.lastTsEvent) {
      r = Math.log(bar.close / this.lastClose);
      this.variance = this.count === 0 ? r * r : lambda * this.variance + (1 - lambda) * r * r;
      this.count++;
    }
    this.lastClose = bar.close;
    this.lastTsEvent = bar.tsEvent;
    this.lastReturn = r;
    this.lastReturnTs = r === undefined ? -1 : bar.tsEvent;
    return r;
  }

  /** Average traded value per day, in quote. */
  advQuote(): number {
    if (this.volumeCount === 0) return 0;
    return (this.volumeSum / this.volumeCount) * (86_400_000 / this.tfMs);
  }
}
