import { Observable, type OperatorFunction } from 'rxjs';
import { buildLayout, type FeatureSpec } from './computeFeatures';
import type { StreamingIndicator } from './indicators/types';
import { timeframeMs, type Bar, type Features, type Timeframe } from './types';
import { routeThrows } from './routeThrows';

/** One higher timeframe: its bars are built from the base bars. */
export interface HigherTimeframe {
  readonly timeframe: Timeframe;
  /** Indicators on the higher-timeframe bars, published as `<timeframe>.<id>` (e.g. `1h.ema20`). */
  readonly features: readonly FeatureSpec[];
  /**
   * The trend this timeframe votes for the confluence score: sign(fast − slow) of two of its
   * features (ids without the timeframe prefix, or `close`). Unset: it does not vote.
   */
  readonly trend?: { readonly fast: string; readonly slow: string };
}

export interface ConfirmTimeframesConfig {
  /** The base timeframe of the features stream (the bars it is computed on). */
  readonly base: Timeframe;
  readonly timeframes: readonly HigherTimeframe[];
}

/** The feature name of a higher timeframe's value. */
export function timeframeFeature(timeframe: Timeframe, id: string): string {
  return `${timeframe}.${id}`;
}

/** The names `confirmTimeframes` publishes for a config (for config validation). */
export function timeframeFeatureNames(timeframes: readonly HigherTimeframe[]): string[] {
  const names: string[] = ['mtf.confluence'];
  for (const tf of timeframes) {
    names.push(timeframeFeature(tf.timeframe, 'close'));
    for (const name of buildLayout(tf.features).names) names.push(timeframeFeature(tf.timeframe, name));
  }
  return names;
}

interface Series {
  readonly spec: HigherTimeframe;
  readonly ms: number;
  readonly layout: ReturnType<typeof buildLayout>;
  readonly indicators: StreamingIndicator[];
  /** The higher-timeframe bar being built, or undefined between bars. */
  open:
    | {
        tsOpen: number;
        open: number;
        high: number;
        low: number;
        close: number;
        volume: number;
        trades: number;
        last: number;
      }
    | undefined;
  /** Values of the last closed higher-timeframe bar, keyed by published name. */
  readonly values: Record<string, number | null>;
  trend: number | null;
}

/**
 * Multi-timeframe confirmation: builds higher-timeframe bars from the base bars and adds, to each
 * base bar's features, the indicators of the last **closed** higher-timeframe bar
 * (`<timeframe>.<id>`, `<timeframe>.close`) and a confluence score `mtf.confluence` = the mean of
 * the voting timeframes' trends (−1..1; null until one is warm).
 *
 * No lookahead: a higher-timeframe bar [t, t + T) closes with the base bar that ends at t + T (or,
 * after a gap, with the first base bar past it) and is visible from that base bar on — never while
 * it is forming. Before the first one closes, its values are null.
 *
 * ```
 * 5m features: --a--b--…--l--m--|     l is the 5m bar ending at 1:00
 * output:      --A--B--…--L--M--|     1h.* null until L, then the 0:00–1:00 bar's values
 * ```
 */
export function confirmTimeframes(config: ConfirmTimeframesConfig): OperatorFunction<Features, Features> {
  const baseMs = timeframeMs(config.base);
  for (const tf of config.timeframes) {
    const ms = timeframeMs(tf.timeframe);
    if (!(ms > baseMs) || ms % baseMs !== 0)
      throw new RangeError(
        `confirmTimeframes: ${tf.timeframe} is not a whole multiple of the base timeframe ${config.base}`,
      );
    buildLayout(tf.features); // fails here, not on the first bar
  }
  return (source) =>
    new Observable<Features>((subscriber) => {
      const series: Series[] = config.timeframes.map((spec) => {
        const layout = buildLayout(spec.features);
        return {
          spec,
          ms: timeframeMs(spec.timeframe),
          layout,
          indicators: layout.create(),
          open: undefined,
          values: Object.fromEntries(
            timeframeFeatureNames([spec])
              .slice(1)
              .map((n) => [n, null]),
          ),
          trend: null,
        };
      });
      return source.subscribe({
        next: routeThrows(subscriber, (features) => {
          const bar = features.bar;
          const values: Record<string, number | null> = { ...features.values };
          let votes = 0;
          let sum = 0;
          for (const s of series) {
            const bucket = Math.floor(bar.tsOpen / s.ms) * s.ms;
            // A bar of a later bucket closes the one being built (a gap skipped its last base bar).
            if (s.open && s.open.tsOpen !== bucket) close(s, bar);
            if (!s.open)
              s.open = {
                tsOpen: bucket,
                open: bar.open,
                high: bar.high,
                low: bar.low,
                close: bar.close,
                volume: bar.volume,
                trades: bar.trades,
                last: bar.tsEvent,
              };
            else {
              s.open.high = Math.max(s.open.high, bar.high);
              s.open.low = Math.min(s.open.low, bar.low);
              s.open.close = bar.close;
              s.open.volume += bar.volume;
              s.open.trades += bar.trades;
              s.open.last = bar.tsEvent;
            }
            // The base bar that ends the bucket closes it: visible from this bar on.
            if (bar.tsEvent >= bucket + s.ms) close(s, bar);
            Object.assign(values, s.values);
            if (s.trend !== null) {
              votes++;
              sum += s.trend;
            }
          }
          values['mtf.confluence'] = votes > 0 ? sum / votes : null;
          subscriber.next({ ...features, values });
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

/** Closes the higher-timeframe bar being built: updates its indicators and published values. */
function close(s: Series, base: Bar): void {
  const o = s.open!;
  s.open = undefined;
  const htf: Bar = {
    kind: 'bar',
    venue: base.venue,
    symbol: base.symbol,
    timeframe: s.spec.timeframe,
    tsOpen: o.tsOpen,
    tsEvent: o.tsOpen + s.ms,
    open: o.open,
    high: o.high,
    low: o.low,
    close: o.close,
    volume: o.volume,
    trades: o.trades,
  };
  const tf = s.spec.timeframe;
  s.values[timeframeFeature(tf, 'close')] = htf.close;
  for (let i = 0; i < s.indicators.length; i++) {
    const indicator = s.indicators[i]!;
    const names = s.layout.keys[i]!;
    const warm = indicator.update(htf);
    for (let j = 0; j < names.length; j++)
      s.values[timeframeFeature(tf, names[j]!)] = warm ? indicator.values[j]! : null;
  }
  const trend = s.spec.trend;
  if (trend) {
    const fast = s.values[timeframeFeature(tf, trend.fast)];
    const slow = s.values[timeframeFeature(tf, trend.slow)];
    s.trend = fast == null || slow == null ? null : fast > slow ? 1 : fast < slow ? -1 : 0;
  }
}
