import { Observable, type OperatorFunction } from 'rxjs';
import {
  checkBracketConfig,
  openBracket,
  stepBracket,
  type Bracket,
  type BracketConfig,
  type PriceLevels,
} from './brackets';
import type { CostModel } from './costModel';
import { absUnits, floorToStep, toUnits, unitsToNumber, type Units } from './money';
import { dustOf } from './lotGrid';
import { intentFor, type SizingInput } from './sizePosition';
import { positionQty } from './trackPortfolio';
import type { Instrument, OrderIntent } from './types';
import { routeThrows } from './routeThrows';

export interface DecideTradeInput extends SizingInput {
  /** ATR of the symbol at this bar (price units), for the bracket. Needed to enter when brackets are set. */
  readonly atr?: number;
  /** Average daily volume of the symbol, base units, for the impact term of the cost. */
  readonly adv?: number;
  /** Support and resistance at this bar, for level stops and Fibonacci targets. */
  readonly support?: number;
  readonly resistance?: number;
}

export interface DecideTradeConfig {
  readonly instrument: Instrument;
  /** The venue's costs (the same model the paper exchange fills with). */
  readonly cost: CostModel;
  /**
   * Entry rule: a position opens only when the forecast return over its horizon is at least
   * `costMargin` × the round trip's cost (1.5 = the edge must pay the cost and half as much
   * again). Default 1.5.
   */
  readonly costMargin?: number;
  /**
   * Exit hysteresis: an open position exits on the signal only when the forecast in its direction
   * falls below this many bps (0 = when it expects a loss). Entry needs the margin above the cost,
   * exit needs the forecast below this level, so a forecast hovering near the threshold does not
   * flip the position. Default 0.
   */
  readonly exitBps?: number;
  /** Bars a position is held before a signal exit is allowed (stops always apply). Default 0. */
  readonly minHoldBars?: number;
  /**
   * No-trade band: an open position is resized only when the new target differs from it by more
   * than this share of it. Default 0.5.
   */
  readonly noTradeBand?: number;
  /** Fraction of the Kelly bet taken (spec §8.2). Default 0.25. */
  readonly kellyFraction?: number;
  /** Share of the forecast edge assumed to be estimation error (spec §8.2). Default 0.5. */
  readonly misspecificationBuffer?: number;
  /** Cap on a position, fraction of equity. Default 0.25. */
  readonly maxPositionPct?: number;
  /** Annualised volatility target: position ≤ volTarget / σ of equity. Needs `volatility`. Default off. */
  readonly volTarget?: number;
  /** Whether a negative forecast may open a short. Default false (spot). */
  readonly allowShort?: boolean;
  /** Exits decided with every entry. Unset: only signal exits. */
  readonly brackets?: BracketConfig;
}

/**
 * Decides trades from forecasts, net of costs: entries only when the edge clears the cost, exits
 * for every entry, a no-trade band around the position, and fractional Kelly on the net edge.
 *
 * For a signal with an available forecast μ (bps over its horizon), σ (bps) and pWin, and the
 * round-trip cost c (bps, from the cost model for the planned size):
 *
 *   flat:  enter in the direction of μ when |μ| ≥ costMargin · c
 *          f = min((|μ| − c)·(1 − buffer) / σ²,  pWin − (1 − pWin)/b)      (b = targetR, second term only with a target)
 *          size = min(f × kellyFraction, maxPositionPct, volTarget/σ_annual) × equity / price, on the lot grid
 *   held:  every bar the bracket is stepped on the close: stop, trailing stop, target (or a partial
 *          take-profit that moves the stop to break-even), time stop; after `minHoldBars`, a
 *          forecast below `exitBps` in the position's direction exits too. Otherwise the position
 *          is resized only when the new Kelly target is more than `noTradeBand` away from it.
 *
 * Orders still open count as held (`pending`), so a decision before a fill is not repeated. A
 * position found open without a bracket (a restart, an order filled late) gets one at the current
 * close and ATR. Exits are decided on closes and sent as reduce-only market intents, so they fill
 * at the next price — the paper venue's own stop orders are not used here.
 *
 * ```
 * input:  --a--b--c--d--|   (a: μ clears the cost · c: close under the stop)
 * intent: --A-----C-----|   A buy · C sell, reason "stop"
 * ```
 */
export function decideTrade(config: DecideTradeConfig): OperatorFunction<DecideTradeInput, OrderIntent> {
  const { instrument, cost } = config;
  const margin = config.costMargin ?? 1.5;
  const exitBps = config.exitBps ?? 0;
  const minHold = config.minHoldBars ?? 0;
  const band = config.noTradeBand ?? 0.5;
  const fraction = config.kellyFraction ?? 0.25;
  const buffer = config.misspecificationBuffer ?? 0.5;
  const maxPct = config.maxPositionPct ?? 0.25;
  const allowShort = config.allowShort ?? false;
  const brackets = config.brackets;
  if (brackets) checkBracketConfig(brackets);
  if (!(margin >= 1)) throw new RangeError(`decideTrade: costMargin must be ≥ 1, found ${margin}`);
  if (!(band >= 0)) throw new RangeError(`decideTrade: noTradeBand must be ≥ 0, found ${band}`);

  return (source) =>
    new Observable<OrderIntent>((subscriber) => {
      let bracket: Bracket | undefined;
      let heldBars = 0;
      return source.subscribe({
        next: routeThrows(subscriber, (input) => {
          const { signal, portfolio } = input;
          if (signal.symbol !== instrument.symbol) return;
          const current = positionQty(portfolio, signal.symbol) + (input.pending ?? 0n);
          const price = signal.price;
          if (!(price > 0) || !(portfolio.equity > 0)) return;
          const forecast = signal.forecast;
          const emit = (target: Units, reason: string, leg = 0): void => {
            const intent = intentFor(signal, current, target, instrument, reason, leg);
            if (intent) subscriber.next(intent);
          };

          // Dust (below the venue's minimums or off its lot grid) is not a position: nothing can
          // sell it, so it neither holds a bracket nor blocks an entry.
          const tradeable = current - dustOf(current, instrument, price);
          if (tradeable === 0n) {
            bracket = undefined;
            heldBars = 0;
            if (!forecast?.available) return;
            const side: 1 | -1 = forecast.expectedBps > 0 ? 1 : -1;
            if (side < 0 && !allowShort) return;
            const sizing = targetFraction(input, side);
            if (sizing === undefined) return;
            if (brackets && !(input.atr !== undefined && input.atr > 0)) return;
            const qty = floorToStep(toUnits((portfolio.equity * sizing.pct) / price), instrument.qtyStep);
            if (qty === 0n) return;
            if (brackets) bracket = openBracket(brackets, side, price, input.atr!, levelsOf(input));
            emit(side > 0 ? qty : -qty, `enter: ${sizing.reason}`);
            return;
          }

          const side: 1 | -1 = tradeable > 0n ? 1 : -1;
          heldBars++;
          if (brackets && !bracket && input.atr !== undefined && input.atr > 0)
            bracket = openBracket(brackets, side, price, input.atr, levelsOf(input));
          if (brackets && bracket) {
            const exit = stepBracket(brackets, bracket, price);
            if (exit === 'partial-target') {
              const keep = floorToStep(
                toUnits(unitsToNumber(absUnits(tradeable)) * (1 - (brackets.partialFraction ?? 1))),
                instrument.qtyStep,
              );
              emit(side > 0 ? keep : -keep, `partial take-profit at ${round(bracket.target!)}; stop to entry`);
              return;
            }
            if (exit !== undefined) {
              emit(
                0n,
                `exit: ${exit} (entry ${round(bracket.entryPrice)}, stop ${round(bracket.stop)}, close ${price})`,
              );
              return;
            }
          }
          if (heldBars > minHold && forecast?.available && side * forecast.expectedBps < exitBps) {
            emit(0n, `exit: forecast ${round(forecast.expectedBps)} bps against the position (exit below ${exitBps})`);
            return;
          }
          // Resize only outside the no-trade band, and only while the forecast still clears the cost.
          if (!forecast?.available || side * forecast.expectedBps <= 0) return;
          const sizing = targetFraction(input, side);
          if (sizing === undefined) return;
          const target = floorToStep(toUnits((portfolio.equity * sizing.pct) / price), instrument.qtyStep);
          const held = absUnits(tradeable);
          const diff = target > held ? target - held : held - target;
          if (unitsToNumber(diff) <= band * unitsToNumber(held)) return;
          emit(side > 0 ? target : -target, `resize outside the ${band} band: ${sizing.reason}`);
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });

  /** Kelly target as a fraction of equity, or undefined when the edge does not clear the cost. */
  function targetFraction(input: DecideTradeInput, side: 1 | -1): { pct: number; reason: string } | undefined {
    const forecast = input.signal.forecast!;
    let cap = maxPct;
    if (config.volTarget !== undefined) {
      if (input.volatility === undefined || !(input.volatility > 0)) return undefined;
      cap = Math.min(cap, config.volTarget / input.volatility);
    }
    const plannedQty = (input.portfolio.equity * cap) / input.signal.price;
    const c = cost.roundTrip({ qty: plannedQty, ...(input.adv !== undefined ? { adv: input.adv } : {}) }).totalBps;
    const mu = side * forecast.expectedBps;
    if (mu < margin * c) return undefined;
    const net = ((mu - c) * (1 - buffer)) / 10_000;
    const sigma = forecast.stdBps / 10_000;
    let kelly = sigma > 0 ? net / (sigma * sigma) : 0;
    const b = brackets?.targetR;
    if (b !== undefined) kelly = Math.min(kelly, forecast.pWin - (1 - forecast.pWin) / b);
    if (!(kelly > 0)) return undefined;
    const pct = Math.min(kelly * fraction, cap);
    return {
      pct,
      reason: `μ ${round(mu)} bps over ${forecast.horizonBars} bars ≥ ${margin} × cost ${round(c)} bps; kelly ${round(kelly)} × ${fraction} → ${round(pct * 100)}% of equity`,
    };
  }
}

function levelsOf(input: DecideTradeInput): PriceLevels {
  return {
    ...(input.support !== undefined ? { support: input.support } : {}),
    ...(input.resistance !== undefined ? { resistance: input.resistance } : {}),
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
