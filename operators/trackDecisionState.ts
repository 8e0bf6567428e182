import { scan, type OperatorFunction } from 'rxjs';
import { Bot4Error } from './errors';
import type { MarketRiskEstimate } from './garch';
import type { Units } from './money';
import type { MarketRiskRolled } from './rollMarketRisk';
import type { MarketStats } from './trackMarketStats';
import type { Fill, Mode, ModeChanged, Order, OrderCanceled, OrderRejected, Portfolio, Symbol } from './types';

/** An order that will not reach the venue (the kill switch stopped it): it is no longer pending. */
export interface PendingOrderDropped {
  readonly kind: 'order-halted';
  readonly clientOrderId: string;
}

/** An order the risk gate approved: pending from now until it fills, is canceled or rejected. */
export interface PendingOrderSent {
  readonly kind: 'order-sent';
  readonly order: Order;
}

/** What changes the state a decision is taken on. */
export type DecisionStateEvent =
  | Portfolio
  | ModeChanged
  | MarketStats
  | MarketRiskEstimate
  | MarketRiskRolled
  | PendingOrderSent
  | Fill
  | OrderCanceled
  | OrderRejected
  | PendingOrderDropped;

/** The one state every decision and the risk gate read: folded from events, never a shared variable. */
export interface DecisionState {
  readonly kind: 'decision-state';
  readonly portfolio: Portfolio;
  readonly mode: Mode;
  /** Market statistics at the newest bar; absent before the first. */
  readonly stats?: MarketStats;
  /** Latest 1-day 99 % VaR per symbol as a fraction of the position (1 − e^(−VaR) of the log-return loss). */
  readonly var99: ReadonlyMap<Symbol, number>;
  /** Signed quantity still to fill of the orders sent or resting, per symbol. */
  readonly pending: ReadonlyMap<Symbol, Units>;
  /** The orders behind `pending`: signed quantity still to fill, per client order id. */
  readonly open: ReadonlyMap<string, { readonly symbol: Symbol; readonly remaining: Units }>;
  /**
   * Resting exits (a bracket's stop-loss and take-profit legs, any non-market order) at the venue,
   * per client order id. Not pending: they protect the position rather than change it.
   */
  readonly resting: ReadonlyMap<string, Order>;
}

/** The resting exits of one symbol. */
export function exitsOf(state: DecisionState, symbol: Symbol): Order[] {
  const out: Order[] = [];
  for (const o of state.resting.values()) if (o.symbol === symbol) out.push(o);
  return out;
}

export interface TrackDecisionStateConfig {
  /** The portfolio before the first event (cash only, or what a restart recovered). */
  readonly portfolio: Portfolio;
  /** The trading mode before the first change. Default `Normal`. */
  readonly mode?: Mode;
}

/** An event the state cannot fold (an unknown kind, a VaR that is not a number). */
export class DecisionStateInputError extends Bot4Error<'DECISION_STATE_INPUT_INVALID'> {
  constructor(message: string) {
    super('DECISION_STATE_INPUT_INVALID', 'trackDecisionState', message);
  }
}

/**
 * Folds the portfolio, the trading mode, the market statistics, the VaR per symbol and the
 * pending orders into one state per event, with `scan`: the decision and the risk gate join it
 * (`withLatestFrom`) instead of reading variables that are right only by subscription order.
 * A thrown exception (an event it cannot fold) goes to the error channel.
 *
 * ```
 * events: --p--m--s--o--f--|      portfolio, mode change, stats, order sent, its fill
 * state:  --A--B--C--D--E--|      one immutable state per event
 * ```
 *
 * @example
 * merge(portfolio$, modeChanged$, stats$, sent$, venueOrderEvents$).pipe(trackDecisionState({ portfolio: start }))
 */
export function trackDecisionState(
  config: TrackDecisionStateConfig,
): OperatorFunction<DecisionStateEvent, DecisionState> {
  const start: DecisionState = {
    kind: 'decision-state',
    portfolio: config.portfolio,
    mode: config.mode ?? 'Normal',
    var99: new Map(),
    pending: new Map(),
    open: new Map(),
    resting: new Map(),
  };
  return scan(foldDecisionState, start);
}

/** One step of {@link trackDecisionState}: the state after `event`. */
export function foldDecisionState(state: DecisionState, event: DecisionStateEvent): DecisionState {
  switch (event.kind) {
    case 'portfolio':
      return { ...state, portfolio: event };
    case 'mode-changed':
      return { ...state, mode: event.to };
    case 'market-stats':
      return { ...state, stats: event };
    case 'market-risk':
    case 'market-risk-rolled': {
      if (!Number.isFinite(event.var))
        throw new DecisionStateInputError(
          `${event.kind} of ${event.symbol} at ${event.tsEvent}: var: expected a finite number, found ${event.var}`,
        );
      const var99 = new Map(state.var99);
      var99.set(event.symbol, 1 - Math.exp(-event.var));
      return { ...state, var99 };
    }
    case 'order-sent': {
      const order = event.order;
      if (order.type !== 'market') {
        const resting = new Map(state.resting);
        resting.set(order.clientOrderId, order);
        return { ...state, resting };
      }
      return withOpen(state, order.clientOrderId, {
        symbol: order.symbol,
        remaining: order.side === 'buy' ? order.qty : -order.qty,
      });
    }
    case 'fill': {
      const o = state.open.get(event.clientOrderId);
      if (!o) return event.leavesQty === 0n ? withoutResting(state, event.clientOrderId) : state;
      return withOpen(
        state,
        event.clientOrderId,
        event.leavesQty === 0n
          ? undefined
          : { symbol: o.symbol, remaining: o.remaining > 0n ? event.leavesQty : -event.leavesQty },
      );
    }
    case 'order-canceled':
    case 'order-rejected':
    case 'order-halted': {
      const closed = withoutResting(state, event.clientOrderId);
      return closed.open.has(event.clientOrderId) ? withOpen(closed, event.clientOrderId, undefined) : closed;
    }
    default:
      throw new DecisionStateInputError(
        `expected a portfolio, mode change, market statistics or risk, or an order event, found kind ${JSON.stringify((event as { kind?: unknown }).kind)}`,
      );
  }
}

/** The state without one resting order (filled, canceled, rejected or halted). */
function withoutResting(state: DecisionState, clientOrderId: string): DecisionState {
  if (!state.resting.has(clientOrderId)) return state;
  const resting = new Map(state.resting);
  resting.delete(clientOrderId);
  return { ...state, resting };
}

/** The state with one order's remaining quantity set (or the order closed), and its symbol's pending sum. */
function withOpen(
  state: DecisionState,
  clientOrderId: string,
  next: { readonly symbol: Symbol; readonly remaining: Units } | undefined,
): DecisionState {
  const before = state.open.get(clientOrderId);
  const open = new Map(state.open);
  if (next) open.set(clientOrderId, next);
  else open.delete(clientOrderId);
  const pending = new Map(state.pending);
  const adjust = (symbol: Symbol, delta: Units): void => {
    const sum = (pending.get(symbol) ?? 0n) + delta;
    if (sum === 0n) pending.delete(symbol);
    else pending.set(symbol, sum);
  };
  if (before) adjust(before.symbol, -before.remaining);
  if (next) adjust(next.symbol, next.remaining);
  return { ...state, open, pending };
}
