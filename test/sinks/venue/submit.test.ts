import { deepStrictEqual } from 'node:assert/strict';
import type * as ccxt from 'ccxt';
import { toUnits } from '../../../operators/money';
import type { Order } from '../../../operators/types';
import { sendOrder } from '../../../sinks/venue/submit';

function order(partial: Partial<Order>): Order {
  return {
    kind: 'order',
    clientOrderId: 'b4-x',
    intentId: 'i',
    signalId: 's',
    symbol: 'BTC/USDT',
    side: 'sell',
    type: 'market',
    qty: toUnits('0.04964'),
    refPrice: 100,
    reducesRisk: true,
    configHash: 'h',
    tsEvent: 0,
    ...partial,
  };
}

describe('sendOrder', () => {
  it('maps each order type to ccxt unified createOrder parameters, always with the client order id', async () => {
    const calls: unknown[][] = [];
    const exchange = {
      createOrder: async (...args: unknown[]) => {
        calls.push(args);
        return {} as ccxt.Order;
      },
    } as unknown as ccxt.Exchange;
    await sendOrder(exchange, order({}), null);
    await sendOrder(exchange, order({ type: 'stop-limit', stopPrice: 95, limitPrice: 94 }), null);
    await sendOrder(exchange, order({ type: 'take-profit-market', stopPrice: 110 }), null);
    await sendOrder(exchange, order({ type: 'trailing-stop', trailingBps: 150 }), null);
    // A triggered emulated stop-limit goes out as a plain limit order.
    await sendOrder(
      exchange,
      order({ type: 'stop-limit', stopPrice: 95, limitPrice: 94, timeInForce: 'IOC' }),
      'limit',
    );
    deepStrictEqual(calls, [
      ['BTC/USDT', 'market', 'sell', 0.04964, undefined, { clientOrderId: 'b4-x' }],
      ['BTC/USDT', 'limit', 'sell', 0.04964, 94, { clientOrderId: 'b4-x', stopLossPrice: 95, timeInForce: 'GTC' }],
      ['BTC/USDT', 'market', 'sell', 0.04964, undefined, { clientOrderId: 'b4-x', takeProfitPrice: 110 }],
      [
        'BTC/USDT',
        'market',
        'sell',
        0.04964,
        undefined,
        { clientOrderId: 'b4-x', trailingPercent: 1.5, stopLossOrTakeProfit: 'stopLoss' },
      ],
      ['BTC/USDT', 'limit', 'sell', 0.04964, 94, { clientOrderId: 'b4-x', timeInForce: 'IOC' }],
    ]);
  });
});
