/**
 * How an order goes out through ccxt: one `createOrder` with the order's client order id (ccxt's
 * unified `clientOrderId` → Binance `newClientOrderId`) and the unified parameters of its type, or
 * one Binance order list for a native OCO pair. No retries here: the session decides what a
 * failure means (see submitOutcome.ts).
 */
import * as ccxt from 'ccxt';
import { unitsToNumber } from '../../operators/money';
import type { Order, OrderType } from '../../operators/types';
import { isRecord } from './config';
import { binanceListType, type OcoPlan } from './orderTypes';

/**
 * Places one order. `sendAs` is how a triggered emulated order goes out (market, or limit for the
 * `*-limit` types); null sends the order as its own type — stops and take-profits as ccxt's
 * `stopLossPrice` / `takeProfitPrice`, a trailing stop as Binance's trailingDelta.
 */
export function sendOrder(exchange: ccxt.Exchange, o: Order, sendAs: 'market' | 'limit' | null): Promise<ccxt.Order> {
  const amount = unitsToNumber(o.qty);
  const params: Record<string, unknown> = { clientOrderId: o.clientOrderId };
  const tif = o.timeInForce ?? 'GTC';
  const kind: OrderType | 'market' | 'limit' = sendAs ?? o.type;
  switch (kind) {
    case 'market':
      return exchange.createOrder(o.symbol, 'market', o.side, amount, undefined, params);
    case 'limit':
      return exchange.createOrder(o.symbol, 'limit', o.side, amount, o.limitPrice, {
        ...params,
        timeInForce: tif,
      });
    case 'stop-market':
      return exchange.createOrder(o.symbol, 'market', o.side, amount, undefined, {
        ...params,
        stopLossPrice: o.stopPrice,
      });
    case 'stop-limit':
      return exchange.createOrder(o.symbol, 'limit', o.side, amount, o.limitPrice, {
        ...params,
        stopLossPrice: o.stopPrice,
        timeInForce: tif,
      });
    case 'take-profit-market':
      return exchange.createOrder(o.symbol, 'market', o.side, amount, undefined, {
        ...params,
        takeProfitPrice: o.stopPrice,
      });
    case 'take-profit-limit':
      return exchange.createOrder(o.symbol, 'limit', o.side, amount, o.limitPrice, {
        ...params,
        takeProfitPrice: o.stopPrice,
        timeInForce: tif,
      });
    case 'trailing-stop':
      // Binance spot: STOP_LOSS with trailingDelta (BIPS); without an activation price it trails from now.
      return exchange.createOrder(o.symbol, 'market', o.side, amount, undefined, {
        ...params,
        trailingPercent: (o.trailingBps ?? 0) / 100,
        stopLossOrTakeProfit: 'stopLoss',
      });
  }
}

/** Binance spot OCO: one order list, `POST /api/v3/orderList/oco` (ccxt's implicit API), with each leg's client id. */
export async function sendOrderList<T extends { readonly order: Order }>(
  exchange: ccxt.Exchange,
  plan: OcoPlan<T>,
): Promise<ccxt.Order[]> {
  const { above, below } = plan;
  const symbol = above.order.symbol;
  const market = exchange.market(symbol);
  const request: Record<string, unknown> = {
    symbol: market['id'],
    listClientOrderId: plan.listClientOrderId,
    side: above.order.side.toUpperCase(),
    quantity: exchange.amountToPrecision(symbol, unitsToNumber(above.order.qty)),
    newOrderRespType: 'FULL',
  };
  for (const [prefix, leg] of [
    ['above', above],
    ['below', below],
  ] as const) {
    const o = leg.order;
    request[`${prefix}ClientOrderId`] = o.clientOrderId;
    request[`${prefix}Type`] = binanceListType(o);
    if (o.type === 'limit' || o.type === 'stop-limit' || o.type === 'take-profit-limit') {
      request[`${prefix}Price`] = exchange.priceToPrecision(symbol, o.limitPrice!);
    }
    if (o.type === 'stop-limit' || o.type === 'take-profit-limit')
      request[`${prefix}TimeInForce`] = o.timeInForce ?? 'GTC';
    if (o.stopPrice !== undefined && o.type !== 'limit' && o.type !== 'trailing-stop') {
      request[`${prefix}StopPrice`] = exchange.priceToPrecision(symbol, o.stopPrice);
    }
    if (o.type === 'trailing-stop') request[`${prefix}TrailingDelta`] = Math.round(o.trailingBps ?? 0);
  }
  const call = (exchange as unknown as Record<string, (request: Record<string, unknown>) => Promise<unknown>>)[
    'privatePostOrderListOco'
  ];
  if (typeof call !== 'function') throw new ccxt.NotSupported(`${exchange.id} has no order-list OCO endpoint`);
  const response = await call.call(exchange, request);
  const reports = isRecord(response) && Array.isArray(response['orderReports']) ? response['orderReports'] : [];
  return reports.map((report) => exchange.parseOrder(report as Record<string, unknown>, market));
}
