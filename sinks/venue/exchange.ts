/**
 * The ccxt exchange instance the venue talks through, and how its answers become ours: created
 * with ccxt's retries off and the REST hosts redirected when asked, disposed without waiting for
 * a body that never completes; markets as {@link Instrument}s, open orders as {@link VenueOpenOrder}s.
 */
import * as ccxt from 'ccxt';
import { notionalOf, toUnits, type Units } from '../../operators/money';
import type { Instrument } from '../../operators/types';
import { CcxtVenueError, isRecord, type CcxtVenueSettings } from './config';
import type { VenueOpenOrder } from './events';

export function instrumentOf(exchange: ccxt.Exchange, market: ccxt.MarketInterface): Instrument {
  const step = (value: number | undefined): number | undefined => {
    if (value === undefined || value === null) return undefined;
    // ccxt precision modes: 2 decimal places, 3 significant digits, 4 tick size.
    if (exchange.precisionMode === 4) return value;
    if (exchange.precisionMode === 2) return 10 ** -value;
    return undefined;
  };
  const qtyStep = step(market.precision.amount) ?? 1e-8;
  const priceTick = step(market.precision.price) ?? 1e-8;
  return {
    venue: exchange.id,
    symbol: market.symbol,
    base: market.base,
    quote: market.quote,
    qtyStep: toUnits(qtyStep),
    priceTick,
    minQty: toUnits(market.limits.amount?.min ?? qtyStep),
    minNotional: toUnits(market.limits.cost?.min ?? 0),
  };
}

export function openOrderOf(o: ccxt.Order, symbol: string): VenueOpenOrder {
  const info = isRecord(o.info) ? o.info : {};
  const nativeType = typeof info['type'] === 'string' ? ` (${info['type']})` : '';
  return {
    clientOrderId: o.clientOrderId ?? '',
    exchangeOrderId: o.id ?? '',
    symbol: o.symbol ?? symbol,
    side: o.side === 'sell' ? 'sell' : 'buy',
    type: `${o.type ?? 'unknown'}${nativeType}`,
    qty: toUnits(o.amount ?? 0),
    filledQty: toUnits(o.filled ?? 0),
    price: o.price ?? null,
    stopPrice: o.triggerPrice ?? o.stopPrice ?? null,
    tsEvent: o.timestamp ?? 0,
  };
}

/** Orders exchange ids numerically when both are numbers (Binance trade ids), else as text. */
export function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

type ExchangeConstructor = new (config: Record<string, unknown>) => ccxt.Exchange;

export function createExchange(settings: CcxtVenueSettings): ccxt.Exchange {
  const Ctor = (ccxt as unknown as Record<string, unknown>)[settings.exchange];
  if (typeof Ctor !== 'function')
    throw new CcxtVenueError('INVALID_CONFIG', `no ccxt class for exchange ${JSON.stringify(settings.exchange)}`);
  const exchange = new (Ctor as ExchangeConstructor)({
    apiKey: settings.apiKey,
    secret: settings.secret,
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.uid !== undefined ? { uid: settings.uid } : {}),
    enableRateLimit: settings.enableRateLimit,
    timeout: settings.timeoutMs,
    verbose: false,
  });
  if (settings.sandbox) exchange.setSandboxMode(true);
  const options = exchange.options as Record<string, unknown>;
  Object.assign(options, settings.ccxtOptions, {
    // Only this venue decides whether a request is sent again.
    maxRetriesOnFailure: 0,
    recvWindow: settings.recvWindowMs,
    warnOnFetchOpenOrdersWithoutSymbol: false,
  });
  if (settings.symbols.every((s) => !s.includes(':'))) {
    const fetchMarkets = options['fetchMarkets'];
    if (
      isRecord(fetchMarkets) &&
      Array.isArray(fetchMarkets['types']) &&
      fetchMarkets['types'].includes('spot') &&
      !isRecord(settings.ccxtOptions['fetchMarkets'])
    ) {
      options['fetchMarkets'] = { ...fetchMarkets, types: ['spot'] };
    }
    options['defaultType'] = 'spot';
    // Spot only: Binance would otherwise also load margin pairs (a signed sapi request) with the markets.
    if (!('fetchMargins' in settings.ccxtOptions)) options['fetchMargins'] = false;
  }
  if (settings.apiUrl !== undefined) redirectRestApi(exchange.urls['api'], settings.apiUrl);
  return exchange;
}

/** Points every `https://host` REST URL of ccxt's `urls.api` at `baseUrl`, keeping the path. */
function redirectRestApi(api: unknown, baseUrl: string): void {
  if (!isRecord(api)) return;
  for (const [key, value] of Object.entries(api)) {
    if (typeof value === 'string') {
      const match = /^https:\/\/([^/]+)/.exec(value);
      if (match) api[key] = baseUrl + value.slice(match[0].length);
    } else {
      redirectRestApi(value, baseUrl);
    }
  }
}

/**
 * Closes WebSocket clients and destroys ccxt's keep-alive dispatcher. Destroy, not close: a request
 * whose body never completes would keep a graceful close waiting forever; after unsubscribe no one
 * wants its answer, and an order it carried is found by the next start-up reconciliation.
 */
export function disposeExchange(exchange: ccxt.Exchange): void {
  exchange.close().catch(() => undefined);
  const dispatcher: unknown = exchange.fetchDispatcher;
  if (isRecord(dispatcher) && typeof dispatcher['destroy'] === 'function') {
    (dispatcher['destroy'] as () => Promise<void>).call(dispatcher).catch(() => undefined);
  }
}

/** A trade's fee in quote: as charged when in quote, at the trade price when in base, 0 otherwise (BNB…). */
export function feeInQuote(
  instrument: Instrument | undefined,
  fee: ccxt.Trade['fee'] | undefined,
  price: Units,
): Units {
  if (!fee || fee.cost === undefined || fee.cost === null) return 0n;
  const cost = toUnits(fee.cost);
  if (!instrument || fee.currency === instrument.quote) return cost;
  if (fee.currency === instrument.base) return notionalOf(cost, price);
  return 0n;
}

/** The base quantity withheld when the fee was taken in the base asset (Binance buys): the holding is that much less. */
export function feeInBase(instrument: Instrument | undefined, fee: ccxt.Trade['fee'] | undefined): { feeBase?: Units } {
  if (!fee || fee.cost === undefined || fee.cost === null) return {};
  return instrument && fee.currency === instrument.base && fee.currency !== instrument.quote
    ? { feeBase: toUnits(fee.cost) }
    : {};
}
