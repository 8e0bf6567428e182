/**
 * What makes a bar impossible, shared by the CSV reader (a bad row stops the run with its line and
 * column) and the live bar stream (a bad bar is a dead letter, never a decision): non-positive or
 * non-finite prices, OHLC that contradict each other, a price far out of line with the bars
 * before it (a bad tick), a timeframe that is not the one the strategy was built for, a price
 * scale that is not the instrument's. Pure functions and one small stateful detector; no I/O.
 */
import { TIMEFRAMES, timeframeMs, type Timeframe } from './types';

export type BarColumn = 'timestamp_ms' | 'open' | 'high' | 'low' | 'close' | 'volume';

/** One thing wrong with one bar: the column, what was expected, what was found. */
export interface BarProblem {
  readonly column: BarColumn;
  readonly expected: string;
  readonly found: string;
}

export interface OhlcvValues {
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

/**
 * The first impossibility of a bar's prices and volume, or null: every price finite and > 0
 * (a price of 0 is a missing value, not a price), volume finite and ≥ 0 (a zero-volume bar is a
 * real, quiet interval), low ≤ open, close ≤ high.
 */
export function barValueProblem(bar: OhlcvValues): BarProblem | null {
  for (const column of ['open', 'high', 'low', 'close'] as const) {
    const value = bar[column];
    if (!Number.isFinite(value) || value <= 0) return { column, expected: 'a positive price', found: String(value) };
  }
  if (!Number.isFinite(bar.volume) || bar.volume < 0)
    return { column: 'volume', expected: 'a volume ≥ 0', found: String(bar.volume) };
  const top = Math.max(bar.open, bar.close);
  const bottom = Math.min(bar.open, bar.close);
  if (bar.high < top)
    return {
      column: 'high',
      expected: `high ≥ max(open, close) = ${top}`,
      found: String(bar.high),
    };
  if (bar.low > bottom)
    return {
      column: 'low',
      expected: `low ≤ min(open, close) = ${bottom}`,
      found: String(bar.low),
    };
  return null;
}

export interface OutlierConfig {
  /**
   * A bar is an outlier when a price of it (open, high, low or close) is more than this factor
   * away from the previous accepted close (above ×factor or below ÷factor). Default 3.
   */
  readonly maxFactor?: number;
  /**
   * … and its log move is also more than this many times the median absolute log return of the
   * last `window` accepted bars. Default 100 (the largest on the shared Binance 1m–1h data,
   * flash crashes included, is 83).
   */
  readonly medianMultiple?: number;
  /** Accepted bars in the rolling median. Default 100. */
  readonly window?: number;
  /**
   * After this many outliers in a row at a consistent level the new level is accepted (a real
   * repricing, e.g. a redenomination, or a bad first bar), so a live stream cannot stall forever.
   * Default 3.
   */
  readonly acceptAfter?: number;
}

/** Why a bar was flagged. */
export interface OutlierFinding extends BarProblem {
  /** The log move against the previous accepted close. */
  readonly move: number;
  /** The rolling median absolute log return it was compared with. */
  readonly median: number;
}

/**
 * Robust bad-tick detection against the recent past: the scale is the rolling *median* of
 * absolute log close-to-close returns (one bad tick cannot inflate it, as it would a standard
 * deviation), and a bar is flagged only when its move is both large in absolute terms
 * (`maxFactor`) and huge relative to that scale (`medianMultiple`). Flagged bars do not enter the
 * history, so the bar after a bad tick is compared with the last good close. The first 10 bars
 * of a series get no verdict (there is no scale yet).
 *
 * Stateful: create one per series, inside a subscription.
 */
export class OutlierDetector {
  private readonly maxFactor: number;
  private readonly logFactor: number;
  private readonly medianMultiple: number;
  private readonly acceptAfter: number;
  /** Absolute log returns of the last `window` accepted bars, a ring. */
  private readonly returns: Float64Array;
  private count = 0;
  private next = 0;
  private lastClose: number | undefined;
  private streak: number[] = [];

  constructor(config: OutlierConfig = {}) {
    const maxFactor = config.maxFactor ?? 3;
    if (!(maxFactor > 1)) throw new RangeError(`OutlierDetector: maxFactor must be > 1, found ${maxFactor}`);
    this.maxFactor = maxFactor;
    this.logFactor = Math.log(maxFactor);
    this.medianMultiple = config.medianMultiple ?? 100;
    this.returns = new Float64Array(Math.max(1, config.window ?? 100));
    this.acceptAfter = config.acceptAfter ?? 3;
  }

  /**
   * Checks a bar (one that passed {@link barValueProblem}: its high and low bound open and close,
   * so they are its extreme moves) and, when it is no outlier, adds it to the history.
   */
  check(bar: OhlcvValues): OutlierFinding | null {
    const previous = this.lastClose;
    if (previous === undefined) {
      this.accept(bar.close);
      return null;
    }
    const up = bar.high / previous;
    const down = previous / bar.low;
    // Cheap on every bar: a ratio against the factor; the median (a sort) only past it.
    if (up > this.maxFactor || down > this.maxFactor) {
      const column = up >= down ? 'high' : 'low';
      const move = Math.log(bar[column] / previous);
      const size = Math.abs(move);
      const median = this.median();
      if (median !== undefined && size > this.logFactor && size > this.medianMultiple * median) {
        this.streak.push(bar.close);
        if (this.streak.length >= this.acceptAfter && this.consistentStreak()) {
          this.count = 0;
          this.next = 0;
          this.streak = [];
          this.lastClose = bar.close;
          return null;
        }
        return {
          column,
          expected: `a price within ×${this.maxFactor} of the previous close ${previous}`,
          found: `${bar[column]} (×${Math.exp(move).toPrecision(3)} the previous close${median > 0 ? `, ${(size / median).toFixed(0)}× the median move` : ''})`,
          move,
          median,
        };
      }
    }
    this.streak = [];
    this.accept(bar.close);
    return null;
  }

  private accept(close: number): void {
    if (this.lastClose !== undefined) {
      this.returns[this.next] = Math.abs(Math.log(close / this.lastClose));
      this.next = (this.next + 1) % this.returns.length;
      if (this.count < this.returns.length) this.count++;
    }
    this.lastClose = close;
  }

  private median(): number | undefined {
    // Too little history (fewer than 10 returns): no scale, so no verdict yet.
    if (this.count < 10) return undefined;
    const sorted = this.returns.slice(0, this.count).sort();
    return sorted[sorted.length >> 1]!;
  }

  private consistentStreak(): boolean {
    const logs = this.streak.map(Math.log);
    return Math.max(...logs) - Math.min(...logs) < this.logFactor;
  }
}

/**
 * The timeframe of a series of bar open times: the most frequent spacing between consecutive
 * rows (gaps are rarer than regular steps), when it is one of ccxt's timeframes. Undefined when
 * there are fewer than two rows; otherwise the spacing itself in `spacingMs`.
 */
export function inferTimeframe(
  openTimes: readonly number[],
): { readonly timeframe: Timeframe | undefined; readonly spacingMs: number } | undefined {
  if (openTimes.length < 2) return undefined;
  const counts = new Map<number, number>();
  for (let i = 1; i < openTimes.length; i++) {
    const d = openTimes[i]! - openTimes[i - 1]!;
    if (d > 0) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let spacingMs = 0;
  let best = 0;
  for (const [d, n] of counts) {
    if (n > best || (n === best && d < spacingMs)) {
      spacingMs = d;
      best = n;
    }
  }
  if (best === 0) return undefined;
  return { timeframe: TIMEFRAMES.find((tf) => timeframeMs(tf) === spacingMs), spacingMs };
}

/** A spacing in ms as people write it: `5m`, `1h`, `90s`. */
export function describeSpacing(ms: number): string {
  const tf = TIMEFRAMES.find((t) => timeframeMs(t) === ms);
  if (tf) return tf;
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * Where prices of major assets have been, in USD-pegged quotes, since they have traded on the big
 * exchanges (rounded outward). Used only to warn about a file whose prices cannot be the
 * configured instrument's — e.g. ADA bars fed to a BTC config. Assets not listed are not checked.
 */
export const KNOWN_USD_PRICE_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  BTC: [3000, 130_000],
  ETH: [80, 5000],
  BNB: [1, 1400],
  SOL: [0.5, 300],
  ADA: [0.015, 3.2],
  XRP: [0.1, 3.7],
  DOT: [2.5, 56],
  LINK: [0.15, 53],
  DOGE: [0.001, 0.75],
  LTC: [20, 420],
};

const USD_QUOTES = new Set(['USDT', 'USDC', 'BUSD', 'USD', 'FDUSD', 'TUSD', 'DAI']);

/**
 * A warning when the median close is more than `slack` times outside the instrument's known price
 * range, null when it is inside or the instrument is not in {@link KNOWN_USD_PRICE_RANGES}.
 */
export function priceScaleWarning(symbol: string, closes: readonly number[], slack = 3): string | null {
  const [base, quoteWithSettle] = symbol.split('/');
  const quote = quoteWithSettle?.split(':')[0];
  const range = base ? KNOWN_USD_PRICE_RANGES[base] : undefined;
  if (!range || !quote || !USD_QUOTES.has(quote) || closes.length === 0) return null;
  const sorted = Float64Array.from(closes).sort(); // numeric, without a comparator callback
  const median = sorted[sorted.length >> 1]!;
  if (median >= range[0] / slack && median <= range[1] * slack) return null;
  return (
    `median close ${median} is far outside ${symbol}'s known range ${range[0]}–${range[1]}: ` +
    'is this file another instrument (or another price unit)?'
  );
}

/** What a bar file says it holds (its `#` header line; see {@link formatBarFileMeta}). */
export interface BarFileMeta {
  readonly exchange?: string;
  readonly symbol?: string;
  readonly timeframe?: string;
  readonly source?: string;
}

const META_KEYS = ['exchange', 'symbol', 'timeframe', 'source'] as const;

/**
 * The first line of a bar file that knows what it holds:
 * `# exchange=binance symbol=BTC/USDT timeframe=5m source=ccxt.fetchOHLCV`.
 * Values may not contain spaces or `=` (ccxt ids and symbols have none).
 */
export function formatBarFileMeta(meta: BarFileMeta): string {
  const parts: string[] = [];
  for (const key of META_KEYS) {
    const value = meta[key];
    if (value === undefined) continue;
    if (value === '' || /[\s=]/.test(value))
      throw new RangeError(`bar file ${key} ${JSON.stringify(value)} cannot be written in a header line`);
    parts.push(`${key}=${value}`);
  }
  return `# ${parts.join(' ')}`;
}

/** Parses a `#` header line; a message naming what is wrong when it is not one. */
export function parseBarFileMeta(line: string): BarFileMeta | string {
  if (!line.startsWith('#')) return `expected a line starting with "#", found ${JSON.stringify(line.slice(0, 80))}`;
  const meta: Record<string, string> = {};
  for (const part of line.slice(1).trim().split(/\s+/)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = part.slice(0, eq);
    if (eq <= 0 || !(META_KEYS as readonly string[]).includes(key))
      return `expected key=value with a key among ${META_KEYS.join(', ')}, found ${JSON.stringify(part)}`;
    meta[key] = part.slice(eq + 1);
  }
  return meta;
}
