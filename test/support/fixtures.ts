/** Small builders of domain values for tests. */
import { mulberry32 } from '../../operators/random';
import { toUnits } from '../../operators/money';
import type { Bar, Instrument, Timeframe, TradeTick } from '../../operators/types';
import { timeframeMs } from '../../operators/types';

export const BTC_USDT: Instrument = {
  venue: 'binance',
  symbol: 'BTC/USDT',
  base: 'BTC',
  quote: 'USDT',
  qtyStep: toUnits('0.00001'),
  priceTick: 0.01,
  minQty: toUnits('0.00001'),
  minNotional: toUnits('5'),
};

export function bar(
  tsOpen: number,
  ohlcv: { o: number; h?: number; l?: number; c?: number; v?: number },
  timeframe: Timeframe = '1m',
  symbol = 'BTC/USDT',
): Bar {
  const close = ohlcv.c ?? ohlcv.o;
  return {
    kind: 'bar',
    venue: 'binance',
    symbol,
    timeframe,
    tsOpen,
    tsEvent: tsOpen + timeframeMs(timeframe),
    open: ohlcv.o,
    high: ohlcv.h ?? Math.max(ohlcv.o, close),
    low: ohlcv.l ?? Math.min(ohlcv.o, close),
    close,
    volume: ohlcv.v ?? 1,
    trades: 0,
  };
}

export function tick(
  tsEvent: number,
  price: number,
  qty = 1,
  tradeId = String(tsEvent),
  symbol = 'BTC/USDT',
  tsInit = 0,
): TradeTick {
  return { kind: 'trade', venue: 'binance', symbol, price, qty, side: 'buy', tradeId, tsEvent, tsInit };
}

/**
 * A deterministic random-walk of bars (geometric, with volatility clustering) for tests that need
 * realistic-looking data without reading files. Same seed → same bars.
 */
export function randomWalkBars(
  count: number,
  options: { seed?: number; start?: number; timeframe?: Timeframe; price?: number } = {},
): Bar[] {
  const timeframe = options.timeframe ?? '5m';
  const step = timeframeMs(timeframe);
  const random = mulberry32(options.seed ?? 42);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  let price = options.price ?? 20_000;
  let vol = 0.002;
  const start = options.start ?? Date.UTC(2024, 0, 1);
  const bars: Bar[] = [];
  for (let i = 0; i < count; i++) {
    vol = Math.min(0.02, Math.max(0.0005, 0.000002 + 0.9 * vol + 0.1 * Math.abs(gaussian()) * 0.002));
    const open = price;
    const close = Math.round(open * Math.exp(vol * gaussian()) * 100) / 100;
    const high = Math.round(Math.max(open, close) * (1 + Math.abs(gaussian()) * vol * 0.5) * 100) / 100;
    const low = Math.round(Math.min(open, close) * (1 - Math.abs(gaussian()) * vol * 0.5) * 100) / 100;
    const volume = Math.round((5 + random() * 50) * 1e5) / 1e5;
    bars.push({
      kind: 'bar',
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe,
      tsOpen: start + i * step,
      tsEvent: start + (i + 1) * step,
      open,
      high,
      low,
      close,
      volume,
      trades: 0,
    });
    price = close;
  }
  return bars;
}

import type { Features, Signal, Portfolio } from '../../operators/types';

/** A features event at bar `tsOpen` (1m) with the given values. */
export function features(tsOpen: number, values: Record<string, number | null>, close = 100): Features {
  const b = bar(tsOpen, { o: close });
  return { kind: 'features', bar: b, tsEvent: b.tsEvent, values };
}

/** A signal with defaults for the fields a test does not care about. */
export function signal(partial: Partial<Signal> & Pick<Signal, 'source'>): Signal {
  const tsEvent = partial.tsEvent ?? 60_000;
  return {
    kind: 'signal',
    id: `BTC/USDT:1m:${tsEvent}:${partial.source}`,
    symbol: 'BTC/USDT',
    timeframe: '1m',
    tsEvent,
    price: 100,
    direction: 0,
    strength: 0,
    confidence: 0,
    available: true,
    detail: {},
    ...partial,
  };
}

/** A flat portfolio with `cash` quote units, valued at that. */
export function cashPortfolio(cash: string, tsEvent = 0): Portfolio {
  const units = toUnits(cash);
  const equity = Number(cash);
  return {
    kind: 'portfolio',
    quote: 'USDT',
    initialCash: units,
    cash: units,
    positions: {},
    realizedPnl: 0n,
    feesPaid: 0n,
    equity,
    peakEquity: equity,
    drawdown: 0,
    tsEvent,
  };
}
