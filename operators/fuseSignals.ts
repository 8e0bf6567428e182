import { map, type OperatorFunction } from 'rxjs';
import type { Regime } from './detectRegime';
import type { Direction, Signal, SignalSource } from './types';

export type FusableSource = Exclude<SignalSource, 'fused'>;

/** One bar's component signals with the market regime they are weighed in. */
export interface RegimeSignals {
  readonly signals: readonly Signal[];
  readonly regime: Regime;
}

/**
 * Regime adjustment of spec §6.5 (which names it but gives no numbers): multipliers of the base
 * weights, renormalised. Chosen by reasoning, not fitted: trends favour the technical rules, ranges
 * the model, high volatility the slower macro/on-chain context and the news that moves it.
 */
export const DEFAULT_REGIME_MULTIPLIERS: Readonly<
  Record<Exclude<Regime, 'unknown'>, Readonly<Partial<Record<FusableSource, number>>>>
> = {
  trend: { ta: 1.2, ml: 1, sentiment: 1, onchain: 0.8, macro: 0.8, news: 0.8 },
  range: { ta: 0.8, ml: 1.2, sentiment: 1, onchain: 1, macro: 1, news: 1 },
  'high-vol': { ta: 0.8, ml: 0.8, sentiment: 1.2, onchain: 1, macro: 1.3, news: 1.5 },
};

export interface FuseSignalsConfig {
  /**
   * Weight per source. The 50/50 hybrid of spec §3.1 is `{ ta: 0.5, ml: 0.5 }`; the composite of
   * §6.5 is `{ ta: 0.35, ml: 0.25, sentiment: 0.15, onchain: 0.10, macro: 0.10, news: 0.05 }`.
   * Weights are normalised to sum to 1.
   */
  readonly weights: Readonly<Partial<Record<FusableSource, number>>>;
  /** Minimum |fused score| for a long or short signal. Default 0.2. */
  readonly minScore?: number;
  /** Minimum fused confidence for a long or short signal. Default 0.2. */
  readonly minConfidence?: number;
  /**
   * Weight multipliers per regime, used when the input carries a regime ({@link RegimeSignals});
   * a source not listed keeps ×1. Default {@link DEFAULT_REGIME_MULTIPLIERS}.
   */
  readonly regimes?: Readonly<
    Partial<Record<Exclude<Regime, 'unknown'>, Readonly<Partial<Record<FusableSource, number>>>>>
  >;
}

/**
 * Fuses the component signals of one bar into one signal, weighted by source weight and
 * confidence.
 *
 * For the available sources A (configured, `available`, for this bar):
 *   score      = Σₐ wₐ·cₐ·dₐ·sₐ / Σₐ wₐ·cₐ        (d direction, s strength, c confidence)
 *   confidence = Σₐ wₐ·cₐ                          (weights of all configured sources sum to 1)
 * so a missing source hands its say over the score to the others (the denominator), while the
 * confidence drops by its share. Direction is sign(score) when both |score| ≥ minScore and
 * confidence ≥ minConfidence; otherwise flat. Sources not in `weights` are ignored.
 *
 * ```
 * [ta, ml]: --a--b--|
 * fused:    --A--B--|
 * ```
 * @example
 * zip(ta$, ml$).pipe(fuseSignals({ weights: { ta: 0.5, ml: 0.5 } }))
 */
export function fuseSignals(config: FuseSignalsConfig): OperatorFunction<readonly Signal[] | RegimeSignals, Signal> {
  const entries = Object.entries(config.weights).filter(([, w]) => w !== undefined && w > 0) as [
    FusableSource,
    number,
  ][];
  const weights = normalised(entries);
  if (!weights) throw new RangeError('fuseSignals: config.weights must give at least one source a positive weight');
  const multipliers = config.regimes ?? DEFAULT_REGIME_MULTIPLIERS;
  const byRegime = new Map<Regime, Map<SignalSource, number>>([['unknown', weights]]);
  for (const [regime, factors] of Object.entries(multipliers) as [
    Exclude<Regime, 'unknown'>,
    Partial<Record<FusableSource, number>>,
  ][]) {
    for (const [source, factor] of Object.entries(factors)) {
      if (!(typeof factor === 'number' && factor >= 0 && Number.isFinite(factor)))
        throw new RangeError(`fuseSignals: regimes.${regime}.${source} must be a finite number ≥ 0, found ${factor}`);
    }
    const adjusted = normalised(entries.map(([source, w]) => [source, w * (factors[source] ?? 1)]));
    if (!adjusted) throw new RangeError(`fuseSignals: regimes.${regime} leaves no source a positive weight`);
    byRegime.set(regime, adjusted);
  }
  const minScore = config.minScore ?? 0.2;
  const minConfidence = config.minConfidence ?? 0.2;

  return map((input) => {
    const regime: Regime | undefined = isRegimeSignals(input) ? input.regime : undefined;
    const components = isRegimeSignals(input) ? input.signals : input;
    const weights = byRegime.get(regime ?? 'unknown') ?? byRegime.get('unknown')!;
    const first = components[0];
    if (!first) throw new RangeError('fuseSignals: received an empty set of signals');
    let numerator = 0;
    let denominator = 0;
    const detail: Record<string, number | string | boolean | null> = {};
    for (const component of components) {
      if (component.tsEvent !== first.tsEvent || component.symbol !== first.symbol) {
        throw new RangeError(
          `fuseSignals: signals of different bars in one set (${first.id} and ${component.id}); sources must emit one signal per bar`,
        );
      }
      const weight = weights.get(component.source);
      if (weight === undefined) continue;
      if (!component.available) continue;
      const say = weight * component.confidence;
      numerator += say * component.direction * component.strength;
      denominator += say;
    }
    const score = denominator > 0 ? numerator / denominator : 0;
    const confidence = Math.min(1, denominator);
    const direction: Direction =
      Math.abs(score) >= minScore && confidence >= minConfidence && score !== 0 ? (score > 0 ? 1 : -1) : 0;
    detail['score'] = score;
    if (regime !== undefined) detail['regime'] = regime;
    return {
      kind: 'signal',
      id: `${first.symbol}:${first.timeframe}:${first.tsEvent}:fused`,
      source: 'fused',
      symbol: first.symbol,
      timeframe: first.timeframe,
      tsEvent: first.tsEvent,
      price: first.price,
      direction,
      strength: Math.abs(score),
      confidence,
      available: denominator > 0,
      detail,
      components,
    } satisfies Signal;
  });
}

function isRegimeSignals(input: readonly Signal[] | RegimeSignals): input is RegimeSignals {
  return !Array.isArray(input);
}

/** The positive weights scaled to sum to 1, or undefined when none is positive. */
function normalised(entries: readonly (readonly [FusableSource, number])[]): Map<SignalSource, number> | undefined {
  const positive = entries.filter(([, w]) => w > 0);
  const total = positive.reduce((sum, [, w]) => sum + w, 0);
  if (!(total > 0)) return undefined;
  return new Map<SignalSource, number>(positive.map(([source, w]) => [source, w / total]));
}
