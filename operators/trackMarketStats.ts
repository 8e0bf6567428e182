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
       * An immutable view of the state after this bar: one flat copy of a few numbers per symbol
       * and per pair (no maps built, no strings split, one typed array allocated), correlations
       * computed when asked. `symbols` only grows, so the first `n` names are this bar's.
       */
      function snapshot(tsEvent: number): MarketStats {
        const n = symbols.length;
        const cells = (n - 1) * capacity + n;
        // [volatility (NaN until warm) | adv | price | variance | covariance cells | pair counts]
        const data = new Float64Array(4 * n + 2 * cells);
        for (let i = 0; i < n; i++) {
          const s = series[i]!;
          data[i] = s.count >= minReturns ? s.volatility : NaN;
          data[n + i] = s.advQuote();
          data[2 * n + i] = s.lastPrice;
          data[3 * n + i] = s.variance;
        }
        data.set(covariance.subarray(0, cells), 4 * n);
        data.set(pairCount.subarray(0, cells), 4 * n + cells);
        return new StatsSnapshot(tsEvent, symbols, index, n, capacity, minReturns, data);
      }
    });
}

/** One bar's statistics over one flat array (see `snapshot`). */
class StatsSnapshot implements MarketStats {
  readonly kind = 'market-stats';
  readonly volatility: SymbolValues;
  readonly adv: SymbolValues;
  readonly price: SymbolValues;

  constructor(
    readonly tsEvent: number,
    names: readonly Symbol[],
    private readonly index: ReadonlyMap<Symbol, number>,
    private readonly n: number,
    private readonly width: number,
    private readonly minReturns: number,
    private readonly data: Float64Array,
  ) {
    this.volatility = new SymbolValues(names, index, n, data, 0);
    this.adv = new SymbolValues(names, index, n, data, n);
    this.price = new SymbolValues(names, index, n, data, 2 * n);
  }

  correlation(a: Symbol, b: Symbol): number | undefined {
    const { n, data } = this;
    const i = this.index.get(a);
    const j = this.index.get(b);
    if (i === undefined || j === undefined || i >= n || j >= n) return undefined;
    // Warm: the volatility is reported (not NaN).
    if (i === j) return Number.isNaN(data[i]!) ? undefined : 1;
    if (Number.isNaN(data[i]!) || Number.isNaN(data[j]!)) return undefined;
    const cells = (n - 1) * this.width + n;
    const cell = i < j ? i * this.width + j : j * this.width + i;
    if (data[4 * n + cells + cell]! < this.minReturns) return undefined;
    const denominator = Math.sqrt(data[3 * n + i]! * data[3 * n + j]!);
    return denominator > 0 ? Math.max(-1, Math.min(1, data[4 * n + cell]! / denominator)) : undefined;
  }
}

/**
 * A read-only map from symbol to number over a snapshot's array (`n` values from `offset`): a
 * missing value is NaN (a symbol not warm yet is absent, as in a Map without the key).
 */
class SymbolValues implements ReadonlyMap<Symbol, number> {
  constructor(
    private readonly names: readonly Symbol[],
    private readonly index: ReadonlyMap<Symbol, number>,
    private readonly n: number,
    private readonly data: Float64Array,
    private readonly offset: number,
  ) {}

  get size(): number {
    let count = 0;
    for (let i = 0; i < this.n; i++) if (!Number.isNaN(this.data[this.offset + i]!)) count++;
    return count;
  }

  get(symbol: Symbol): number | undefined {
    const i = this.index.get(symbol);
    if (i === undefined || i >= this.n) return undefined;
    const v = this.data[this.offset + i]!;
    return Number.isNaN(v) ? undefined : v;
  }

  has(symbol: Symbol): boolean {
    return this.get(symbol) !== undefined;
  }

  *entries(): MapIterator<[Symbol, number]> {
    for (let i = 0; i < this.n; i++) {
      const v = this.data[this.offset + i]!;
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
