/**
 * Finding an order on the exchange by its client order id, when its outcome is unknown or its
 * state must be re-read: `fetchOrder` with the client id (Binance `origClientOrderId`), falling
 * back, where the exchange cannot look up by client id, to scanning open orders and then recent
 * closed ones.
 */
import * as ccxt from 'ccxt';
import type { Order } from '../../operators/types';
import { Closed } from './submitOutcome';

export type LookupResult =
  | { readonly kind: 'found'; readonly order: ccxt.Order }
  | { readonly kind: 'absent' }
  | { readonly kind: 'error'; readonly error: unknown };

/** One exchange call with the session's pauses and watchdog (throws what the call throws, or Closed). */
export type ExchangeCall = <T>(label: string, fn: () => Promise<T>) => Promise<T>;

/**
 * The exchange's view of one order. `found` with the order, `absent` when the exchange says it has
 * no such order, `error` when the lookup itself failed (try again later). Rethrows Closed.
 *
 * @param target the order, its exchange id when known, and when it was first sent (scan window).
 */
export async function lookupOrder(
  exchange: ccxt.Exchange,
  call: ExchangeCall,
  target: { readonly order: Order; readonly exchangeId: string | undefined; readonly sentAt: number },
): Promise<LookupResult> {
  const { symbol, clientOrderId } = target.order;
  try {
    const order = await call(`fetchOrder ${clientOrderId}`, () =>
      exchange.fetchOrder(target.exchangeId as string, symbol, { clientOrderId }),
    );
    if (
      order.clientOrderId !== undefined &&
      order.clientOrderId !== null &&
      order.clientOrderId !== clientOrderId &&
      target.exchangeId === undefined
    ) {
      // The exchange ignored the client id: scan instead.
      return await scanOrders(exchange, call, target);
    }
    return { kind: 'found', order };
  } catch (error) {
    if (error instanceof Closed) throw error;
    if (error instanceof ccxt.OrderNotFound) return { kind: 'absent' };
    if (error instanceof ccxt.NotSupported || error instanceof ccxt.ArgumentsRequired) {
      try {
        return await scanOrders(exchange, call, target);
      } catch (scanError) {
        if (scanError instanceof Closed) throw scanError;
        return { kind: 'error', error: scanError };
      }
    }
    return { kind: 'error', error };
  }
}

/** For exchanges that cannot look an order up by client id: open orders, then closed ones since a minute before it was sent. */
async function scanOrders(
  exchange: ccxt.Exchange,
  call: ExchangeCall,
  target: { readonly order: Order; readonly sentAt: number },
): Promise<LookupResult> {
  const { symbol, clientOrderId } = target.order;
  const open = await call(`fetchOpenOrders ${symbol}`, () => exchange.fetchOpenOrders(symbol));
  const hit = open.find((o) => o.clientOrderId === clientOrderId);
  if (hit) return { kind: 'found', order: hit };
  const since = target.sentAt - 60_000;
  const closed = exchange.has['fetchClosedOrders']
    ? await call(`fetchClosedOrders ${symbol}`, () => exchange.fetchClosedOrders(symbol, since))
    : exchange.has['fetchOrders']
      ? await call(`fetchOrders ${symbol}`, () => exchange.fetchOrders(symbol, since))
      : [];
  const done = closed.find((o) => o.clientOrderId === clientOrderId);
  return done ? { kind: 'found', order: done } : { kind: 'absent' };
}
