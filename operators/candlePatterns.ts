/**
 * Candlestick patterns with TA-Lib's definitions (its default candle settings), computed one bar
 * at a time: doji, hammer, shooting star, engulfing, morning/evening star, three white soldiers,
 * three black crows. Each is +100 (bullish), −100 (bearish), ±80 (TA-Lib's weaker engulfing, an
 * open or close equal to the previous body's edge) or 0, and `null` until its look-back is filled.
 * `test/operators/candlePatterns.test.ts` checks every bar against TA-Lib's own output on real
 * candles (`scripts/candles_reference.py`).
 */
import { Observable, map, type OperatorFunction } from 'rxjs';
import type { Features } from './types';

export const PATTERN_NAMES = [
  'doji',
  'hammer',
  'shootingStar',
  'engulfing',
  'morningStar',
  'eveningStar',
  'threeWhiteSoldiers',
  'threeBlackCrows',
] as const;
export type PatternName = (typeof PATTERN_NAMES)[number];

/** Bars of history each pattern needs before its first value (TA-Lib's lookback). */
export const PATTERN_LOOKBACK: Readonly<Record<PatternName, number>> = {
  doji: 10,
  hammer: 11,
  shootingStar: 11,
  engulfing: 2,
  morningStar: 12,
  eveningStar: 12,
  threeWhiteSoldiers: 12,
  threeBlackCrows: 13,
};

/** Feature name a pattern is published under. */
export function patternFeature(name: PatternName): string {
  return `cdl.${name}`;
}

const LOOKBACK = PATTERN_NAMES.map((name) => PATTERN_LOOKBACK[name]);
const FEATURE_NAMES = PATTERN_NAMES.map(patternFeature);

type Range = 'body' | 'highLow' | 'shadows';

/** TA-Lib's default candle settings: what is averaged, over how many previous bars, times what. */
interface Setting {
  readonly range: Range;
  readonly period: number;
  readonly factor: number;
}
const BODY_LONG: Setting = { range: 'body', period: 10, factor: 1 };
const BODY_SHORT: Setting = { range: 'body', period: 10, factor: 1 };
const BODY_DOJI: Setting = { range: 'highLow', period: 10, factor: 0.1 };
const SHADOW_LONG: Setting = { range: 'body', period: 0, factor: 1 };
const SHADOW_VERY_SHORT: Setting = { range: 'highLow', period: 10, factor: 0.1 };
const NEAR: Setting = { range: 'highLow', period: 5, factor: 0.2 };
const FAR: Setting = { range: 'highLow', period: 5, factor: 0.6 };

const HISTORY = 16;
/** Penetration of the morning/evening star's third candle into the first one's body (TA-Lib's default). */
const STAR_PENETRATION = 0.3;

/**
 * Streaming detector: `update(open, high, low, close)` adds a closed bar and returns the patterns
 * that bar completes. O(1) per bar (a fixed window of 16 bars).
 */
export class CandlePatternDetector {
  private readonly o = new Float64Array(HISTORY);
  private readonly h = new Float64Array(HISTORY);
  private readonly l = new Float64Array(HISTORY);
  private readonly c = new Float64Array(HISTORY);
  /** Per bar, computed once when it arrives: its body and high-low range… */
  private readonly bodies = new Float64Array(HISTORY);
  private readonly ranges = new Float64Array(HISTORY);
  /** …and the sums of those over the 10 (bodies, ranges) and 5 (ranges) bars before it. */
  private readonly body10 = new Float64Array(HISTORY);
  private readonly range10 = new Float64Array(HISTORY);
  private readonly range5 = new Float64Array(HISTORY);
  private count = 0;

  update(open: number, high: number, low: number, close: number): Record<PatternName, number | null> {
    const out = new Array<number | null>(PATTERN_NAMES.length);
    this.updateInto(open, high, low, close, out);
    return Object.fromEntries(PATTERN_NAMES.map((name, i) => [name, out[i]!])) as Record<PatternName, number | null>;
  }

  /** As `update`, writing the values into `out` in {@link PATTERN_NAMES} order (no allocation). */
  updateInto(open: number, high: number, low: number, close: number, out: (number | null)[]): void {
    const slot = this.count % HISTORY;
    this.o[slot] = open;
    this.h[slot] = high;
    this.l[slot] = low;
    this.c[slot] = close;
    this.bodies[slot] = Math.abs(close - open);
    this.ranges[slot] = high - low;
    const n = this.count; // index of this bar
    // Summed oldest first, as a direct sum over the window (bit-identical to TA-Lib's averages here).
    let b10 = 0;
    let r10 = 0;
    let r5 = 0;
    for (let j = n - 10; j < n; j++) {
      if (j < 0) continue;
      b10 += this.bodies[j % HISTORY]!;
      r10 += this.ranges[j % HISTORY]!;
    }
    for (let j = n - 5; j < n; j++) if (j >= 0) r5 += this.ranges[j % HISTORY]!;
    this.body10[slot] = b10;
    this.range10[slot] = r10;
    this.range5[slot] = r5;
    this.count++;
    out[0] = n >= LOOKBACK[0]! ? this.doji(n) : null;
    out[1] = n >= LOOKBACK[1]! ? this.hammer(n) : null;
    out[2] = n >= LOOKBACK[2]! ? this.shootingStar(n) : null;
    out[3] = n >= LOOKBACK[3]! ? this.engulfing(n) : null;
    out[4] = n >= LOOKBACK[4]! ? this.morningStar(n) : null;
    out[5] = n >= LOOKBACK[5]! ? this.eveningStar(n) : null;
    out[6] = n >= LOOKBACK[6]! ? this.threeWhiteSoldiers(n) : null;
    out[7] = n >= LOOKBACK[7]! ? this.threeBlackCrows(n) : null;
  }

  // ----- candle geometry of bar i (an absolute index still in the window) -----
  private O(i: number): number {
    return this.o[i % HISTORY]!;
  }
  private H(i: number): number {
    return this.h[i % HISTORY]!;
  }
  private L(i: number): number {
    return this.l[i % HISTORY]!;
  }
  private C(i: number): number {
    return this.c[i % HISTORY]!;
  }
  private body(i: number): number {
    return this.bodies[i % HISTORY]!;
  }
  private upper(i: number): number {
    return this.H(i) - Math.max(this.C(i), this.O(i));
  }
  private lower(i: number): number {
    return Math.min(this.C(i), this.O(i)) - this.L(i);
  }
  private color(i: number): 1 | -1 {
    return this.C(i) >= this.O(i) ? 1 : -1;
  }
  private range(range: Range, i: number): number {
    switch (range) {
      case 'body':
        return this.body(i);
      case 'highLow':
        return this.H(i) - this.L(i);
      case 'shadows':
        return this.upper(i) + this.lower(i);
    }
  }
  /** TA-Lib's CANDLEAVERAGE: factor × (mean range of the `period` bars before i, or bar i's own range). */
  private average(setting: Setting, i: number): number {
    let value: number;
    if (setting.period === 0) value = this.range(setting.range, i);
    else value = this.windowSum(setting, i) / setting.period;
    return (setting.factor * value) / (setting.range === 'shadows' ? 2 : 1);
  }
  private windowSum(setting: Setting, i: number): number {
    const slot = i % HISTORY;
    if (setting.range === 'body' && setting.period === 10) return this.body10[slot]!;
    if (setting.range === 'highLow' && setting.period === 10) return this.range10[slot]!;
    if (setting.range === 'highLow' && setting.period === 5) return this.range5[slot]!;
    let sum = 0;
    for (let j = i - setting.period; j < i; j++) sum += this.range(setting.range, j);
    return sum;
  }
  private gapUp(i: number, before: number): boolean {
    return Math.min(this.O(i), this.C(i)) > Math.max(this.O(before), this.C(before));
  }
  private gapDown(i: number, before: number): boolean {
    return Math.max(this.O(i), this.C(i)) < Math.min(this.O(before), this.C(before));
  }

  // ----- the patterns -----
  private doji(i: number): number {
    return this.body(i) <= this.average(BODY_DOJI, i) ? 100 : 0;
  }

  private hammer(i: number): number {
    return this.body(i) < this.average(BODY_SHORT, i) &&
      this.lower(i) > this.average(SHADOW_LONG, i) &&
      this.upper(i) < this.average(SHADOW_VERY_SHORT, i) &&
      Math.min(this.C(i), this.O(i)) <= this.L(i - 1) + this.average(NEAR, i - 1)
      ? 100
      : 0;
  }

  private shootingStar(i: number): number {
    return this.body(i) < this.average(BODY_SHORT, i) &&
      this.upper(i) > this.average(SHADOW_LONG, i) &&
      this.lower(i) < this.average(SHADOW_VERY_SHORT, i) &&
      this.gapUp(i, i - 1)
      ? -100
      : 0;
  }

  private engulfing(i: number): number {
    const o = this.O(i);
    const c = this.C(i);
    const po = this.O(i - 1);
    const pc = this.C(i - 1);
    const now = this.color(i);
    const before = this.color(i - 1);
    const bullish = now === 1 && before === -1 && ((c >= po && o < pc) || (c > po && o <= pc));
    const bearish = now === -1 && before === 1 && ((o >= pc && c < po) || (o > pc && c <= po));
    if (!bullish && !bearish) return 0;
    return now * (o !== pc && c !== po ? 100 : 80);
  }

  private morningStar(i: number): number {
    return this.body(i - 2) > this.average(BODY_LONG, i - 2) &&
      this.color(i - 2) === -1 &&
      this.body(i - 1) <= this.average(BODY_SHORT, i - 1) &&
      this.gapDown(i - 1, i - 2) &&
      this.body(i) > this.average(BODY_SHORT, i) &&
      this.color(i) === 1 &&
      this.C(i) > this.C(i - 2) + this.body(i - 2) * STAR_PENETRATION
      ? 100
      : 0;
  }

  private eveningStar(i: number): number {
    return this.body(i - 2) > this.average(BODY_LONG, i - 2) &&
      this.color(i - 2) === 1 &&
      this.body(i - 1) <= this.average(BODY_SHORT, i - 1) &&
      this.gapUp(i - 1, i - 2) &&
      this.body(i) > this.average(BODY_SHORT, i) &&
      this.color(i) === -1 &&
      this.C(i) < this.C(i - 2) - this.body(i - 2) * STAR_PENETRATION
      ? -100
      : 0;
  }

  private threeWhiteSoldiers(i: number): number {
    return this.color(i - 2) === 1 &&
      this.upper(i - 2) < this.average(SHADOW_VERY_SHORT, i - 2) &&
      this.color(i - 1) === 1 &&
      this.upper(i - 1) < this.average(SHADOW_VERY_SHORT, i - 1) &&
      this.color(i) === 1 &&
      this.upper(i) < this.average(SHADOW_VERY_SHORT, i) &&
      this.C(i) > this.C(i - 1) &&
      this.C(i - 1) > this.C(i - 2) &&
      this.O(i - 1) > this.O(i - 2) &&
      this.O(i - 1) <= this.C(i - 2) + this.average(NEAR, i - 2) &&
      this.O(i) > this.O(i - 1) &&
      this.O(i) <= this.C(i - 1) + this.average(NEAR, i - 1) &&
      this.body(i - 1) > this.body(i - 2) - this.average(FAR, i - 2) &&
      this.body(i) > this.body(i - 1) - this.average(FAR, i - 1) &&
      this.body(i) > this.average(BODY_SHORT, i)
      ? 100
      : 0;
  }

  private threeBlackCrows(i: number): number {
    return this.color(i - 3) === 1 &&
      this.color(i - 2) === -1 &&
      this.lower(i - 2) < this.average(SHADOW_VERY_SHORT, i - 2) &&
      this.color(i - 1) === -1 &&
      this.lower(i - 1) < this.average(SHADOW_VERY_SHORT, i - 1) &&
      this.color(i) === -1 &&
      this.lower(i) < this.average(SHADOW_VERY_SHORT, i) &&
      this.O(i - 1) < this.O(i - 2) &&
      this.O(i - 1) > this.C(i - 2) &&
      this.O(i) < this.O(i - 1) &&
      this.O(i) > this.C(i - 1) &&
      this.H(i - 3) > this.C(i - 2) &&
      this.C(i - 2) > this.C(i - 1) &&
      this.C(i - 1) > this.C(i)
      ? -100
      : 0;
  }
}

/**
 * Adds the candlestick patterns of each bar to its features, as `cdl.<pattern>` (see
 * {@link PATTERN_NAMES}): usable by TA rules (e.g. `{ kind: sign, feature: cdl.engulfing }`) and
 * as ML inputs. State (the last 16 bars) lives in the subscription.
 *
 * ```
 * features: --a--b--c--|
 * output:   --A--B--C--|   (A = a with cdl.* values, null while warming up)
 * ```
 */
export function detectCandlePatterns(): OperatorFunction<Features, Features> {
  return (source) =>
    new Observable<Features>((subscriber) => {
      const detector = new CandlePatternDetector();
      const latest = new Array<number | null>(PATTERN_NAMES.length).fill(null);
      return source
        .pipe(
          map((features) => {
            const bar = features.bar;
            detector.updateInto(bar.open, bar.high, bar.low, bar.close, latest);
            const values: Record<string, number | null> = { ...features.values };
            for (let i = 0; i < FEATURE_NAMES.length; i++) values[FEATURE_NAMES[i]!] = latest[i]!;
            return { ...features, values };
          }),
        )
        .subscribe(subscriber);
    });
}
