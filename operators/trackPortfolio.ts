import { scan, type OperatorFunction } from 'rxjs';
import { Bot4Error } from './errors';
import { absUnits, divRound, notionalOf, unitsToNumber, type Units } from './money';
import type { Bar, Fill, Portfolio, Position, TradeTick } from './types';

export interface TrackPortfolioConfig {
  /** Starting cash in quote units. */
  readonly initialCash: Units;
  /** Quote currency of the account (`USDT`). */
  readonly quote: string;
  /** Time of the initial state, ms. Default 0. */
  readonly tsStart?: number;
  /**
   * A starting state other than cash only (live trading: the balances and positions the exchange
   * reported at start). Its `initialCash` is the reference for the accounting identity.
   */
  readonly start?: Portfolio;
}

/** Events the portfolio folds: fills change holdings, bars and trades mark them to market. */
export type PortfolioEvent = Fill | Bar | TradeTick;

/**
 * Folds fills and market prices into the portfolio: cash, positions (average cost), realized PnL,
 * fees, equity, peak equity and drawdown. Emits the new state after every event.
 *
 * Cash, quantities, cost basis, realized PnL and fees are exact integers (1e-8 units) and always
 * satisfy `cash = initialCash + realizedPnl − feesPaid − Σ costBasis`. Equity is a valuation.
 *
 * ```
 * events:    --F--b--b--|   F fill · b bar
 * portfolio: --P--P--P--|
 * ```
 */
export function trackPortfolio(config: TrackPortfolioConfig): OperatorFunction<PortfolioEvent, Portfolio> {
  return scan((portfolio: Portfolio, event: PortfolioEvent) => {
    switch (event.kind) {
      case 'fill':
        return applyFill(portfolio, event);
      case 'bar':
        return markToMarket(portfolio, event.symbol, event.close, event.tsEvent);
      case 'trade':
        return markToMarket(portfolio, event.symbol, event.price, event.tsEvent);
    }
  }, config.start ?? initialPortfolio(config));
}

export function initialPortfolio(config: TrackPortfolioConfig): Portfolio {
  const equity = unitsToNumber(config.initialCash);
  return {
    kind: 'portfolio',
    quote: config.quote,
    initialCash: config.initialCash,
    cash: config.initialCash,
    positions: {},
    realizedPnl: 0n,
    feesPaid: 0n,
    equity,
    peakEquity: equity,
    drawdown: 0,
    tsEvent: config.tsStart ?? 0,
  };
}

/**
 * The portfolio after a fill (average-cost accounting; a fill may flip a position). A fee taken
 * in the base asset (`feeBase`) is booked as a disposal of that quantity at its quote value `fee`
 * whose proceeds pay the fee: no cash moves, the position shrinks by `feeBase`, `fee` counts as
 * fees paid, and the accounting identity stays exact.
 */
export function applyFill(portfolio: Portfolio, fill: Fill): Portfolio {
  if (fill.feeBase !== undefined && fill.feeBase > 0n) {
    const { feeBase, ...trade } = fill;
    const afterTrade = applyTrade(portfolio, { ...trade, fee: 0n });
    return applyTrade(afterTrade, { ...trade, side: 'sell', qty: feeBase, notional: fill.fee, fee: fill.fee });
  }
  return applyTrade(portfolio, fill);
}

function applyTrade(portfolio: Portfolio, fill: Fill): Portfolio {
  const previous = portfolio.positions[fill.symbol];
  const qty = previous?.qty ?? 0n;
  const costBasis = previous?.costBasis ?? 0n;
  const delta = fill.side === 'buy' ? fill.qty : -fill.qty;
  const price = fill.price;

  let newQty: Units;
  let newCost: Units;
  let realized = 0n;
  if (qty === 0n || qty > 0n === delta > 0n) {
    newQty = qty + delta;
    newCost = costBasis + (delta > 0n ? fill.notional : -fill.notional);
  } else {
    const held = absUnits(qty);
    const traded = absUnits(delta);
    const closing = traded < held ? traded : held;
    const removedCost = closing === held ? costBasis : divRound(costBasis * closing, held);
    const closingNotional = closing === traded ? fill.notional : notionalOf(closing, price);
    realized = (qty > 0n ? closingNotional : -closingNotional) - removedCost;
    newQty = qty + delta;
    newCost = costBasis - removedCost;
    if (traded > held) {
      // The fill flipped the position: the rest opens a new one at the fill price.
      const openingNotional = fill.notional - closingNotional;
      newCost = delta > 0n ? openingNotional : -openingNotional;
    }
  }

  const cashDelta = (fill.side === 'buy' ? -fill.notional : fill.notional) - fill.fee;
  const positions: Record<string, Position> = { ...portfolio.positions };
  const markPrice = unitsToNumber(price);
  if (newQty === 0n) delete positions[fill.symbol];
  else positions[fill.symbol] = { symbol: fill.symbol, qty: newQty, costBasis: newCost, markPrice };
  return revalue(
    {
      ...portfolio,
      cash: portfolio.cash + cashDelta,
      positions,
      realizedPnl: portfolio.realizedPnl + realized,
      feesPaid: portfolio.feesPaid + fill.fee,
    },
    fill.tsEvent,
  );
}

/** A market event the portfolio cannot be valued with (a non-finite or negative price or time). */
export class PortfolioInputError extends Bot4Error<'PORTFOLIO_INPUT_INVALID'> {
  constructor(message: string) {
    super('PORTFOLIO_INPUT_INVALID', 'trackPortfolio', message);
  }
}

/** The portfolio with `symbol` valued at `price`. Throws {@link PortfolioInputError} for a price no valuation can use. */
export function markToMarket(portfolio: Portfolio, symbol: string, price: number, tsEvent: number): Portfolio {
  if (!(Number.isFinite(price) && price >= 0) || !Number.isFinite(tsEvent))
    throw new PortfolioInputError(`trackPortfolio: cannot mark ${symbol} at price ${price}, time ${tsEvent}`);
  const position = portfolio.positions[symbol];
  if (!position) return tsEvent === portfolio.tsEvent ? portfolio : { ...portfolio, tsEvent };
  return revalue(
    { ...portfolio, positions: { ...portfolio.positions, [symbol]: { ...position, markPrice: price } } },
    tsEvent,
  );
}

function revalue(portfolio: Portfolio, tsEvent: number): Portfolio {
  let equity = unitsToNumber(portfolio.cash);
  for (const symbol in portfolio.positions) {
    const position = portfolio.positions[symbol]!;
    equity += unitsToNumber(position.qty) * position.markPrice;
  }
  const peakEquity = Math.max(portfolio.peakEquity, equity);
  return {
    ...portfolio,
    equity,
    peakEquity,
    drawdown: peakEquity > 0 ? Math.max(0, (peakEquity - equity) / peakEquity) : 0,
    tsEvent,
  };
}

/** Signed quantity held in `symbol` (0 when flat). */
export function positionQty(portfolio: Portfolio, symbol: string): Units {
  return portfolio.positions[symbol]?.qty ?? 0n;
}

/** Value of the position in `symbol` at its mark, in quote (signed). */
export function positionValue(portfolio: Portfolio, symbol: string): number {
  const position = portfolio.positions[symbol];
  return position ? unitsToNumber(position.qty) * position.markPrice : 0;
}

/** Cash + Σ cost basis − realized + fees − initial: zero for every consistent portfolio. */
export function accountingResidual(portfolio: Portfolio): Units {
  let cost = 0n;
  for (const symbol in portfolio.positions) cost += portfolio.positions[symbol]!.costBasis;
  return portfolio.cash + cost - portfolio.realizedPnl + portfolio.feesPaid - portfolio.initialCash;
}
