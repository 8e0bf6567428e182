/**
 * The cost of trading, in one place: fee tiers, the taker price (slippage and square-root market
 * impact) and the expected cost of a round trip. The paper exchange fills with these functions
 * and sizing decides with them, so a decision prices a trade exactly as the simulator will charge
 * it — one model, not two that drift apart. Pure: no clock, no state.
 */
import { PPM, bpsToPpm, feeOf, type Units } from './money';
import type { Side } from './types';

/** One fee tier: from a 30-day quote volume on, these rates apply. */
export interface FeeTier {
  readonly name: string;
  /** 30-day traded volume (quote units) from which the tier applies, inclusive. The first tier's is 0. */
  readonly minVolume30d: Units;
  /** Maker fee in basis points (10 = 0.10 %); negative = rebate. */
  readonly makerBps: number;
  /** Taker fee in basis points. */
  readonly takerBps: number;
}

const M = 100_000_000n * 1_000_000n; // one million quote, in units

/**
 * Binance spot VIP tiers (USDT 30-day volume; the BNB-holding alternative and the BNB discount are
 * not modelled). Published rates at the time of writing — override `feeTiers` for another venue.
 */
export const BINANCE_SPOT_FEE_TIERS: readonly FeeTier[] = Object.freeze([
  { name: 'Regular', minVolume30d: 0n, makerBps: 10, takerBps: 10 },
  { name: 'VIP 1', minVolume30d: 1n * M, makerBps: 9, takerBps: 10 },
  { name: 'VIP 2', minVolume30d: 5n * M, makerBps: 8, takerBps: 10 },
  { name: 'VIP 3', minVolume30d: 20n * M, makerBps: 4.2, takerBps: 6 },
  { name: 'VIP 4', minVolume30d: 50n * M, makerBps: 4.2, takerBps: 5.4 },
  { name: 'VIP 5', minVolume30d: 100n * M, makerBps: 3.6, takerBps: 4.8 },
  { name: 'VIP 6', minVolume30d: 250n * M, makerBps: 3, takerBps: 4.2 },
  { name: 'VIP 7', minVolume30d: 500n * M, makerBps: 2.4, takerBps: 3.6 },
  { name: 'VIP 8', minVolume30d: 1000n * M, makerBps: 1.8, takerBps: 3 },
  { name: 'VIP 9', minVolume30d: 2500n * M, makerBps: 1.2, takerBps: 2.4 },
]);

/** Default adverse slippage of a taker fill without a book, basis points. */
export const DEFAULT_SLIPPAGE_BPS = 2;

/**
 * The fee tiers a venue config means: explicit `feeTiers`, else one flat tier when a flat
 * `takerFeeBps`/`makerFeeBps` is given (maker defaults to the taker rate, taker to 10), else the
 * Binance spot tiers.
 */
export function feeTiersOf(config: {
  readonly feeTiers?: readonly FeeTier[];
  readonly takerFeeBps?: number;
  readonly makerFeeBps?: number;
}): readonly FeeTier[] {
  if (config.feeTiers !== undefined) return config.feeTiers;
  if (config.takerFeeBps !== undefined || config.makerFeeBps !== undefined) {
    const takerBps = config.takerFeeBps ?? 10;
    return [{ name: 'flat', minVolume30d: 0n, makerBps: config.makerFeeBps ?? takerBps, takerBps }];
  }
  return BINANCE_SPOT_FEE_TIERS;
}

/** The tier of an account with this 30-day volume (tiers ascending; the highest one reached). */
export function tierForVolume<T extends { readonly minVolume30d: Units }>(tiers: readonly T[], volume30d: Units): T {
  let tier = tiers[0]!;
  for (const candidate of tiers) if (volume30d >= candidate.minVolume30d) tier = candidate;
  return tier;
}

/**
 * Fee on a notional at a rate in parts per million: a charge rounded up, a rebate (negative rate)
 * rounded down — never overpaid either way.
 */
export function feeAtPpm(notional: Units, ppm: bigint): Units {
  if (ppm >= 0n) return feeOf(notional, ppm);
  const abs = notional < 0n ? -notional : notional;
  return -((abs * -ppm) / PPM);
}

/** Impact as a fraction of price: γ·√(V/ADV); 0 when ADV is unknown. */
export function squareRootImpact(gamma: number, qty: number, adv: number | undefined): number {
  if (gamma === 0 || adv === undefined || !(adv > 0) || !(qty > 0)) return 0;
  return gamma * Math.sqrt(qty / adv);
}

/**
 * The price a taker fill gets: `base` moved against the order by `slippage` plus the square-root
 * impact of `qty` (both fractions of price), never worse than `limit` when one is given.
 */
export function takerFillPrice(side: Side, base: number, slippage: number, impact: number, limit?: number): number {
  const move = slippage + impact;
  let price = side === 'buy' ? base * (1 + move) : base * (1 - move);
  if (limit !== undefined) price = side === 'buy' ? Math.min(price, limit) : Math.max(price, limit);
  return price;
}

export interface CostModelConfig {
  /** Fee tiers by 30-day volume (see {@link feeTiersOf}). */
  readonly feeTiers?: readonly FeeTier[];
  /** Flat taker fee, basis points. */
  readonly takerFeeBps?: number;
  /** Flat maker fee, basis points. */
  readonly makerFeeBps?: number;
  /** Adverse slippage of a taker fill, basis points. Default 2 (the paper venue's default). */
  readonly slippageBps?: number;
  /**
   * Half the bid-ask spread paid by a taker on top of the reference price, basis points, when the
   * decision's reference is a mid or last price. Default 0 (the simulator fills bar-only data at
   * the next open plus slippage: the spread is inside the slippage there).
   */
  readonly halfSpreadBps?: number;
  /** γ of the square-root impact law (as the paper venue's `impact.gamma`). Default 0. */
  readonly impactGamma?: number;
}

/** The expected cost of entering and leaving a position, per leg and in total. */
export interface RoundTripCost {
  /** Both legs' fees, basis points of the notional. */
  readonly feesBps: number;
  /** Both legs' half-spreads, basis points. */
  readonly spreadBps: number;
  /** Both legs' slippage, basis points. */
  readonly slippageBps: number;
  /** Both legs' square-root impact, basis points. */
  readonly impactBps: number;
  /** Everything, basis points of the notional: what a trade must earn to break even. */
  readonly totalBps: number;
}

export interface RoundTripQuery {
  /** Position size, base units. */
  readonly qty: number;
  /** Average daily volume of the symbol, base units; unknown → no impact term. */
  readonly adv?: number;
  /** The account's 30-day traded volume, quote units; sets the fee tier. Default 0. */
  readonly volume30d?: Units;
  /** How each leg executes. Default taker both ways (market entry, market/stop exit). */
  readonly entry?: 'taker' | 'maker';
  readonly exit?: 'taker' | 'maker';
}

/** A resolved cost model: validated once, then queried per decision. */
export interface CostModel {
  readonly tiers: readonly FeeTier[];
  readonly slippageBps: number;
  readonly halfSpreadBps: number;
  readonly impactGamma: number;
  /** Expected cost of a round trip of this size, in basis points of its notional. */
  roundTrip(query: RoundTripQuery): RoundTripCost;
}

/** A broken cost-model config, named by key. */
export class CostModelConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  readonly stage = 'costModel';
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly found: unknown,
  ) {
    super(`costModel config: ${key}: expected ${expected}, found ${String(found)}`);
    this.name = 'CostModelConfigError';
  }
}

function nonNegative(key: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new CostModelConfigError(key, 'a finite number ≥ 0', value);
  return value;
}

/**
 * Builds the cost model of a venue.
 *
 *   per leg  = fee(tier, taker|maker) + halfSpread + slippage + γ·√(qty/ADV)   (taker legs)
 *            = fee(tier, maker)                                              (maker legs: no spread, slippage or impact)
 *   round trip = entry leg + exit leg, in basis points of the notional
 *
 * These are the terms the paper exchange charges a fill (`takerFillPrice`, `feeAtPpm`, the tier
 * of the 30-day volume), so the expected cost is the simulated cost of a market round trip of the
 * same size with the price unchanged.
 *
 * @example
 * makeCostModel({ takerFeeBps: 10, slippageBps: 2 }).roundTrip({ qty: 0.1 }).totalBps // 24
 */
export function makeCostModel(config: CostModelConfig): CostModel {
  const tiers = feeTiersOf(config);
  if (tiers.length === 0 || tiers[0]!.minVolume30d !== 0n)
    throw new CostModelConfigError('feeTiers', 'a non-empty list whose first tier starts at volume 0', tiers.length);
  const slippageBps = nonNegative('slippageBps', config.slippageBps, DEFAULT_SLIPPAGE_BPS);
  const halfSpreadBps = nonNegative('halfSpreadBps', config.halfSpreadBps, 0);
  const impactGamma = nonNegative('impactGamma', config.impactGamma, 0);
  const leg = (liquidity: 'taker' | 'maker', tier: FeeTier, impactBps: number) =>
    liquidity === 'maker'
      ? { fee: tier.makerBps, spread: 0, slippage: 0, impact: 0 }
      : { fee: tier.takerBps, spread: halfSpreadBps, slippage: slippageBps, impact: impactBps };
  return {
    tiers,
    slippageBps,
    halfSpreadBps,
    impactGamma,
    roundTrip(query) {
      const tier = tierForVolume(tiers, query.volume30d ?? 0n);
      const impactBps = squareRootImpact(impactGamma, query.qty, query.adv) * 10_000;
      const a = leg(query.entry ?? 'taker', tier, impactBps);
      const b = leg(query.exit ?? 'taker', tier, impactBps);
      const feesBps = a.fee + b.fee;
      const spreadBps = a.spread + b.spread;
      const slippage = a.slippage + b.slippage;
      const impact = a.impact + b.impact;
      return {
        feesBps,
        spreadBps,
        slippageBps: slippage,
        impactBps: impact,
        totalBps: feesBps + spreadBps + slippage + impact,
      };
    },
  };
}

/** A fee tier's rates in parts per million (what the simulator charges with). */
export function tierPpm(tier: FeeTier): { readonly makerPpm: bigint; readonly takerPpm: bigint } {
  return { makerPpm: bpsToPpm(tier.makerBps), takerPpm: bpsToPpm(tier.takerBps) };
}
