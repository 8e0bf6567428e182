/**
 * An order's fills from the exchange's trades: which trades are new (de-duplicated by trade id),
 * in what order (time, then id), how much of each the order can still take (a trade beyond the
 * order's quantity is reported up to it, with a FILL_ADJUSTED notice), the fee in quote (and
 * `feeBase` when it was taken in the base asset), and the `leavesQty` after each. Pure: the
 * session reads the trades and emits what comes back.
 *
 * ```
 * order 0.01, filled 0.004, seen {t1}:  trades t1 0.004, t3 0.002, t2 0.004  →  fill t2 (leaves 0.002), fill t3 (leaves 0)
 * ```
 */
import type * as ccxt from 'ccxt';
import { formatUnits, notionalOf, toUnits, type Units } from '../../operators/money';
import type { Instrument, Order } from '../../operators/types';
import { compareIds, feeInBase, feeInQuote } from './exchange';

/** What the fill arithmetic reads and advances of a tracked order. */
export interface FillState {
  readonly order: Order;
  /** Quantity reported as filled so far (advanced here). */
  filled: Units;
  /** Trade ids already reported or skipped (grown here). */
  readonly seenTrades: Set<string>;
}

/** One fill's figures; the session adds the order's ids. */
export interface FillFigures {
  readonly qty: Units;
  /** What the order has left after this fill. */
  readonly leavesQty: Units;
  readonly price: Units;
  readonly notional: Units;
  readonly fee: Units;
  readonly feeBase?: Units;
  readonly liquidity: 'maker' | 'taker';
  readonly tsEvent: number;
}

export interface NewFills {
  readonly fills: readonly FillFigures[];
  /** Every trade id newly seen (reported, or skipped for lack of an amount or price). */
  readonly tradeIds: readonly string[];
  /** Why a trade was reported smaller than it was (FILL_ADJUSTED). */
  readonly adjusted: readonly string[];
}

/** The fills `trades` add to `t`, oldest first; advances `t.filled` and `t.seenTrades`. */
export function fillsFromTrades(
  t: FillState,
  trades: readonly ccxt.Trade[],
  instrument: Instrument | undefined,
  now: number,
): NewFills {
  const fresh = trades
    .filter((trade) => trade.id !== undefined && trade.id !== null && !t.seenTrades.has(String(trade.id)))
    .sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0) || compareIds(String(a.id), String(b.id)));
  const fills: FillFigures[] = [];
  const tradeIds: string[] = [];
  const adjusted: string[] = [];
  for (const trade of fresh) {
    t.seenTrades.add(String(trade.id));
    tradeIds.push(String(trade.id));
    if (trade.amount === undefined || trade.amount === null || trade.price === undefined || trade.price === null)
      continue;
    let qty = toUnits(trade.amount);
    if (t.filled + qty > t.order.qty) {
      adjusted.push(
        `${t.order.clientOrderId}: trade ${trade.id} of ${trade.amount} exceeds the order's open quantity; reported as ${formatUnits(t.order.qty - t.filled)}`,
      );
      qty = t.order.qty - t.filled;
      if (qty <= 0n) continue;
    }
    const price = toUnits(trade.price);
    t.filled += qty;
    fills.push({
      qty,
      leavesQty: t.order.qty - t.filled,
      price,
      notional: notionalOf(qty, price),
      fee: feeInQuote(instrument, trade.fee, price),
      ...feeInBase(instrument, trade.fee),
      liquidity: trade.takerOrMaker === 'maker' ? 'maker' : 'taker',
      tsEvent: trade.timestamp ?? now,
    });
  }
  return { fills, tradeIds, adjusted };
}

/**
 * For an exchange that cannot list an order's trades (or lists fewer than it reports filled):
 * one fill up to `target` at the order's average price, no fee known. Null when nothing is left.
 */
export function derivedFill(t: FillState, order: ccxt.Order, target: Units, now: number): FillFigures | null {
  const qty = (target > t.order.qty ? t.order.qty : target) - t.filled;
  if (qty <= 0n) return null;
  const price = toUnits(order.average ?? order.price ?? 0);
  t.filled += qty;
  return {
    qty,
    leavesQty: t.order.qty - t.filled,
    price,
    notional: notionalOf(qty, price),
    fee: 0n,
    liquidity: 'taker',
    tsEvent: order.lastTradeTimestamp ?? now,
  };
}
