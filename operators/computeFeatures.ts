import { Observable, type OperatorFunction } from 'rxjs';
import { createIndicator } from './indicators/registry';
import type { PriceField, StreamingIndicator } from './indicators/types';
import type { Bar, Features } from './types';
import { routeThrows } from './routeThrows';

/** One indicator requested by config. */
export interface FeatureSpec {
  /** Name the value is published under; multi-output indicators publish `<id>.<output>`. */
  readonly id: string;
  /** tulind indicator name (`rsi`, `macd`, `bbands`… — any of tulind's 104). */
  readonly indicator: string;
  /** Options in tulind's order (`macd`: short period, long period, signal period). */
  readonly options?: readonly number[];
  /** Bar fields feeding tulind's `real` inputs. Default `close`. */
  readonly inputs?: readonly PriceField[];
  /** Rolling window (bars) for indicators computed by tulind rather than incrementally. */
  readonly window?: number;
}

export interface ComputeFeaturesConfig {
  readonly features: readonly FeatureSpec[];
}

/**
 * Computes the configured indicators on every closed bar, one independent set per
 * (venue, symbol, timeframe) series. Values are `null` until their indicator is warm.
 *
 * Common indicators update incrementally in O(1) per bar; the others run tulind on a rolling
 * window (see `indicators/registry`). Indicator names and options are validated when the
 * operator is created, so a bad config fails before the first subscription.
 *
 * ```
 * bars:     --a--b--c--|
 * features: --A--B--C--|    A.values.rsi14 === null until 15 bars are in
 * ```
 *
 * @example
 * bars$.pipe(computeFeatures({ features: [{ id: 'rsi14', indicator: 'rsi', options: [14] }] }))
 */
export function computeFeatures(config: ComputeFeaturesConfig): OperatorFunction<Bar, Features> {
  // Build once eagerly so that unknown names and bad options throw at wiring time.
  const layout = buildLayout(config.features);
  return (source) =>
    new Observable<Features>((subscriber) => {
      const series = new Map<string, StreamingIndicator[]>();
      let lastKey = '';
      let lastSet: StreamingIndicator[] | undefined;
      return source.subscribe({
        next: routeThrows(subscriber, (bar) => {
          const key = `${bar.venue}|${bar.symbol}|${bar.timeframe}`;
          let set = key === lastKey ? lastSet : series.get(key);
          if (!set) {
            set = layout.create();
            series.set(key, set);
          }
          lastKey = key;
          lastSet = set;
          const values: Record<string, number | null> = {};
          for (let i = 0; i < set.length; i++) {
            const indicator = set[i]!;
            const names = layout.keys[i]!;
            const warm = indicator.update(bar);
            for (let j = 0; j < names.length; j++) values[names[j]!] = warm ? indicator.values[j]! : null;
          }
          subscriber.next({ kind: 'features', bar, tsEvent: bar.tsEvent, values });
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

/** The published names per indicator and a factory for a fresh set of indicator states. */
export interface FeatureLayout {
  /** `keys[i]` are the value names of indicator `i`, in its output order. */
  readonly keys: readonly (readonly string[])[];
  /** Every published value name, in order. */
  readonly names: readonly string[];
  /** The largest warm-up among the indicators, in bars. */
  readonly warmup: number;
  create(): StreamingIndicator[];
}

export function buildLayout(features: readonly FeatureSpec[]): FeatureLayout {
  const make = (spec: FeatureSpec): StreamingIndicator =>
    createIndicator(spec.indicator, spec.options ?? [], {
      ...(spec.window !== undefined ? { window: spec.window } : {}),
      ...(spec.inputs !== undefined ? { inputs: spec.inputs } : {}),
    });
  const prototypes = features.map(make);
  const keys = prototypes.map((indicator, i) => {
    const id = features[i]!.id;
    return indicator.outputs.length === 1 ? [id] : indicator.outputs.map((output) => `${id}.${output}`);
  });
  const names = keys.flat();
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name))
      throw new RangeError(`computeFeatures: two features publish "${name}"; give each feature a unique id`);
    seen.add(name);
  }
  return {
    keys,
    names,
    warmup: prototypes.reduce((max, indicator) => Math.max(max, indicator.warmup), 0),
    create: () => features.map(make),
  };
}
