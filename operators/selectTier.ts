/**
 * The capital tier for an equity (spec §3.5), with hysteresis so an account near a boundary does
 * not flap between tiers:
 *
 * | tier          | floor (quote) |
 * |---------------|---------------|
 * | survival      | 0 (2,000 is the intended minimum) |
 * | growth        | 5,000         |
 * | acceleration  | 20,000        |
 * | institutional | 100,000       |
 * | whale         | 1,000,000     |
 *
 * Up: the equity reaches a higher tier's floor. Down: the equity falls more than `hysteresis`
 * (20 %) below the current tier's floor. Between, the tier stays. The first equity picks its tier
 * directly (no history to be sticky about).
 */
import { type OperatorFunction, scan } from 'rxjs';
import { filter, map } from 'rxjs/operators';

export const TIERS = ['survival', 'growth', 'acceleration', 'institutional', 'whale'] as const;
export type Tier = (typeof TIERS)[number];

export const SPEC_TIER_FLOORS: Readonly<Record<Tier, number>> = Object.freeze({
  survival: 0,
  growth: 5_000,
  acceleration: 20_000,
  institutional: 100_000,
  whale: 1_000_000,
});

/** Below this the Survival tier still trades, but the account is under the spec's minimum. */
export const SURVIVAL_MINIMUM = 2_000;

export interface EquityObservation {
  /** Equity in the quote currency. */
  readonly equity: number;
  readonly tsEvent: number;
}

export interface TierChanged {
  readonly kind: 'tier-changed';
  /** null for the first tier picked. */
  readonly from: Tier | null;
  readonly to: Tier;
  readonly equity: number;
  readonly tsEvent: number;
  /** Why, with the numbers: `equity 21000 ≥ acceleration floor 20000`. */
  readonly reason: string;
  /** The equity is below the Survival minimum (2,000): trading on, but flagged. */
  readonly belowMinimum: boolean;
}

export interface SelectTierConfig {
  /** Demotion needs the equity this share below the current floor; default 0.2 (spec). */
  readonly hysteresis?: number;
  /** Tier floors; default the spec's. Must increase with the tier. */
  readonly floors?: Readonly<Record<Tier, number>>;
  /** The tier in force before the first observation (a restarted session); default none. */
  readonly initial?: Tier;
}

/** The tier the plain floors give, no hysteresis. */
export function tierFor(equity: number, floors: Readonly<Record<Tier, number>> = SPEC_TIER_FLOORS): Tier {
  let tier: Tier = 'survival';
  for (const t of TIERS) if (equity >= floors[t]) tier = t;
  return tier;
}

/** One step: the tier after `equity` when `current` is in force. */
export function nextTier(
  current: Tier,
  equity: number,
  hysteresis = 0.2,
  floors: Readonly<Record<Tier, number>> = SPEC_TIER_FLOORS,
): { readonly tier: Tier; readonly reason: string } {
  const plain = tierFor(equity, floors);
  const rank = (t: Tier) => TIERS.indexOf(t);
  if (rank(plain) > rank(current)) return { tier: plain, reason: `equity ${equity} ≥ ${plain} floor ${floors[plain]}` };
  if (rank(plain) < rank(current)) {
    const demoteBelow = floors[current] * (1 - hysteresis);
    if (equity < demoteBelow) {
      return {
        tier: plain,
        reason: `equity ${equity} < ${current} floor ${floors[current]} − ${Math.round(hysteresis * 100)} % = ${demoteBelow}`,
      };
    }
  }
  return { tier: current, reason: '' };
}

/**
 * Emits a `tier-changed` event for the first observation and for every change after it.
 *
 * ```
 * equity   -a------b------c------d--|    a 4,000  b 5,100  c 4,500  d 3,900
 * output   -S------G-------------S--|    S survival, G growth (4,500 is inside the 20 % band)
 * ```
 *
 * @throws RangeError at once for a hysteresis outside [0, 1) or floors that do not increase.
 */
export function selectTier(config: SelectTierConfig = {}): OperatorFunction<EquityObservation, TierChanged> {
  const hysteresis = config.hysteresis ?? 0.2;
  const floors = config.floors ?? SPEC_TIER_FLOORS;
  if (!(hysteresis >= 0 && hysteresis < 1))
    throw new RangeError(`selectTier.hysteresis: expected 0 ≤ h < 1, found ${hysteresis}`);
  for (let i = 1; i < TIERS.length; i++) {
    if (!(floors[TIERS[i]!] > floors[TIERS[i - 1]!])) {
      throw new RangeError(
        `selectTier.floors.${TIERS[i]}: expected more than ${TIERS[i - 1]}'s ${floors[TIERS[i - 1]!]}, found ${floors[TIERS[i]!]}`,
      );
    }
  }
  type State = { readonly tier: Tier | null; readonly changed: TierChanged | null };
  return (source) =>
    source.pipe(
      scan<EquityObservation, State>(
        (state, { equity, tsEvent }) => {
          if (!Number.isFinite(equity))
            throw new RangeError(`selectTier: equity must be a finite number, found ${equity}`);
          const belowMinimum = equity < SURVIVAL_MINIMUM;
          if (state.tier === null) {
            const tier = tierFor(equity, floors);
            return {
              tier,
              changed: {
                kind: 'tier-changed',
                from: null,
                to: tier,
                equity,
                tsEvent,
                reason: `equity ${equity} selects ${tier}`,
                belowMinimum,
              },
            };
          }
          const next = nextTier(state.tier, equity, hysteresis, floors);
          if (next.tier === state.tier) return { tier: state.tier, changed: null };
          return {
            tier: next.tier,
            changed: {
              kind: 'tier-changed',
              from: state.tier,
              to: next.tier,
              equity,
              tsEvent,
              reason: next.reason,
              belowMinimum,
            },
          };
        },
        { tier: config.initial ?? null, changed: null },
      ),
      map((s) => s.changed),
      filter((c): c is TierChanged => c !== null),
    );
}
