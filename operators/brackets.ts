/**
 * Exit brackets, decided with the entry: an ATR stop, an R-multiple target with an optional
 * partial take-profit, a trailing stop and a time stop. Pure math over a position's state; the
 * operator that holds the state is `decideTrade`. {@link exitLegs} turns a bracket into the
 * resting orders that hold it at the venue (stop-loss and take-profit, one-cancels-the-other).
 */
import { absUnits, floorToStep, notionalOf, toUnits, unitsToNumber, type Units } from './money';
import type { ExitOrderSpec, Instrument } from './types';

export interface BracketConfig {
  /** Stop distance in ATRs below a long's entry (above a short's). Required. */
  readonly stopAtr: number;
  /**
   * Support/resistance stop: with a support level under a long's entry (resistance over a
   * short's), the stop goes `levelBufferAtr` ATRs beyond that level instead — when that is
   * within `stopAtr` ATRs of the entry; a level further away keeps the ATR stop. Default false.
   */
  readonly levelStop?: boolean;
  /** How far beyond the support/resistance level the stop sits, ATRs. Default 0.5. */
  readonly levelBufferAtr?: number;
  /**
   * Fibonacci-extension target: support + ext × (resistance − support) for a long (mirrored for a
   * short), when that lies beyond the entry; otherwise the R-multiple target. E.g. 1.618.
   */
  readonly fibExtension?: number;
  /** Target at this many R (R = the stop distance) beyond the entry. Unset: no target. */
  readonly targetR?: number;
  /**
   * Share of the position taken off at the target (0..1); the rest rides with its stop moved to
   * the entry price (break-even). Default 1: the whole position exits at the target.
   */
  readonly partialFraction?: number;
  /** Trailing stop distance in ATRs from the best close since entry. Unset: no trailing stop. */
  readonly trailAtr?: number;
  /** Time stop: exit after this many bars in the position. Unset: none. */
  readonly maxHoldBars?: number;
  /**
   * How stop and target reach the venue. `resting` (default): as the venue's own orders, placed
   * at the close of the bar the entry filled in — a stop-loss and a take-profit leg sharing an OCO
   * group — which trigger inside a bar when its price path crosses them (the paper exchange reads
   * a bar open → nearer extreme → farther extreme → close; a gap through the level fills at the
   * open). The trailing stop and the break-even stop after a partial take-profit move the resting
   * stop (cancel and replace) once it has moved by a tenth of R. `on-close`: evaluated on bar
   * closes and sent as market orders, filled at the next open (the older behaviour).
   */
  readonly orders?: 'resting' | 'on-close';
  /**
   * Resting legs as limit orders (Binance STOP_LOSS_LIMIT / TAKE_PROFIT_LIMIT): once triggered,
   * the order accepts a price at most this many bps beyond its trigger. Unset: stop-market and
   * take-profit-market legs (Binance STOP_LOSS / TAKE_PROFIT). A gap past the limit leaves the
   * leg unfilled; the close check then exits at market.
   */
  readonly limitOffsetBps?: number;
}

/** A resting stop is moved (cancel and replace) once the level it should be at is this many R better. */
export const STOP_REPLACE_R = 0.1;

/** A live bracket: the levels of one open position. */
export interface Bracket {
  /** +1 long, −1 short. */
  readonly side: 1 | -1;
  readonly entryPrice: number;
  /** Stop distance (1 R), price units. */
  readonly risk: number;
  stop: number;
  readonly target: number | undefined;
  /** Best close since entry (highest for a long, lowest for a short). */
  best: number;
  readonly trail: number | undefined;
  bars: number;
  partialDone: boolean;
}

export type ExitReason = 'stop' | 'trailing-stop' | 'target' | 'partial-target' | 'time-stop';

/** Validates a bracket config; throws a RangeError naming the key. */
export function checkBracketConfig(config: BracketConfig): void {
  const positive = (key: string, value: number | undefined, required = false): void => {
    if (value === undefined && !required) return;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw new RangeError(`brackets.${key}: expected a number > 0, found ${value}`);
  };
  positive('stopAtr', config.stopAtr, true);
  positive('targetR', config.targetR);
  positive('trailAtr', config.trailAtr);
  positive('maxHoldBars', config.maxHoldBars);
  positive('levelBufferAtr', config.levelBufferAtr);
  positive('fibExtension', config.fibExtension);
  positive('limitOffsetBps', config.limitOffsetBps);
  if (config.orders !== undefined && config.orders !== 'resting' && config.orders !== 'on-close')
    throw new RangeError(`brackets.orders: expected "resting" or "on-close", found ${String(config.orders)}`);
  const p = config.partialFraction;
  if (p !== undefined && !(p > 0 && p <= 1))
    throw new RangeError(`brackets.partialFraction: expected a share in (0, 1], found ${p}`);
}

/** Support and resistance around the entry (e.g. the lowest low and highest high of a window). */
export interface PriceLevels {
  readonly support?: number;
  readonly resistance?: number;
}

/** The bracket of an entry at `price` with the ATR of the entry bar (and the levels around it). */
export function openBracket(
  config: BracketConfig,
  side: 1 | -1,
  price: number,
  atr: number,
  levels: PriceLevels = {},
): Bracket {
  let risk = config.stopAtr * atr;
  // The level the stop hides behind: support under a long, resistance over a short.
  const level = side > 0 ? levels.support : levels.resistance;
  if (config.levelStop && level !== undefined && side * (price - level) > 0) {
    const distance = side * (price - level) + (config.levelBufferAtr ?? 0.5) * atr;
    if (distance <= risk) risk = distance;
  }
  let target = config.targetR === undefined ? undefined : price + side * config.targetR * risk;
  if (config.fibExtension !== undefined && levels.support !== undefined && levels.resistance !== undefined) {
    const range = levels.resistance - levels.support;
    const fib =
      side > 0 ? levels.support + config.fibExtension * range : levels.resistance - config.fibExtension * range;
    if (range > 0 && side * (fib - price) > 0) target = fib;
  }
  return {
    side,
    entryPrice: price,
    risk,
    stop: price - side * risk,
    target,
    best: price,
    trail: config.trailAtr === undefined ? undefined : config.trailAtr * atr,
    bars: 0,
    partialDone: false,
  };
}

/** Kelly's b of a bracket: target distance / stop distance (undefined without a target). */
export function payoffOf(config: BracketConfig): number | undefined {
  return config.targetR;
}

/**
 * Advances a bracket by one closed bar and says which exit, if any, the close triggers — checked
 * in the order stop, trailing stop, target, time stop. Mutates the bracket (bars held, best close,
 * and the stop moved to break-even after a partial take-profit).
 */
export function stepBracket(config: BracketConfig, bracket: Bracket, close: number): ExitReason | undefined {
  bracket.bars++;
  const s = bracket.side;
  if (s * (close - bracket.best) > 0) bracket.best = close;
  if (s * (close - bracket.stop) <= 0) return 'stop';
  if (bracket.trail !== undefined && s * (close - (bracket.best - s * bracket.trail)) <= 0) return 'trailing-stop';
  if (bracket.target !== undefined && !bracket.partialDone && s * (close - bracket.target) >= 0) {
    const part = config.partialFraction ?? 1;
    if (part < 1) {
      bracket.partialDone = true;
      bracket.stop = bracket.entryPrice;
      return 'partial-target';
    }
    return 'target';
  }
  if (config.maxHoldBars !== undefined && bracket.bars >= config.maxHoldBars) return 'time-stop';
  return undefined;
}

/** The stop level now: the bracket's stop, or the trailing level when that is tighter. */
export function effectiveStop(bracket: Bracket): number {
  if (bracket.trail === undefined) return bracket.stop;
  const trailed = bracket.best - bracket.side * bracket.trail;
  return bracket.side > 0 ? Math.max(bracket.stop, trailed) : Math.min(bracket.stop, trailed);
}

/** One resting order of a bracket: its role, size and venue order fields. */
export interface ExitLeg {
  readonly role: 'stop' | 'target';
  /** Base quantity, positive, on the lot grid. */
  readonly qty: Units;
  /** The order's side: the opposite of the position. */
  readonly side: 'buy' | 'sell';
  /** Type, trigger and limit; `ocoGroup` is a suffix (`a`, `b`) the caller prefixes with the signal id. */
  readonly spec: ExitOrderSpec;
}

/**
 * The resting orders that hold a bracket at the venue for a position of `held` (signed units):
 *
 * - a target not yet reached, whole position: one OCO group — stop-loss + take-profit, both for
 *   the whole position;
 * - a partial take-profit still to come: group `a` — stop + take-profit for the partial quantity —
 *   and group `b` — stop alone for the rest (a Binance OCO needs equal quantities, so the position
 *   is split in two lists); when either part would be below the venue's minimums, one group;
 * - otherwise (no target, or the partial taken): the stop alone.
 *
 * Prices are on the venue's tick grid, rounded away from the position (a long's stop down, its
 * target up), limit prices `limitOffsetBps` beyond the trigger.
 */
export function exitLegs(config: BracketConfig, bracket: Bracket, held: Units, instrument: Instrument): ExitLeg[] {
  const side = bracket.side > 0 ? 'sell' : 'buy';
  const away = bracket.side > 0 ? 'down' : 'up';
  const toward = bracket.side > 0 ? 'up' : 'down';
  const qty = floorToStep(absUnits(held), instrument.qtyStep);
  if (qty === 0n) return [];
  const stopPrice = roundToTick(effectiveStop(bracket), instrument.priceTick, away);
  const offset = config.limitOffsetBps;
  const limitOf = (trigger: number): number | undefined =>
    offset === undefined
      ? undefined
      : roundToTick(trigger * (1 - (bracket.side * offset) / 10_000), instrument.priceTick, away);
  const stopLeg = (q: Units, group: string | undefined): ExitLeg => {
    const limitPrice = limitOf(stopPrice);
    return {
      role: 'stop',
      qty: q,
      side,
      spec: {
        type: offset === undefined ? 'stop-market' : 'stop-limit',
        stopPrice,
        ...(limitPrice !== undefined ? { limitPrice } : {}),
        ...(group !== undefined ? { ocoGroup: group } : {}),
      },
    };
  };
  if (bracket.target === undefined || bracket.partialDone) return [stopLeg(qty, undefined)];
  const targetPrice = roundToTick(bracket.target, instrument.priceTick, toward);
  const targetLeg = (q: Units, group: string): ExitLeg => {
    const limitPrice = limitOf(targetPrice);
    return {
      role: 'target',
      qty: q,
      side,
      spec: {
        type: offset === undefined ? 'take-profit-market' : 'take-profit-limit',
        stopPrice: targetPrice,
        ...(limitPrice !== undefined ? { limitPrice } : {}),
        ocoGroup: group,
      },
    };
  };
  const part = config.partialFraction ?? 1;
  if (part < 1) {
    const partial = floorToStep(toUnits(unitsToNumber(qty) * part), instrument.qtyStep);
    const rest = qty - partial;
    const tradeable = (q: Units): boolean =>
      q >= instrument.minQty && q > 0n && notionalOf(q, toUnits(stopPrice)) >= instrument.minNotional;
    if (tradeable(partial) && tradeable(rest))
      return [stopLeg(partial, 'a'), targetLeg(partial, 'a'), stopLeg(rest, 'b')];
  }
  return [stopLeg(qty, 'a'), targetLeg(qty, 'a')];
}

/** `price` on the tick grid, rounded `down` or `up` (a tick of 0: unchanged). */
export function roundToTick(price: number, tick: number, direction: 'down' | 'up'): number {
  if (!(tick > 0)) return price;
  const t = toUnits(tick);
  const p = toUnits(price);
  const r = p % t;
  if (r === 0n) return unitsToNumber(p);
  return unitsToNumber(direction === 'down' ? p - r : p - r + t);
}
