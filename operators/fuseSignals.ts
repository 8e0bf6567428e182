import { map, type OperatorFunction } from 'rxjs';
import type { Direction, Signal, SignalSource } from './types';

export type FusableSource = Exclude<SignalSource, 'fused'>;

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
export function fuseSignals(config: FuseSignalsConfig): OperatorFunction<readonly Signal[], Signal> {
  const entries = Object.entries(config.weights).filter(([, w]) => w !== undefined && w > 0) as [
    FusableSource,
    number,
  ][];
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  if (!(total > 0)) throw new RangeError('fuseSignals: config.weights must give at least one source a positive weight');
  const weights = new Map<SignalSource, number>(entries.map(([source, w]) => [source, w / total]));
  const minScore = config.minScore ?? 0.2;
  const minConfidence = config.minConfidence ?? 0.2;

  return map((components) => {
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
