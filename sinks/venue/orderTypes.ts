/**
 * Which order types an exchange takes natively (the rest is emulated: see emulatedStops.ts), and
 * OCO pairs sent as one Binance order list.
 */
import { createHash } from 'node:crypto';
import type * as ccxt from 'ccxt';
import type { Order } from '../../operators/types';
import { isRecord } from './config';

export interface Capabilities {
  readonly stop: boolean;
  readonly takeProfit: boolean;
  readonly trailing: boolean;
  readonly oco: boolean;
}

/** Two legs that go out as one Binance order list. */
export interface OcoPlan<T extends { readonly order: Order }> {
  readonly listClientOrderId: string;
  readonly above: T;
  readonly below: T;
}

/**
 * Which conditional orders an exchange takes natively for a market (the rest is emulated):
 * - stop-loss / take-profit: ccxt `features[type].createOrder.stopLossPrice / takeProfitPrice`
 *   (and, on Binance, the symbol's `orderTypes`);
 * - trailing stop: Binance spot only (`trailingDelta`, if the symbol allows trailing stops) — ccxt's
 *   generic `trailingPercent` means different things on different exchanges;
 * - OCO: Binance spot only (order lists), if the symbol allows OCO.
 */
export function nativeSupport(
  exchange: ccxt.Exchange,
  market: ccxt.MarketInterface,
  forceEmulation: readonly string[] = [],
): Capabilities {
  const type = market.spot ? 'spot' : market.swap ? 'swap' : market.future ? 'future' : 'spot';
  const features = exchange.features as unknown;
  const sub = market.linear ? 'linear' : market.inverse ? 'inverse' : undefined;
  const createOrder =
    type === 'spot' ? pick(features, 'spot', 'createOrder') : pick(features, type, sub ?? 'linear', 'createOrder');
  const info = isRecord(market.info) ? market.info : {};
  const binanceSpot = exchange.id === 'binance' && market.spot === true;
  const orderTypes = Array.isArray(info['orderTypes']) ? (info['orderTypes'] as unknown[]).map(String) : null;
  const allows = (t: string): boolean => !binanceSpot || orderTypes === null || orderTypes.includes(t);
  return {
    stop:
      !forceEmulation.includes('stop') &&
      pick(createOrder, 'stopLossPrice') === true &&
      allows('STOP_LOSS') &&
      allows('STOP_LOSS_LIMIT'),
    takeProfit:
      !forceEmulation.includes('take-profit') &&
      pick(createOrder, 'takeProfitPrice') === true &&
      allows('TAKE_PROFIT') &&
      allows('TAKE_PROFIT_LIMIT'),
    trailing:
      !forceEmulation.includes('trailing') && binanceSpot && info['allowTrailingStop'] !== false && allows('STOP_LOSS'),
    oco: !forceEmulation.includes('oco') && binanceSpot && info['ocoAllowed'] !== false,
  };
}

export const NO_NATIVE: Capabilities = { stop: false, takeProfit: false, trailing: false, oco: false };

/** Above/below role of an order in a Binance OCO list, or null if it cannot be a leg. */
export function ocoRole(order: Order): 'stop' | 'target' | null {
  switch (order.type) {
    case 'stop-market':
    case 'stop-limit':
    case 'trailing-stop':
      return 'stop';
    case 'limit':
    case 'take-profit-market':
    case 'take-profit-limit':
      return 'target';
    default:
      return null;
  }
}

export function ocoPlan<T extends { readonly order: Order }>(a: T, b: T): OcoPlan<T> | null {
  const x = a.order;
  const y = b.order;
  if (x.symbol !== y.symbol || x.side !== y.side || x.qty !== y.qty) return null;
  const roles = [ocoRole(x), ocoRole(y)];
  if (!roles.includes('stop') || !roles.includes('target')) return null;
  const stop = roles[0] === 'stop' ? a : b;
  const target = stop === a ? b : a;
  // SELL: the take-profit is above the market, the stop below; BUY: the other way round.
  const [above, below] = x.side === 'sell' ? [target, stop] : [stop, target];
  const digest = createHash('sha256')
    .update(x.ocoGroup ?? '')
    .update('\u0000')
    .update(above.order.clientOrderId)
    .update(below.order.clientOrderId)
    .digest('base64url');
  return { listClientOrderId: `b4L-${digest.slice(0, 24)}`, above, below };
}

export function binanceListType(order: Order): string {
  switch (order.type) {
    case 'limit':
      return 'LIMIT_MAKER';
    case 'take-profit-market':
      return 'TAKE_PROFIT';
    case 'take-profit-limit':
      return 'TAKE_PROFIT_LIMIT';
    case 'stop-market':
    case 'trailing-stop':
      return 'STOP_LOSS';
    case 'stop-limit':
      return 'STOP_LOSS_LIMIT';
    default:
      return 'MARKET';
  }
}

export function pick(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}
