/**
 * Exit brackets, decided with the entry: an ATR stop, an R-multiple target with an optional
 * partial take-profit, a trailing stop and a time stop. Pure math over a position's state; the
 * operator that holds the state is `decideTrade`.
 */

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
}

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
