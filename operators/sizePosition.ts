import { Observable, type OperatorFunction } from 'rxjs';
import { absUnits, floorToStep, notionalOf, toUnits, unitsToNumber, type Units } from './money';
import { positionQty } from './trackPortfolio';
import type { Instrument, OrderIntent, Portfolio, Signal } from './types';
import { routeThrows } from './routeThrows';

export interface SizingInput {
  readonly signal: Signal;
  readonly portfolio: Portfolio;
  /** Annualised volatility of the signal's symbol, when known (for volatility targeting). */
  readonly volatility?: number;
  /**
   * Signed quantity of the symbol's orders sent but not yet filled, canceled or rejected: counted
   * as if already held, so that a second decision before the first order fills does not send it
   * again. Default 0.
   */
  readonly pending?: Units;
}

export interface SizePositionConfig {
  readonly instrument: Instrument;
  /** Fraction of the full Kelly bet actually taken (spec §8.2). Default 0.25. */
  readonly kellyFraction?: number;
  /**
   * Share of the estimated edge assumed to be estimation error and removed before Kelly
   * (spec §8.2 "misspecification buffer": 0.5 = assume half the edge is not real). Default 0.5.
   */
  readonly misspecificationBuffer?: number;
  /**
   * Average win / average loss (Kelly's b). Default 1: a symmetric bet, right for signals that
   * predict the next move; set it to target distance / stop distance when exits are bracketed.
   */
  readonly payoffRatio?: number;
  /** Cap on the target position as a fraction of equity. Default 0.25. */
  readonly maxPositionPct?: number;
  /** Whether a short signal may open a short position (spot: no). Default false. */
  readonly allowShort?: boolean;
  /** What a flat signal does to an open position. Default `hold`. */
  readonly onFlat?: 'hold' | 'close';
  /**
   * Volatility target (annualised, spec §8.2: 0.15): the position is capped at
   * volTarget / σ_symbol of equity, so a position alone never carries more volatility than the
   * target. Needs `volatility` in the input; without it no position is opened. Default: off.
   */
  readonly volTarget?: number;
  /**
   * Skip rebalancing an open position in the same direction when the change is smaller than this
   * fraction of the target (avoids paying fees for noise). Default 0.25.
   */
  readonly rebalanceThreshold?: number;
}

/**
 * Sizes a fused signal into an order intent by fractional Kelly (spec §8.2).
 *
 *   p      = 0.5 + (1 − buffer) · strength / 2        (strength = |2·P(up) − 1|, shrunk by the buffer)
 *   kelly  = p − (1 − p) / b                            (b = payoff ratio; ≤ 0 → no position)
 *   target = min(kelly × kellyFraction × confidence, maxPositionPct, volTarget / σ) × equity / price
 *
 * A long signal targets +target, a short one −target (or flat when shorts are not allowed), a
 * flat signal holds or closes per config. An intent is emitted only when the change from the
 * current position, rounded down to the lot size, is worth an order: at least the venue's
 * minimums and, when adding to a same-direction position, at least `rebalanceThreshold` of it.
 *
 * ```
 * input:  --a--b--c--|    (signal + portfolio)
 * intent: --A-----C--|    b needed no change
 * ```
 */
export function sizePosition(config: SizePositionConfig): OperatorFunction<SizingInput, OrderIntent> {
  const fraction = config.kellyFraction ?? 0.25;
  const buffer = config.misspecificationBuffer ?? 0.5;
  const payoff = config.payoffRatio ?? 1;
  const maxPct = config.maxPositionPct ?? 0.25;
  const allowShort = config.allowShort ?? false;
  const onFlat = config.onFlat ?? 'hold';
  const rebalance = config.rebalanceThreshold ?? 0.25;
  const { instrument } = config;

  return (source) =>
    new Observable<OrderIntent>((subscriber) =>
      source.subscribe({
        next: routeThrows(subscriber, ({ signal, portfolio, volatility, pending }) => {
          if (signal.symbol !== instrument.symbol) return;
          const current = positionQty(portfolio, signal.symbol) + (pending ?? 0n);
          let targetPct: number;
          let reason: string;
          if (signal.direction === 0) {
            if (onFlat === 'hold' || current === 0n) return;
            targetPct = 0;
            reason = 'flat signal closes the position';
          } else if (signal.direction < 0 && !allowShort) {
            if (current <= 0n) return;
            targetPct = 0;
            reason = 'short signal closes the long (shorting disabled)';
          } else {
            const kelly = kellyFractionOf(signal.strength, payoff, buffer);
            let cap = maxPct;
            let capReason = '';
            if (config.volTarget !== undefined) {
              if (volatility === undefined || !(volatility > 0)) return;
              const volCap = config.volTarget / volatility;
              if (volCap < cap) {
                cap = volCap;
                capReason = `, capped by vol target ${config.volTarget}/σ ${round(volatility)}`;
              }
            }
            targetPct = Math.min(kelly * fraction * signal.confidence, cap) * signal.direction;
            reason = `kelly=${round(kelly)} × ${fraction} × confidence ${round(signal.confidence)} → ${round(targetPct * 100)}% of equity${capReason}`;
          }
          if (!(signal.price > 0) || !(portfolio.equity > 0)) return;
          const targetQty = floorToStep(toUnits((portfolio.equity * targetPct) / signal.price), instrument.qtyStep);
          const delta = targetQty - current;
          if (delta === 0n) return;
          const sameDirection = current !== 0n && targetQty !== 0n && current > 0n === targetQty > 0n;
          if (sameDirection && absUnits(delta) < rebalanceFloor(targetQty, rebalance)) return;
          const intent = intentFor(signal, current, targetQty, instrument, reason);
          if (intent) subscriber.next(intent);
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}

/**
 * The order intent that moves `current` to `targetQty`, or undefined when no order is worth
 * sending: no change, or an order (on the lot grid) below the venue's minimum quantity or notional.
 */
export function intentFor(
  signal: Signal,
  current: Units,
  targetQty: Units,
  instrument: Instrument,
  reason: string,
  leg = 0,
): OrderIntent | undefined {
  const delta = targetQty - current;
  if (delta === 0n) return undefined;
  // The order is on the lot grid even when the position is not (Binance takes a buy's fee in the
  // base coin, leaving dust such as 0.04964031 of a 0.04969 buy): rounded down, so an exit never
  // sells more than is held and a buy never fails on `target − dust`.
  const qty = floorToStep(absUnits(delta), instrument.qtyStep);
  if (qty === 0n) return undefined;
  const priceUnits = toUnits(signal.price);
  // A new or added position must meet the venue's minimums; so must a close, which otherwise could
  // only be refused: what is left below them is dust, not a position to trade.
  if (qty < instrument.minQty || notionalOf(qty, priceUnits) < instrument.minNotional) return undefined;
  return {
    kind: 'intent',
    id: `${signal.id}:${leg}`,
    signalId: signal.id,
    symbol: signal.symbol,
    side: delta > 0n ? 'buy' : 'sell',
    qty,
    refPrice: signal.price,
    targetQty,
    reducesRisk: absUnits(targetQty) < absUnits(current) && (targetQty === 0n || targetQty > 0n === current > 0n),
    tsEvent: signal.tsEvent,
    reason,
  };
}

/**
 * Kelly fraction for a signal of the given strength. The win probability is read from the
 * strength (a signal of strength s says P(win) = 0.5 + s/2) with the edge over 0.5 shrunk by the
 * misspecification buffer; then f = p − (1 − p)/b, floored at 0.
 */
export function kellyFractionOf(strength: number, payoff: number, buffer: number): number {
  const p = 0.5 + ((1 - buffer) * Math.min(1, Math.max(0, strength))) / 2;
  const kelly = p - (1 - p) / payoff;
  return Math.max(kelly, 0);
}

function rebalanceFloor(targetQty: Units, threshold: number): Units {
  return toUnits(unitsToNumber(absUnits(targetQty)) * threshold);
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
