/**
 * Intelligence from outside the market (sentiment, on-chain, macro, news) as time-stamped
 * observations, and the as-of book that joins them to bars without peeking.
 *
 * Every observation carries `tsObserved`: the time the value was published (could first be known),
 * not the period it describes. A CPI print for March published on April 12 is observed on April 12.
 * The book answers "what was known at time t" by binary search over each series, so a value
 * observed after a bar's close can never reach that bar's decision — whether the observations
 * arrived live or were all loaded up front from a recording.
 */
import { Bot4Error } from './errors';

/** The fusion sources intelligence feeds (the names `fuseSignals` weighs). */
export type IntelSource = 'sentiment' | 'onchain' | 'macro' | 'news';
export const INTEL_SOURCES: readonly IntelSource[] = ['sentiment', 'onchain', 'macro', 'news'];

/** One value a provider returned, turned into a score. */
export interface IntelObservation {
  readonly kind: 'intel';
  readonly source: IntelSource;
  /** Who said it: `grok`, `fear-greed`, `fred`, `glassnode`, `rss:<feed>`. */
  readonly provider: string;
  /** What it is: a FRED series id, a Glassnode metric, `fng`, `headline`… */
  readonly metric: string;
  /** Base asset it is about (`BTC`), or null for the whole market. */
  readonly asset: string | null;
  /** Bullish (+1) … bearish (−1). */
  readonly score: number;
  /** How much the provider's value is trusted, 0..1. */
  readonly confidence: number;
  /** When the value was published / first knowable, ms since epoch. The join uses only this. */
  readonly tsObserved: number;
  /** When bot4 received it, ms since epoch. */
  readonly tsInit: number;
  /** The provider's raw number, for the record. */
  readonly raw?: number;
  /** A stable id of the item (news: guid or link), so a re-fetched item is not counted twice. */
  readonly ref?: string;
}

/** Something went wrong with a provider: a value of the stream, never an exception. */
export interface IntelProblem {
  readonly kind: 'intel-problem';
  readonly source: IntelSource;
  readonly provider: string;
  /** `HTTP_429`, `HTTP_5XX`, `HTTP_4XX`, `TIMEOUT`, `NETWORK`, `MALFORMED`, `BUDGET_EXHAUSTED`, `GAVE_UP`. */
  readonly code: string;
  readonly detail: string;
  /** When the driver tries again, ms from now (429 Retry-After or backoff), if it does. */
  readonly retryInMs?: number;
  readonly tsEvent: number;
}

export type IntelEvent = IntelObservation | IntelProblem;

export class IntelInputError extends Bot4Error<'INTEL_INPUT'> {
  constructor(message: string) {
    super('INTEL_INPUT', 'intelligence', message);
  }
}

/** How one source's series are read at a bar. Times in ms. */
export interface IntelSourceTiming {
  /** Age up to which a value counts fully. */
  readonly freshMs: number;
  /** Age at which a value stops counting (its weight falls linearly from freshMs to here). */
  readonly maxAgeMs: number;
  /**
   * `latest` (default): each series contributes its latest value; `window`: every item of the last
   * maxAgeMs counts (news: many headlines per series).
   */
  readonly mode?: 'latest' | 'window';
}

/** What the book knew about one source at one time. */
export interface IntelReading {
  readonly source: IntelSource;
  /** Confidence-weighted mean score of the counted values, −1..1 (0 when none counted). */
  readonly score: number;
  /** Σ confidence·freshness over the counted values / number of series the source has. 0..1. */
  readonly confidence: number;
  /** Series of this source that had published anything by then. */
  readonly series: number;
  /** Values counted (fresh or ageing). */
  readonly counted: number;
  /** Series whose latest value was too old to count. */
  readonly stale: number;
  /** Age of the newest counted value, ms (null when none). */
  readonly ageMs: number | null;
}

interface Series {
  readonly source: IntelSource;
  readonly asset: string | null;
  /** Observation times, ascending, from `head` on. */
  readonly times: number[];
  readonly values: IntelObservation[];
  readonly refs: Set<string>;
  head: number;
  /**
   * Window mode: prefix sums over the values before index k (k = 0…n) of c, c·r, c·s and c·s·r,
   * with r = t − base, so a window's freshness-weighted sums take two binary searches, not a loop.
   */
  readonly base: number;
  /**
   * Cursors of the last read (bars are read in time order): the next read moves them forward
   * instead of searching, O(1) per bar. A read before the last one, an insert or a prune resets them.
   */
  cursorT: number;
  cursorEnd: number;
  cursorFrom: number;
  cursorSplit: number;
  readonly sums: { c: number[]; cr: number[]; cs: number[]; csr: number[] } | undefined;
}

/** Default timing per source: sentiment and news are hot, on-chain warm, macro cold. */
export const DEFAULT_INTEL_TIMING: Readonly<Record<IntelSource, IntelSourceTiming>> = {
  sentiment: { freshMs: 15 * 60_000, maxAgeMs: 6 * 3_600_000 },
  news: { freshMs: 30 * 60_000, maxAgeMs: 6 * 3_600_000, mode: 'window' },
  onchain: { freshMs: 26 * 3_600_000, maxAgeMs: 3 * 86_400_000 },
  macro: { freshMs: 35 * 86_400_000, maxAgeMs: 70 * 86_400_000 },
};

/**
 * Observations per series, sorted by observation time, queried as of a time. Not shared between
 * subscriptions: a pipeline makes one per run.
 */
export class IntelBook {
  private readonly series = new Map<string, Series>();
  private readonly bySource = new Map<IntelSource, Series[]>();
  private readonly timing: Readonly<Record<IntelSource, IntelSourceTiming>>;

  constructor(timing: Partial<Record<IntelSource, IntelSourceTiming>> = {}) {
    this.timing = { ...DEFAULT_INTEL_TIMING, ...timing };
    for (const source of INTEL_SOURCES) {
      const t = this.timing[source];
      if (!(t.freshMs >= 0 && t.maxAgeMs > t.freshMs))
        throw new IntelInputError(
          `intelligence timing of ${source}: expected 0 ≤ freshMs < maxAgeMs, found freshMs=${t.freshMs} maxAgeMs=${t.maxAgeMs}`,
        );
      this.bySource.set(source, []);
    }
  }

  /** Number of observations held (after pruning). */
  get size(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.times.length - s.head;
    return n;
  }

  /**
   * Adds one observation (in any order of observation time). A repeat of a value already held —
   * same series and time, or same `ref` — replaces nothing and returns false.
   * @throws IntelInputError for a score outside −1..1, a confidence outside 0..1 or a bad time.
   */
  add(o: IntelObservation): boolean {
    checkObservation(o);
    const key = `${o.source}|${o.provider}|${o.metric}|${o.asset ?? '*'}`;
    let s = this.series.get(key);
    if (!s) {
      const window = this.timing[o.source].mode === 'window';
      s = {
        source: o.source,
        asset: o.asset,
        times: [],
        values: [],
        refs: new Set(),
        head: 0,
        base: o.tsObserved,
        cursorT: Number.NEGATIVE_INFINITY,
        cursorEnd: 0,
        cursorFrom: 0,
        cursorSplit: 0,
        sums: window ? { c: [0], cr: [0], cs: [0], csr: [0] } : undefined,
      };
      this.series.set(key, s);
      this.bySource.get(o.source)!.push(s);
    }
    if (o.ref !== undefined) {
      if (s.refs.has(o.ref)) return false;
      s.refs.add(o.ref);
    }
    const t = o.tsObserved;
    const n = s.times.length;
    if (n === s.head || s.times[n - 1]! < t) {
      s.times.push(t);
      s.values.push(o);
      if (s.sums) extendSums(s, n);
    } else {
      const i = upperBound(s.times, t, s.head);
      if (o.ref === undefined && i > s.head && s.times[i - 1] === t) return false;
      s.times.splice(i, 0, t);
      s.values.splice(i, 0, o);
      s.cursorT = Number.POSITIVE_INFINITY; // indices moved: the next read searches
      if (s.sums) {
        // Out of order (rare): the sums from i on are rebuilt.
        for (const a of [s.sums.c, s.sums.cr, s.sums.cs, s.sums.csr]) a.length = i + 1;
        for (let k = i; k < s.times.length; k++) extendSums(s, k);
      }
    }
    return true;
  }

  /**
   * What was known about `source` for `asset` at time `t`: only values with tsObserved ≤ t count,
   * each weighted by its confidence and freshness (1 up to freshMs, falling linearly to 0 at maxAgeMs).
   */
  read(source: IntelSource, asset: string | null, t: number): IntelReading {
    const timing = this.timing[source];
    const window = timing.mode === 'window';
    let series = 0;
    let counted = 0;
    let stale = 0;
    let say = 0;
    let weighted = 0;
    let newest = -Infinity;
    const span = timing.maxAgeMs - timing.freshMs;
    for (const s of this.bySource.get(source)!) {
      if (s.asset !== null && s.asset !== asset) continue;
      const forward = t >= s.cursorT;
      const times = s.times;
      let end: number;
      if (forward) {
        end = s.cursorEnd;
        while (end < times.length && times[end]! <= t) end++;
      } else end = upperBound(times, t, s.head); // values [head, end) were observed at or before t
      s.cursorT = t;
      s.cursorEnd = end;
      if (end === s.head) continue; // nothing published yet: not a series of this time
      series++;
      if (window && s.sums) {
        // Ages < maxAgeMs count; ages ≤ freshMs fully, older ones by (maxAgeMs − age) / span.
        const oldest = t - timing.maxAgeMs;
        const freshFrom = t - timing.freshMs;
        let from: number;
        let split: number;
        if (forward) {
          from = s.cursorFrom;
          while (from < end && times[from]! <= oldest) from++;
          split = Math.max(from, s.cursorSplit);
          while (split < end && times[split]! < freshFrom) split++;
        } else {
          from = upperBound(times, oldest, s.head);
          split = lowerBound(times, freshFrom, Math.min(from, end), end);
        }
        s.cursorFrom = from;
        s.cursorSplit = split;
        if (from >= end) {
          stale++;
          continue;
        }
        const { c, cr, cs, csr } = s.sums;
        const k = timing.maxAgeMs - t + s.base; // freshness of value i in the decay part = (k + rᵢ) / span
        say += c[end]! - c[split]! + (k * (c[split]! - c[from]!) + (cr[split]! - cr[from]!)) / span;
        weighted += cs[end]! - cs[split]! + (k * (cs[split]! - cs[from]!) + (csr[split]! - csr[from]!)) / span;
        counted += end - from;
        if (s.times[end - 1]! > newest) newest = s.times[end - 1]!;
        continue;
      }
      const i = end - 1;
      const age = t - s.times[i]!;
      const freshness = age <= timing.freshMs ? 1 : age >= timing.maxAgeMs ? 0 : (timing.maxAgeMs - age) / span;
      if (freshness <= 0) {
        stale++;
        continue;
      }
      const o = s.values[i]!;
      const w = o.confidence * freshness;
      say += w;
      weighted += w * o.score;
      counted++;
      if (s.times[i]! > newest) newest = s.times[i]!;
    }
    // Per series at most 1: in window mode many fresh headlines are not more certain than one series
    // at full confidence.
    const confidence = series === 0 ? 0 : Math.min(1, say / series);
    return {
      source,
      score: say > 0 ? Math.max(-1, Math.min(1, weighted / say)) : 0,
      confidence,
      series,
      counted,
      stale,
      ageMs: counted > 0 ? t - newest : null,
    };
  }

  /**
   * Forgets values that can no longer count at or after `t` (older than maxAgeMs, except each
   * series' latest so a stale source stays known as stale). Queries must not go back before `t`.
   */
  prune(t: number): void {
    for (const s of this.series.values()) {
      const timing = this.timing[s.source];
      const end = upperBound(s.times, t, s.head);
      const keepFrom = Math.min(end - 1, upperBound(s.times, t - timing.maxAgeMs, s.head));
      if (keepFrom > s.head) {
        for (let i = s.head; i < keepFrom; i++) {
          const ref = s.values[i]!.ref;
          if (ref !== undefined) s.refs.delete(ref);
        }
        s.head = keepFrom;
        if (s.head > 256 && s.head * 2 > s.times.length) {
          s.times.splice(0, s.head);
          s.values.splice(0, s.head);
          if (s.sums) for (const a of [s.sums.c, s.sums.cr, s.sums.cs, s.sums.csr]) a.splice(0, s.head);
          s.head = 0;
        }
        s.cursorT = Number.POSITIVE_INFINITY;
      }
    }
  }
}

/** The base asset of a unified symbol (`BTC/USDT:USDT` → `BTC`). */
export function baseAsset(symbol: string): string {
  const slash = symbol.indexOf('/');
  return slash < 0 ? symbol : symbol.slice(0, slash);
}

function checkObservation(o: IntelObservation): void {
  const where = `intel observation ${o.provider}/${o.metric}${o.asset ? `/${o.asset}` : ''}`;
  if (!(o.score >= -1 && o.score <= 1)) throw new IntelInputError(`${where}: score must be in −1..1, found ${o.score}`);
  if (!(o.confidence >= 0 && o.confidence <= 1))
    throw new IntelInputError(`${where}: confidence must be in 0..1, found ${o.confidence}`);
  if (!Number.isFinite(o.tsObserved))
    throw new IntelInputError(`${where}: tsObserved must be a time in ms, found ${o.tsObserved}`);
  if (!INTEL_SOURCES.includes(o.source)) throw new IntelInputError(`${where}: unknown source ${String(o.source)}`);
}

/** Appends the prefix sums through value k (sums hold k + 1 entries before). */
function extendSums(s: Series, k: number): void {
  const sums = s.sums!;
  const o = s.values[k]!;
  const r = s.times[k]! - s.base;
  const c = o.confidence;
  sums.c.push(sums.c[k]! + c);
  sums.cr.push(sums.cr[k]! + c * r);
  sums.cs.push(sums.cs[k]! + c * o.score);
  sums.csr.push(sums.csr[k]! + c * o.score * r);
}

/** First index i in [from, to) with a[i] ≥ x, or `to` (a ascending). */
function lowerBound(a: readonly number[], x: number, from: number, to: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i ≥ from with a[i] > x (a ascending). */
function upperBound(a: readonly number[], x: number, from: number): number {
  let lo = from;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
