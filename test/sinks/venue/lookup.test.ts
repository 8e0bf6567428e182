import { deepStrictEqual, equal, rejects } from 'node:assert/strict';
import * as ccxt from 'ccxt';
import { toUnits } from '../../../operators/money';
import type { Order } from '../../../operators/types';
import { lookupOrder } from '../../../sinks/venue/lookup';
import { Closed } from '../../../sinks/venue/submitOutcome';

const order = { kind: 'order', clientOrderId: 'b4-x', symbol: 'BTC/USDT', qty: toUnits('0.001') } as unknown as Order;
const direct = <T>(_label: string, fn: () => Promise<T>): Promise<T> => fn();

function exchange(overrides: Record<string, unknown>): ccxt.Exchange {
  return {
    has: { fetchClosedOrders: true },
    fetchOpenOrders: async () => [],
    fetchClosedOrders: async () => [],
    ...overrides,
  } as unknown as ccxt.Exchange;
}

describe('lookupOrder', () => {
  it('finds an order by client order id, and says absent when the exchange has no such order', async () => {
    const found = await lookupOrder(
      exchange({ fetchOrder: async () => ({ id: '1', clientOrderId: 'b4-x', status: 'closed' }) }),
      direct,
      { order, exchangeId: undefined, sentAt: 0 },
    );
    deepStrictEqual(found.kind === 'found' && [found.order.id, found.order.status], ['1', 'closed']);
    const absent = await lookupOrder(
      exchange({
        fetchOrder: async () => {
          throw new ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}');
        },
      }),
      direct,
      { order, exchangeId: undefined, sentAt: 0 },
    );
    equal(absent.kind, 'absent');
  });

  it('scans open, then closed orders where the exchange cannot look up by client id, or ignored it', async () => {
    const asked: string[] = [];
    const result = await lookupOrder(
      exchange({
        fetchOrder: async () => {
          throw new ccxt.NotSupported('no fetchOrder by client id');
        },
        fetchOpenOrders: async () => {
          asked.push('open');
          return [{ id: '2', clientOrderId: 'other' }];
        },
        fetchClosedOrders: async (_symbol: string, since: number) => {
          asked.push(`closed since ${since}`);
          return [{ id: '3', clientOrderId: 'b4-x' }];
        },
      }),
      direct,
      { order, exchangeId: undefined, sentAt: 100_000 },
    );
    deepStrictEqual(result.kind === 'found' && result.order.id, '3');
    deepStrictEqual(asked, ['open', 'closed since 40000']);
    const ignored = await lookupOrder(
      exchange({ fetchOrder: async () => ({ id: '9', clientOrderId: 'someone-else' }) }),
      direct,
      { order, exchangeId: undefined, sentAt: 0 },
    );
    equal(ignored.kind, 'absent');
  });

  it('reports a failed lookup as an error to retry, and lets Closed through', async () => {
    const failed = await lookupOrder(
      exchange({
        fetchOrder: async () => {
          throw new ccxt.NetworkError('reset');
        },
      }),
      direct,
      { order, exchangeId: undefined, sentAt: 0 },
    );
    equal(failed.kind, 'error');
    await rejects(
      lookupOrder(
        exchange({
          fetchOrder: async () => {
            throw new Closed();
          },
        }),
        direct,
        { order, exchangeId: undefined, sentAt: 0 },
      ),
      Closed,
    );
  });
});
