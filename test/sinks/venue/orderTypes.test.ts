import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import * as ccxt from 'ccxt';
import { toUnits } from '../../../operators/money';
import type { Order } from '../../../operators/types';
import { emulationFor, triggerOf, triggerPrice, type Emulation } from '../../../sinks/venue/emulatedStops';
import { NO_NATIVE, binanceListType, nativeSupport, ocoPlan } from '../../../sinks/venue/orderTypes';

function order(partial: Partial<Order>): Order {
  return {
    kind: 'order',
    clientOrderId: 'c',
    intentId: 'i',
    signalId: 's',
    symbol: 'BTC/USDT',
    side: 'sell',
    type: 'market',
    qty: toUnits('0.1'),
    refPrice: 100,
    reducesRisk: true,
    configHash: 'h',
    tsEvent: 0,
    ...partial,
  };
}

describe('venue order types', () => {
  it('triggers an emulated sell stop when the low reaches it, a take-profit when the high does, a touch limit at its price', () => {
    const stop = order({ type: 'stop-market', stopPrice: 95 });
    equal(triggerPrice(stop, { kind: 'stop', ref: null }, 96, 99), null);
    equal(triggerPrice(stop, { kind: 'stop', ref: null }, 94, 99), 95);
    const tp = order({ type: 'take-profit-market', stopPrice: 110 });
    equal(triggerPrice(tp, { kind: 'take-profit', ref: null }, 100, 109), null);
    equal(triggerPrice(tp, { kind: 'take-profit', ref: null }, 100, 111), 110);
    const buyLimit = order({ side: 'buy', type: 'limit', limitPrice: 90 });
    equal(triggerPrice(buyLimit, { kind: 'touch', ref: null }, 89, 95), 90);
  });

  it('trails a sell stop below the best high so far, checking before moving the reference', () => {
    const trailing = order({ type: 'trailing-stop', trailingBps: 500 }); // 5 %
    const emulation: Emulation = { kind: 'trailing', ref: null };
    equal(triggerPrice(trailing, emulation, 99, 120), null); // level 95 from refPrice 100; best high now 120
    equal(emulation.ref, 120);
    equal(triggerPrice(trailing, emulation, 115, 118), null); // level 114
    equal(triggerPrice(trailing, emulation, 113, 118), 114);
  });

  it('triggers only on its own symbol and on prices from after the order (no lookahead), sent as market or limit by type', () => {
    const stop = order({ type: 'stop-limit', stopPrice: 95, limitPrice: 94, tsEvent: 60_000 });
    const bar = (tsOpen: number, symbol = 'BTC/USDT') =>
      ({ kind: 'bar', symbol, tsOpen, tsEvent: tsOpen + 60_000, open: 100, high: 100, low: 90, close: 92 }) as never;
    equal(triggerOf(stop, { kind: 'stop', ref: null }, bar(0)), null, 'the bar opened before the order');
    equal(triggerOf(stop, { kind: 'stop', ref: null }, bar(60_000, 'ETH/USDT')), null);
    deepStrictEqual(triggerOf(stop, { kind: 'stop', ref: null }, bar(60_000)), { at: 95, sendAs: 'limit' });
    const market = order({ type: 'stop-market', stopPrice: 95, tsEvent: 0 });
    deepStrictEqual(
      triggerOf(market, { kind: 'stop', ref: null }, {
        kind: 'trade',
        symbol: 'BTC/USDT',
        price: 94.5,
        tsEvent: 1,
      } as never),
      { at: 95, sendAs: 'market' },
    );
  });

  it('emulates what the exchange lacks; only an OCO leg limit is held', () => {
    equal(emulationFor(order({ type: 'market' }), NO_NATIVE), null);
    deepStrictEqual(emulationFor(order({ type: 'stop-limit', stopPrice: 1, limitPrice: 1 }), NO_NATIVE), {
      kind: 'stop',
      ref: null,
    });
    equal(emulationFor(order({ type: 'stop-market', stopPrice: 1 }), { ...NO_NATIVE, stop: true }), null);
    equal(emulationFor(order({ type: 'limit', limitPrice: 1 }), { ...NO_NATIVE, stop: true }), null);
  });

  it('pairs a stop and a take-profit of the same symbol, side and qty into one order list with a deterministic id', () => {
    const stop = { order: order({ clientOrderId: 'a', type: 'stop-market', stopPrice: 95, ocoGroup: 'g' }) };
    const target = {
      order: order({ clientOrderId: 'b', type: 'take-profit-limit', stopPrice: 110, limitPrice: 110, ocoGroup: 'g' }),
    };
    const plan = ocoPlan(stop, target);
    ok(plan);
    equal(plan.above, target, 'a sell take-profit is above the market');
    equal(plan.below, stop);
    equal(plan.listClientOrderId, ocoPlan(target, stop)?.listClientOrderId);
    ok(/^b4L-[A-Za-z0-9_-]{24}$/.test(plan.listClientOrderId));
    equal(ocoPlan(stop, { order: { ...target.order, qty: toUnits('0.2') } }), null);
    deepStrictEqual([stop.order, target.order, order({ type: 'limit', limitPrice: 1 })].map(binanceListType), [
      'STOP_LOSS',
      'TAKE_PROFIT_LIMIT',
      'LIMIT_MAKER',
    ]);
  });

  it('reads native support from ccxt features and the Binance symbol, and forced emulation wins', () => {
    const exchange = new ccxt.binance();
    const market = {
      symbol: 'BTC/USDT',
      spot: true,
      info: {
        orderTypes: ['LIMIT', 'MARKET', 'STOP_LOSS', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT', 'TAKE_PROFIT_LIMIT'],
        ocoAllowed: true,
      },
    } as unknown as ccxt.MarketInterface;
    deepStrictEqual(nativeSupport(exchange, market), { stop: true, takeProfit: true, trailing: true, oco: true });
    deepStrictEqual(nativeSupport(exchange, market, ['stop', 'oco']), {
      stop: false,
      takeProfit: true,
      trailing: true,
      oco: false,
    });
  });
});
