import { deepStrictEqual, equal, match } from 'node:assert/strict';
import * as ccxt from 'ccxt';
import { toUnits } from '../../../operators/money';
import { recoverFills, type UnsettledOrder } from '../../../sinks/venue/recoverFills';
import { BTC_USDT } from '../../support/fixtures';

const instruments = new Map([['BTC/USDT', BTC_USDT]]);
const call = <T>(_label: string, fn: () => Promise<T>): Promise<T> => fn();

function exchangeWith(order: Partial<ccxt.Order> | null, trades: Partial<ccxt.Trade>[] | Error): ccxt.Exchange {
  return {
    has: { fetchOrderTrades: true },
    fetchOrder: async () => {
      if (order === null) throw new ccxt.OrderNotFound('Order does not exist.');
      return order;
    },
    fetchOrderTrades: async () => {
      if (trades instanceof Error) throw trades;
      return trades;
    },
  } as unknown as ccxt.Exchange;
}

const unsettled = (filled: string): UnsettledOrder => ({
  clientOrderId: 'b4-1',
  signalId: 'sig-1',
  symbol: 'BTC/USDT',
  side: 'buy',
  filled: toUnits(filled),
  sentAt: 1_000,
});

describe('recoverFills', () => {
  it('returns only what the journal does not hold: a trade it holds in part comes back for the rest, its fee pro rata', async () => {
    const exchange = exchangeWith({ id: '9', clientOrderId: 'b4-1', amount: 0.01, filled: 0.01, status: 'closed' }, [
      { id: 't2', order: '9', amount: 0.006, price: 20_000, timestamp: 2, fee: { cost: 0.000006, currency: 'BTC' } },
      { id: 't1', order: '9', amount: 0.004, price: 20_000, timestamp: 1, fee: { cost: 0.000004, currency: 'BTC' } },
    ]);
    const r = await recoverFills(exchange, call, instruments, [unsettled('0.005')]);
    deepStrictEqual(
      r.fills.map((f) => [f.qty, f.feeBase, f.fee, f.leavesQty, f.signalId, f.tsEvent]),
      // t1 is held whole, t2 in part (0.001 of its 0.006): 0.005 comes back, the fee of that part.
      [[toUnits('0.005'), toUnits('0.000005'), toUnits('0.1'), 0n, 'sig-1', 2]],
    );
    deepStrictEqual(r.tradeIds, ['t2']);
    match(r.notes[0]!.message, /0\.005 bought while no session watched/);
  });

  it('an order fully journaled, one never placed, and one whose trades cannot be read: no fills, and the last is a warning', async () => {
    const done = await recoverFills(
      exchangeWith({ id: '9', clientOrderId: 'b4-1', amount: 0.01, filled: 0.01 }, []),
      call,
      instruments,
      [unsettled('0.01')],
    );
    deepStrictEqual([done.fills, done.notes], [[], []]);
    const absent = await recoverFills(exchangeWith(null, []), call, instruments, [unsettled('0')]);
    deepStrictEqual(
      absent.notes.map((n) => n.level),
      ['info'],
    );
    const unreadable = await recoverFills(
      exchangeWith({ id: '9', clientOrderId: 'b4-1', amount: 0.01, filled: 0.01 }, new Error('503 overloaded')),
      call,
      instruments,
      [unsettled('0')],
    );
    equal(unreadable.fills.length, 0);
    equal(unreadable.notes[0]!.level, 'warning');
    match(unreadable.notes[0]!.message, /trades could not be read \(503 overloaded\)/);
  });
});
