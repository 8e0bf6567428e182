import { Observable, type OperatorFunction } from 'rxjs';
import {
  checkBracketConfig,
  exitLegs,
  openBracket,
  STOP_REPLACE_R,
  stepBracket,
  type Bracket,
  type BracketConfig,
  type ExitLeg,
  type PriceLevels,
} from './brackets';
import type { CostModel } from './costModel';
import { absUnits, floorToStep, toUnits, unitsToNumber, type Units } from './money';
import { dustOf } from './lotGrid';
import { intentFor, type SizingInput } from './sizePosition';
import { positionQty } from './trackPortfolio';
import type { CancelAllOrders, Instrument, Order, OrderIntent } from './types';
import { routeThrows } from './routeThrows';

export interface DecideTradeInput extends SizingInput {
  /** ATR of the symbol at this bar (price units), for the bracket. Needed to enter when brackets are set. */
  readonly atr?: number;
  /** Average daily volume of the symbol, base units, for the impact term of the cost. */
  readonly adv?: number;
  /** Support and resistance at this bar, for level stops and Fibonacci targets. */
  readonly support?: number;
  readonly resistance?: number;
  /**
   * The resting exit orders of this symbol at the venue (approved stop/take-profit legs not yet
   * filled, canceled or rejected). With resting brackets, what is missing or stale is placed again.
   */
  readonly exits?: readonly Order[];
}

/** What a decision sends: order intents, and a cancel of the symbol's resting exits before they are replaced. */
export type DecideTradeOutput = OrderIntent | CancelAllOrders;

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
 *          is resized only when the new Kelly target is more than `noTradeBand` away from it (and
 *          never added to after a partial take-profit).
 *
 * Orders still open count as held (`pending`), so a decision before a fill is not repeated. A
 * position found open without a bracket (a restart, an order filled late) gets one at the current
 * close and ATR.
 *
 * Resting brackets (`brackets.orders: resting`, the default): from the close of the bar the entry
 * filled in, the bracket rests at the venue as reduce-only stop-loss and take-profit intents
 * (`exit` set; one OCO group, see {@link exitLegs}), which the venue triggers inside a bar. On
 * every later bar the legs the bracket needs are compared with `exits` (what still rests): a
 * missing leg, another quantity (a fill, a resize) or a stop the trailing or break-even rule has
 * moved by {@link STOP_REPLACE_R} R or more replaces them all — a `cancel-all` of the symbol, then
 * the legs. A take-profit leg gone with the position shrunk in profit is the partial take-profit:
 * the stop moves to break-even. Every market order that sells from the position while exits rest
 * (time stop, signal exit, a resize down) is preceded by that cancel, so the reserved base is free
 * for it; one that adds to it leaves them resting (the gate may deny it), and the legs are
 * re-sized on the bar after its fill. The close check stays
 * as a fallback (a stop-limit gapped past its limit, a rejected leg): a close through a level
 * still exits at market. `brackets.orders: on-close` decides every exit on closes and sends it as
 * a market intent, filled at the next price.
 *
 * ```
 * input:  --a--b--c--d--|   (a: μ clears the cost · b: the entry has filled · d: flat again)
 * output: --A--(xST)----|   A buy · x cancel-all · S stop-loss · T take-profit (one OCO group)
 * ```
 */
export function decideTrade(config: DecideTradeConfig): OperatorFunction<DecideTradeInput, DecideTradeOutput> {
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
  const resting = brackets !== undefined && (brackets.orders ?? 'resting') === 'resting';
  if (!(margin >= 1)) throw new RangeError(`decideTrade: costMargin must be ≥ 1, found ${margin}`);
  if (!(band >= 0)) throw new RangeError(`decideTrade: noTradeBand must be ≥ 0, found ${band}`);

  return (source) =>
    new Observable<DecideTradeOutput>((subscriber) => {
      let bracket: Bracket | undefined;
      let heldBars = 0;
      /** What the last placement of resting legs protected: the quantity, and whether it held a target. */
      let placed: { qty: Units; withTarget: boolean } | undefined;
      /** A position was found without a bracket: what rests at the venue is an earlier session's, canceled before the first legs. */
      let found = false;
      return source.subscribe({
        next: routeThrows(subscriber, (input) => {
          const { signal, portfolio } = input;
          if (signal.symbol !== instrument.symbol) return;
          const current = positionQty(portfolio, signal.symbol) + (input.pending ?? 0n);
          const price = signal.price;
          if (!(price > 0) || !(portfolio.equity > 0)) return;
          const forecast = signal.forecast;
          const exits = input.exits ?? [];
          const cancelExits = (why: string, always = false): void => {
            if (exits.length === 0 && !always) return;
            subscriber.next({ kind: 'cancel-all', symbol: signal.symbol, reason: why, tsEvent: signal.tsEvent });
          };
          const emit = (target: Units, reason: string, leg = 0): void => {
            const intent = intentFor(signal, current, target, instrument, reason, leg);
            if (!intent) return;
            // A market order that sells what the resting legs hold needs them canceled first; one
            // that adds to the position does not, and keeps them in case the gate denies it.
            const sellsHeld = current !== 0n && (intent.side === 'sell') === current > 0n;
            if (sellsHeld) cancelExits(`before ${intent.side} ${reason}`);
            subscriber.next(intent);
          };

          // Dust (below the venue's minimums or off its lot grid) is not a position: nothing can
          // sell it, so it neither holds a bracket nor blocks an entry.
          const tradeable = current - dustOf(current, instrument, price);
          if (tradeable === 0n) {
            bracket = undefined;
            placed = undefined;
            found = false;
            heldBars = 0;
            cancelExits('flat: resting exits have nothing left to protect');
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
          // A position found without a bracket (a restart, a fill after its session ended): its
          // bracket starts here, and whatever an earlier session left resting is canceled before
          // the new legs go out.
          if (brackets && !bracket && input.atr !== undefined && input.atr > 0) {
            bracket = openBracket(brackets, side, price, input.atr, levelsOf(input));
            found = true;
          }
          if (brackets && bracket) {
            // The resting take-profit of the partial quantity has filled: the rest rides at break-even.
            const part = brackets.partialFraction ?? 1;
            if (
              resting &&
              placed?.withTarget &&
              part < 1 &&
              !bracket.partialDone &&
              !exits.some((o) => o.type === 'take-profit-market' || o.type === 'take-profit-limit') &&
              absUnits(tradeable) < placed.qty &&
              side * (price - bracket.entryPrice) > 0
            ) {
              bracket.partialDone = true;
              bracket.stop = bracket.entryPrice;
            }
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
          if (forecast?.available && side * forecast.expectedBps > 0) {
            const sizing = targetFraction(input, side);
            if (sizing !== undefined) {
              const target = floorToStep(toUnits((portfolio.equity * sizing.pct) / price), instrument.qtyStep);
              const held = absUnits(tradeable);
              const diff = target > held ? target - held : held - target;
              // After a partial take-profit the position is not added to: that would undo it.
              const undoesPartial = bracket?.partialDone === true && target > held;
              if (!undoesPartial && unitsToNumber(diff) > band * unitsToNumber(held)) {
                emit(side > 0 ? target : -target, `resize outside the ${band} band: ${sizing.reason}`);
                // A resize down has canceled the legs; one up goes on to check them for what is held now.
                if (target < held) return;
              }
            }
          }
          // The bracket rests at the venue: place what is missing or stale (not while an order of
          // this symbol is still on its way, which changes the quantity to protect).
          if (!resting || !brackets || !bracket || (input.pending ?? 0n) !== 0n) return;
          const legs = exitLegs(brackets, bracket, tradeable, instrument);
          if (legs.length === 0 || legsRest(legs, exits, bracket.risk)) return;
          cancelExits(
            found ? 'a position found without its bracket: cancel what rests' : 'replace the resting exits',
            found,
          );
          found = false;
          legs.forEach((leg, i) => {
            const group = leg.spec.ocoGroup === undefined ? undefined : `${signal.id}:${leg.spec.ocoGroup}`;
            subscriber.next({
              kind: 'intent',
              id: `${signal.id}:${i + 1}`,
              signalId: signal.id,
              symbol: signal.symbol,
              side: leg.side,
              qty: leg.qty,
              refPrice: price,
              targetQty: side > 0 ? tradeable - leg.qty : tradeable + leg.qty,
              reducesRisk: true,
              tsEvent: signal.tsEvent,
              reason: `${leg.role === 'stop' ? 'stop-loss' : 'take-profit'} at ${leg.spec.stopPrice} (entry ${round(bracket!.entryPrice)}${group ? `, OCO ${group}` : ''})`,
              exit: { ...leg.spec, ...(group !== undefined ? { ocoGroup: group } : {}) },
            });
          });
          placed = { qty: absUnits(tradeable), withTarget: legs.some((l) => l.role === 'target') };
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

/**
 * Whether the resting orders are exactly the legs the bracket needs: the same count, and each leg
 * matched by a resting order of its type, side, quantity and OCO part — a target at its price, a
 * stop no more than {@link STOP_REPLACE_R} R behind where it should be (never ahead of it).
 */
function legsRest(legs: readonly ExitLeg[], exits: readonly Order[], risk: number): boolean {
  if (legs.length !== exits.length) return false;
  const used = new Set<Order>();
  for (const leg of legs) {
    const match = exits.find((o) => {
      if (used.has(o) || o.type !== leg.spec.type || o.side !== leg.side || o.qty !== leg.qty) return false;
      if ((o.ocoGroup === undefined) !== (leg.spec.ocoGroup === undefined)) return false;
      if (o.ocoGroup !== undefined && !o.ocoGroup.endsWith(`:${leg.spec.ocoGroup}`)) return false;
      if (o.stopPrice === undefined) return false;
      if (leg.role === 'target') return o.stopPrice === leg.spec.stopPrice;
      // How far the resting stop lags the level it should be at, in the position's favour.
      const lag = leg.side === 'sell' ? leg.spec.stopPrice - o.stopPrice : o.stopPrice - leg.spec.stopPrice;
      return lag >= 0 && lag < STOP_REPLACE_R * risk;
    });
    if (!match) return false;
    used.add(match);
  }
  return true;
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
