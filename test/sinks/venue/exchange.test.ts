import { deepStrictEqual, equal } from 'node:assert/strict';
import * as ccxt from 'ccxt';
import { toUnits } from '../../../operators/money';
import { parseCcxtVenueConfig } from '../../../sinks/venue/config';
import { compareIds, createExchange, disposeExchange, instrumentOf, openOrderOf } from '../../../sinks/venue/exchange';

describe('venue exchange', () => {
  it('reads the lot grid and minimums from a market (tick-size precision)', () => {
    const exchange = new ccxt.binance();
    const market = {
      symbol: 'BTC/USDT',
      base: 'BTC',
      quote: 'USDT',
      precision: { amount: 0.00001, price: 0.01 },
      limits: { amount: { min: 0.00001 }, cost: { min: 5 } },
    } as unknown as ccxt.MarketInterface;
    deepStrictEqual(instrumentOf(exchange, market), {
      venue: 'binance',
      symbol: 'BTC/USDT',
      base: 'BTC',
      quote: 'USDT',
      qtyStep: toUnits('0.00001'),
      priceTick: 0.01,
      minQty: toUnits('0.00001'),
      minNotional: toUnits('5'),
    });
  });

  it('views an open order with its native type, and sorts numeric ids as numbers', () => {
    const view = openOrderOf(
      {
        id: '12',
        clientOrderId: 'b4-x',
        symbol: 'BTC/USDT',
        side: 'sell',
        type: 'limit',
        amount: 0.5,
        filled: 0.1,
        price: 101,
        triggerPrice: 100,
        timestamp: 7,
        info: { type: 'STOP_LOSS_LIMIT' },
      } as unknown as ccxt.Order,
      'BTC/USDT',
    );
    deepStrictEqual(view, {
      clientOrderId: 'b4-x',
      exchangeOrderId: '12',
      symbol: 'BTC/USDT',
      side: 'sell',
      type: 'limit (STOP_LOSS_LIMIT)',
      qty: toUnits('0.5'),
      filledQty: toUnits('0.1'),
      price: 101,
      stopPrice: 100,
      tsEvent: 7,
    });
    deepStrictEqual(['10', '9', '100'].sort(compareIds), ['9', '10', '100']);
  });

  it('creates the exchange with ccxt retries off, the recvWindow set and every REST host redirected', () => {
    const exchange = createExchange(
      parseCcxtVenueConfig({
        exchange: 'binance',
        apiKey: 'k-123456',
        secret: 's-123456',
        symbols: ['BTC/USDT'],
        apiUrl: 'http://127.0.0.1:9/',
        recvWindowMs: 3_000,
      }),
    );
    try {
      const options = exchange.options as Record<string, unknown>;
      equal(options['maxRetriesOnFailure'], 0);
      equal(options['recvWindow'], 3_000);
      equal(exchange.verbose, false);
      const api = exchange.urls['api'] as Record<string, unknown>;
      equal(api['private'], 'http://127.0.0.1:9/api/v3');
      equal(api['public'], 'http://127.0.0.1:9/api/v3');
    } finally {
      disposeExchange(exchange);
    }
  });
});
