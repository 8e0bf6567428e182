import { map, type OperatorFunction } from 'rxjs';
import type { Direction, Features, Signal, SignalSource } from './types';

/**
 * A value a rule reads: a published feature name (`rsi14`, `macd.macd_histogram`) or a field of
 * the bar itself (`open`, `high`, `low`, `close`, `volume`).
 */
export type FeatureRef = string;

export type VoteGroup = 'trend' | 'momentum' | 'volatility';

interface RuleBase {
  /** Relative weight of the vote. Default 1. */
  readonly weight?: number;
  /** What the rule measures; reported in the signal's detail. */
  readonly group: VoteGroup;
}

/** +1 when `fast` is above `slow`, −1 below (e.g. EMA 12 vs EMA 26, MACD vs its signal line). */
export interface CrossRule extends RuleBase {
  readonly kind: 'cross';
  readonly fast: FeatureRef;
  readonly slow: FeatureRef;
}

/**
 * Oscillator levels: +1 below `low` (oversold), −1 above `high` (overbought), 0 between.
 * `mode: 'momentum'` flips the votes (above `high` is strength, not exhaustion).
 */
export interface LevelRule extends RuleBase {
  readonly kind: 'level';
  readonly feature: FeatureRef;
  readonly low: number;
  readonly high: number;
  /** Default `reversion`. */
  readonly mode?: 'reversion' | 'momentum';
}

/** +1 when the value is above `+deadband`, −1 below `−deadband` (MACD histogram, ROC). */
export interface SignRule extends RuleBase {
  readonly kind: 'sign';
  readonly feature: FeatureRef;
  /** Default 0. */
  readonly deadband?: number;
}

/** +1 when `price` closes under `lower`, −1 over `upper` (Bollinger, Keltner). */
export interface BandRule extends RuleBase {
  readonly kind: 'band';
  readonly lower: FeatureRef;
  readonly upper: FeatureRef;
  /** Default `close`. */
  readonly price?: FeatureRef;
  /** Default `reversion`: a close under the lower band is a buy. */
  readonly mode?: 'reversion' | 'breakout';
}

export type TaRule = CrossRule | LevelRule | SignRule | BandRule;

export interface TaSignalConfig {
  readonly rules: readonly TaRule[];
  /** Minimum |score| (score = weighted mean vote, −1..1) for a long or short signal. Default 0.25. */
  readonly threshold?: number;
  /**
   * Optional trend-strength filter (e.g. ADX): confidence is scaled by min(1, value / min), so a
   * choppy market yields low-confidence signals. Unset: no scaling.
   */
  readonly strengthFilter?: { readonly feature: FeatureRef; readonly min: number };
  /**
   * Which claim the score makes: only rules claiming it vote (see {@link claimOf}), so trend
   * rules and mean-reversion rules no longer cancel each other out. The other claim's score is
   * still reported in `detail`. Default: every rule votes (one mixed score).
   */
  readonly claim?: Claim;
}

/**
 * What a rule claims about the future: `trend` (the move continues: crosses, signs, momentum
 * levels, band breakouts) or `reversion` (it comes back: oversold/overbought levels, closes
 * outside a band).
 */
export type Claim = 'trend' | 'reversion';

export function claimOf(rule: TaRule): Claim {
  switch (rule.kind) {
    case 'cross':
    case 'sign':
      return 'trend';
    case 'level':
      return rule.mode === 'momentum' ? 'trend' : 'reversion';
    case 'band':
      return rule.mode === 'breakout' ? 'trend' : 'reversion';
  }
}

/**
 * Turns features into a technical-analysis signal by weighted votes of configured rules.
 *
 * score = Σ wᵢ·voteᵢ / Σ wᵢ over the rules whose inputs are warm (−1..1).
 * direction = sign(score) when |score| ≥ threshold, else flat; strength = |score|.
 * confidence = (share of the voting weight that agrees with the direction) × (share of the
 * rules that were warm) × the strength filter. A bar with no warm rule gives an unavailable signal.
 * `detail.votes` has one character per rule in config order: `+` long, `-` short, `0` neutral,
 * `_` not warm (see {@link ruleLabel} for readable names).
 *
 * Exactly one signal per features event, so it can be zipped with other sources.
 *
 * ```
 * features: --a--b--c--|
 * taSignal: --A--B--C--|
 * ```
 */
export function taSignal(config: TaSignalConfig): OperatorFunction<Features, Signal> {
  const threshold = config.threshold ?? 0.25;
  const rules = config.rules;
  const claims = rules.map(claimOf);
  const voting = rules.map((_, i) => config.claim === undefined || claims[i] === config.claim);
  const votingCount = voting.filter(Boolean).length;
  if (votingCount === 0) throw new RangeError(`taSignal: no rule claims "${config.claim}"`);
  return map((features) => {
    let weighted = 0;
    let totalWeight = 0;
    let warm = 0;
    let up = 0;
    let down = 0;
    // Per-claim scores, reported whichever claim votes.
    let trendSum = 0;
    let trendWeight = 0;
    let reversionSum = 0;
    let reversionWeight = 0;
    // One character per rule, in config order: + long, - short, 0 neutral, _ not warm.
    let votes = '';
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const vote = voteOf(rule, features);
      if (vote === null) {
        votes += '_';
        continue;
      }
      votes += vote > 0 ? '+' : vote < 0 ? '-' : '0';
      const weight = rule.weight ?? 1;
      if (claims[i] === 'trend') {
        trendSum += weight * vote;
        trendWeight += weight;
      } else {
        reversionSum += weight * vote;
        reversionWeight += weight;
      }
      if (!voting[i]) continue;
      warm++;
      totalWeight += weight;
      weighted += weight * vote;
      if (vote > 0) up += weight;
      else if (vote < 0) down += weight;
    }
    const detail: Record<string, number | string | null> = { votes };
    if (config.claim !== undefined) {
      detail['trend'] = trendWeight > 0 ? trendSum / trendWeight : null;
      detail['reversion'] = reversionWeight > 0 ? reversionSum / reversionWeight : null;
    }
    if (warm === 0) {
      return signalOnBar(features, 'ta', 0, 0, 0, false, detail);
    }
    const score = weighted / totalWeight;
    const direction: Direction = Math.abs(score) >= threshold ? (score > 0 ? 1 : -1) : 0;
    const agreeing = direction > 0 ? up : direction < 0 ? down : totalWeight - up - down;
    let confidence = (agreeing / totalWeight) * (warm / votingCount);
    if (config.strengthFilter) {
      const value = read(features, config.strengthFilter.feature);
      const scale = value === null ? 0 : Math.min(1, Math.max(0, value / config.strengthFilter.min));
      confidence *= scale;
      detail['filter'] = value;
    }
    detail['score'] = score;
    return signalOnBar(features, 'ta', direction, Math.abs(score), confidence, true, detail);
  });
}

/**
 * A source's signal on one bar: id `<symbol>:<timeframe>:<tsEvent>:<source>`, time and price from
 * the bar the features were computed on. Shared by the signal operators.
 */
export function signalOnBar(
  features: Features,
  source: Exclude<SignalSource, 'fused'>,
  direction: Direction,
  strength: number,
  confidence: number,
  available: boolean,
  detail: Signal['detail'],
): Signal {
  const bar = features.bar;
  return {
    kind: 'signal',
    id: `${bar.symbol}:${bar.timeframe}:${features.tsEvent}:${source}`,
    source,
    symbol: bar.symbol,
    timeframe: bar.timeframe,
    tsEvent: features.tsEvent,
    price: bar.close,
    direction,
    strength,
    confidence,
    available,
    detail,
  };
}

/** The vote of one rule, or null when an input is not warm yet. */
function voteOf(rule: TaRule, features: Features): number | null {
  switch (rule.kind) {
    case 'cross': {
      const fast = read(features, rule.fast);
      const slow = read(features, rule.slow);
      if (fast === null || slow === null) return null;
      return fast > slow ? 1 : fast < slow ? -1 : 0;
    }
    case 'level': {
      const value = read(features, rule.feature);
      if (value === null) return null;
      const vote = value < rule.low ? 1 : value > rule.high ? -1 : 0;
      return rule.mode === 'momentum' ? -vote : vote;
    }
    case 'sign': {
      const value = read(features, rule.feature);
      if (value === null) return null;
      const deadband = rule.deadband ?? 0;
      return value > deadband ? 1 : value < -deadband ? -1 : 0;
    }
    case 'band': {
      const lower = read(features, rule.lower);
      const upper = read(features, rule.upper);
      const price = read(features, rule.price ?? 'close');
      if (lower === null || upper === null || price === null) return null;
      const vote = price < lower ? 1 : price > upper ? -1 : 0;
      return rule.mode === 'breakout' ? -vote : vote;
    }
  }
}

/** A feature value, or a bar field. */
export function read(features: Features, ref: FeatureRef): number | null {
  const value = features.values[ref];
  if (value !== undefined) return value;
  switch (ref) {
    case 'open':
      return features.bar.open;
    case 'high':
      return features.bar.high;
    case 'low':
      return features.bar.low;
    case 'close':
      return features.bar.close;
    case 'volume':
      return features.bar.volume;
    default:
      return null;
  }
}

/** Bar fields a rule may read besides published features. */
export const BAR_FIELDS: readonly string[] = ['open', 'high', 'low', 'close', 'volume'];

/** The feature references of a rule, for config validation. */
export function ruleRefs(rule: TaRule): FeatureRef[] {
  switch (rule.kind) {
    case 'cross':
      return [rule.fast, rule.slow];
    case 'level':
    case 'sign':
      return [rule.feature];
    case 'band':
      return [rule.lower, rule.upper, rule.price ?? 'close'];
  }
}

/** A readable label of a rule, e.g. `trend:ema12>ema26`; the journal header lists them in vote order. */
export function ruleLabel(rule: TaRule): string {
  switch (rule.kind) {
    case 'cross':
      return `${rule.group}:${rule.fast}>${rule.slow}`;
    case 'level':
      return `${rule.group}:${rule.feature}∈[${rule.low},${rule.high}]`;
    case 'sign':
      return `${rule.group}:sign(${rule.feature})`;
    case 'band':
      return `${rule.group}:${rule.price ?? 'close'}~[${rule.lower},${rule.upper}]`;
  }
}
