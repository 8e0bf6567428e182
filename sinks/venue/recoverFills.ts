/**
 * Fills made while no session watched, recovered at a restart. The journal of the earlier
 * session lists the orders it sent and never saw settled (a `kill -9` between an order and its
 * answer, or between a fill and its journal line); whatever they executed is in the account now.
 * Taking the account's balances alone would lose what the trades were (price, fee, which signal
 * caused them); here each such order is looked up by client order id, and its trades beyond what
 * the journal holds become {@link Fill}s — with the exchange's trade price and fee (converted to
 * quote, `feeBase` when the fee was taken in the base asset) and the order's signal id — for the
 * session to journal and fold before it compares its portfolio with the exchange's.
 *
 * ```
 * journal:   order b4-7 sent, filled 0 ─── kill -9 ─── (exchange executes it: trades t1, t2)
 * restart:   lookup b4-7 → found (filled 0.02) → trades t1 t2 → fill t1, fill t2 (signal of b4-7)
 * ```
 */
import type * as ccxt from 'ccxt';
import { formatUnits, notionalOf, toUnits, type Units } from '../../operators/money';
import type { Fill, Instrument, Order } from '../../operators/types';
import type { CcxtVenueSettings } from './config';
import { compareIds, feeInBase, feeInQuote } from './exchange';
import { lookupOrder, type ExchangeCall } from './lookup';
import { Closed } from './submitOutcome';

export type UnsettledOrder = CcxtVenueSettings['recoverOrders'][number];

/** What recovering one order found, for the venue's notices. */
export interface RecoveryNote {
  readonly clientOrderId: string;
  readonly level: 'info' | 'warning';
  readonly message: string;
}

export interface RecoveredFills {
  readonly fills: readonly Fill[];
  /** Trade ids of the recovered fills (the reconciler must not adopt them again). */
  readonly tradeIds: readonly string[];
  readonly notes: readonly RecoveryNote[];
}

/**
 * Looks each unsettled order up and returns the fills it made beyond `filled`, oldest first.
 * An order the exchange does not have was never placed; an order whose lookup or trades fail is
 * named in a warning note and left to the balance comparison (the session adopts the account).
 * Throws only {@link Closed}.
 */
export async function recoverFills(
  exchange: ccxt.Exchange,
  call: ExchangeCall,
  instruments: ReadonlyMap<string, Instrument>,
  orders: readonly UnsettledOrder[],
): Promise<RecoveredFills> {
  const fills: Fill[] = [];
  const tradeIds: string[] = [];
  const notes: RecoveryNote[] = [];
  for (const unsettled of orders) {
    const { clientOrderId, symbol } = unsettled;
    const instrument = instruments.get(symbol);
    if (!instrument) {
      notes.push({
        clientOrderId,
        level: 'warning',
        message: `${clientOrderId}: ${symbol} is not traded here; not looked up`,
      });
      continue;
    }
    const probe: Order = {
      kind: 'order',
      clientOrderId,
      intentId: '',
      signalId: unsettled.signalId,
      symbol,
      side: unsettled.side,
      type: 'market',
      qty: 0n,
      refPrice: 0,
      reducesRisk: false,
      configHash: '',
      tsEvent: unsettled.sentAt,
    };
    const result = await lookupOrder(exchange, call, { order: probe, exchangeId: undefined, sentAt: unsettled.sentAt });
    if (result.kind === 'absent') {
      notes.push({ clientOrderId, level: 'info', message: `${clientOrderId}: not on the exchange (never placed)` });
      continue;
    }
    if (result.kind === 'error') {
      notes.push({
        clientOrderId,
        level: 'warning',
        message: `${clientOrderId}: lookup failed (${String((result.error as Error)?.message ?? result.error)}); its trades are not recovered as fills`,
      });
      continue;
    }
    const order = result.order;
    const exchangeFilled = toUnits(order.filled ?? 0);
    if (exchangeFilled <= unsettled.filled) continue;
    const orderQty = order.amount === undefined || order.amount === null ? exchangeFilled : toUnits(order.amount);
    let trades: ccxt.Trade[];
    try {
      trades = await tradesOf(exchange, call, order, symbol, unsettled.sentAt);
    } catch (error) {
      if (error instanceof Closed) throw error;
      notes.push({
        clientOrderId,
        level: 'warning',
        message: `${clientOrderId}: filled ${formatUnits(exchangeFilled)} on the exchange, but its trades could not be read (${(error as Error).message}); not recovered as fills`,
      });
      continue;
    }
    const sorted = trades
      .filter((t) => t.id !== undefined && t.id !== null && typeof t.amount === 'number' && typeof t.price === 'number')
      .sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0) || compareIds(String(a.id), String(b.id)));
    // The journal holds the first `filled` of the order (its trades in time order): the rest is new.
    let cumulative = 0n;
    let recovered = 0n;
    for (const trade of sorted) {
      const amount = toUnits(trade.amount!);
      const before = cumulative;
      cumulative += amount;
      if (cumulative <= unsettled.filled) continue;
      const qty = cumulative - (before > unsettled.filled ? before : unsettled.filled);
      const price = toUnits(trade.price!);
      const wholeTrade = qty === amount;
      fills.push({
        kind: 'fill',
        clientOrderId,
        signalId: unsettled.signalId,
        symbol,
        side: unsettled.side,
        qty,
        price,
        notional: notionalOf(qty, price),
        // A trade the journal holds in part carries its fee on the part recovered, pro rata.
        fee: prorate(feeInQuote(instrument, trade.fee, price), qty, amount, wholeTrade),
        ...(() => {
          const base = feeInBase(instrument, trade.fee).feeBase;
          return base === undefined ? {} : { feeBase: prorate(base, qty, amount, wholeTrade) };
        })(),
        liquidity: trade.takerOrMaker === 'maker' ? 'maker' : 'taker',
        leavesQty: orderQty > cumulative ? orderQty - cumulative : 0n,
        tsEvent: trade.timestamp ?? unsettled.sentAt,
      });
      tradeIds.push(String(trade.id));
      recovered += qty;
    }
    notes.push({
      clientOrderId,
      level: recovered === exchangeFilled - unsettled.filled ? 'info' : 'warning',
      message:
        recovered === exchangeFilled - unsettled.filled
          ? `${clientOrderId}: ${formatUnits(recovered)} ${unsettled.side === 'buy' ? 'bought' : 'sold'} while no session watched; recovered as fills from its trades`
          : `${clientOrderId}: filled ${formatUnits(exchangeFilled)} on the exchange, journal ${formatUnits(unsettled.filled)}, trades found for ${formatUnits(recovered)}; the rest is left to the balance comparison`,
    });
  }
  return { fills, tradeIds, notes };
}

function prorate(amount: Units, part: Units, whole: Units, wholeTrade: boolean): Units {
  return wholeTrade || whole === 0n ? amount : (amount * part) / whole;
}

async function tradesOf(
  exchange: ccxt.Exchange,
  call: ExchangeCall,
  order: ccxt.Order,
  symbol: string,
  sentAt: number,
): Promise<ccxt.Trade[]> {
  if (order.trades && order.trades.length > 0) return order.trades;
  const id = order.id;
  if (id === undefined || id === null) return [];
  if (exchange.has['fetchOrderTrades'])
    return call(`fetchOrderTrades ${id}`, () => exchange.fetchOrderTrades(id, symbol));
  if (exchange.has['fetchMyTrades']) {
    const trades = await call(`fetchMyTrades ${symbol}`, () => exchange.fetchMyTrades(symbol, sentAt - 60_000));
    return trades.filter((t) => t.order === id);
  }
  return [];
}
