import { Observable, type OperatorFunction } from 'rxjs';
import { Bot4Error } from './errors';
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

/** A bar the statistics cannot be folded with, or a config they cannot run on. */
export class MarketStatsInputError extends Bot4Error<'MARKET_STATS_INPUT_INVALID'> {
  constructor(message: string) {
    super('MARKET_STATS_INPUT_INVALID', 'trackMarketStats', message);
  }
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
  if (!(lambda > 0 && lambda < 1))
    throw new MarketStatsInputError(`trackMarketStats: lambda must be in (0, 1), found ${lambda}`);
  return (source) =>
    new Observable<MarketStats>((subscriber) => {
      /** Symbols in order of first appearance; a symbol's index never changes. */
      const symbols: Symbol[] = [];
      const index = new Map<Symbol, number>();
      const series: SeriesStats[] = [];
      /** EWMA covariance and return count of each pair, row-major, i < j, `capacity` wide. */
      let capacity = 8;
      let covariance = new Float64Array(capacity * capacity);
      let pairCount = new Float64Array(capacity * capacity);
      return source.subscribe({
        next: (bar) => {
          try {
            if (!Number.isFinite(bar.tsEvent) || !Number.isFinite(bar.tsOpen))
              throw new MarketStatsInputError(
                `trackMarketStats: ${bar.symbol} bar with a non-finite time (${bar.tsOpen}, ${bar.tsEvent})`,
              );
            const tf = timeframeMs(bar.timeframe);
            let k = index.get(bar.symbol);
            if (k === undefined) {
              k = symbols.length;
              symbols.push(bar.symbol);
              index.set(bar.symbol, k);
              series.push(new SeriesStats(tf, config.advBars ?? Math.max(1, Math.round(86_400_000 / tf))));
              if (symbols.length > capacity) {
                const grown = capacity * 2;
                const cov = new Float64Array(grown * grown);
                const cnt = new Float64Array(grown * grown);
                for (let i = 0; i < capacity; i++)
                  for (let j = 0; j < capacity; j++) {
                    cov[i * grown + j] = covariance[i * capacity + j]!;
                    cnt[i * grown + j] = pairCount[i * capacity + j]!;
                  }
                covariance = cov;
                pairCount = cnt;
                capacity = grown;
              }
            }
            const s = series[k]!;
            const r = s.add(bar, lambda);
            if (r !== undefined) {
              for (let o = 0; o < series.length; o++) {
                const other = series[o]!;
                if (o === k || other.lastReturnTs !== bar.tsEvent || other.lastReturn === undefined) continue;
                const cell = k < o ? k * capacity + o : o * capacity + k;
                const previous = pairCount[cell] === 0 ? r * other.lastReturn : covariance[cell]!;
                covariance[cell] = lambda * previous + (1 - lambda) * r * other.lastReturn;
                pairCount[cell]!++;
              }
            }
            subscriber.next(snapshot(bar.tsEvent));
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });

      /**
       * An immutable view of the state after this bar: flat copies of a few numbers per symbol and
       * per pair (no maps built, no strings split), correlations computed when asked.
       */
      function snapshot(tsEvent: number): MarketStats {
        const n = symbols.length;
        const names = symbols.slice();
        const vol = new Float64Array(n);
        const adv = new Float64Array(n);
        const price = new Float64Array(n);
        const variance = new Float64Array(n);
        const warm = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          const s = series[i]!;
          warm[i] = s.count >= minReturns ? 1 : 0;
          vol[i] = warm[i] ? s.volatility : NaN;
          adv[i] = s.advQuote();
          price[i] = s.lastPrice;
          variance[i] = s.variance;
        }
        const width = capacity;
        const cov = covariance.slice(0, (n - 1) * width + n);
        const cnt = pairCount.slice(0, (n - 1) * width + n);
        const at = (symbol: Symbol): number | undefined => {
          const i = index.get(symbol);
          return i !== undefined && i < n ? i : undefined;
        };
        return {
          kind: 'market-stats',
          tsEvent,
          volatility: new SymbolValues(names, vol, at),
          adv: new SymbolValues(names, adv, at),
          price: new SymbolValues(names, price, at),
          correlation: (a, b) => {
            const i = at(a);
            const j = at(b);
            if (i === undefined || j === undefined) return undefined;
            if (i === j) return warm[i] ? 1 : undefined;
            if (!warm[i] || !warm[j]) return undefined;
            const cell = i < j ? i * width + j : j * width + i;
            if (cnt[cell]! < minReturns) return undefined;
            const denominator = Math.sqrt(variance[i]! * variance[j]!);
            return denominator > 0 ? Math.max(-1, Math.min(1, cov[cell]! / denominator)) : undefined;
          },
        };
      }
    });
}

/**
 * A read-only map from symbol to number over a snapshot's arrays: a missing value is NaN (a
 * symbol not warm yet is absent, as in a Map without the key).
 */
class SymbolValues implements ReadonlyMap<Symbol, number> {
  constructor(
    private readonly names: readonly Symbol[],
    private readonly data: Float64Array,
    private readonly at: (symbol: Symbol) => number | undefined,
  ) {}

  get size(): number {
    let n = 0;
    for (const v of this.data) if (!Number.isNaN(v)) n++;
    return n;
  }

  get(symbol: Symbol): number | undefined {
    const i = this.at(symbol);
    if (i === undefined) return undefined;
    const v = this.data[i]!;
    return Number.isNaN(v) ? undefined : v;
  }

  has(symbol: Symbol): boolean {
    return this.get(symbol) !== undefined;
  }

  *entries(): MapIterator<[Symbol, number]> {
    for (let i = 0; i < this.names.length; i++) {
      const v = this.data[i]!;
      if (!Number.isNaN(v)) yield [this.names[i]!, v];
    }
  }

  *keys(): MapIterator<Symbol> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<number> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[Symbol, number]> {
    return this.entries();
  }

  forEach(callback: (value: number, key: Symbol, map: ReadonlyMap<Symbol, number>) => void): void {
    for (const [k, v] of this.entries()) callback(v, k, this);
  }
}

class SeriesStats {
  variance = 0;
  count = 0;
  lastReturn: number | undefined;
  lastReturnTs = -1;
  /** Close of the latest bar. */
  lastPrice = NaN;
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

  /** Annualised volatility of the returns so far (365-day year). */
  get volatility(): number {
    return Math.sqrt(this.variance * ((365 * 86_400_000) / this.tfMs));
  }

  /** Adds a bar; returns its log return, or undefined (first bar, gap, bad price). */
  add(bar: Bar, lambda: number): number | undefined {
    this.lastPrice = bar.close;
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
