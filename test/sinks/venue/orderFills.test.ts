import { deepStrictEqual, equal } from 'node:assert/strict';
import type * as ccxt from 'ccxt';
import { toUnits } from '../../../operators/money';
import type { Order } from '../../../operators/types';
import { derivedFill, fillsFromTrades, type FillState } from '../../../sinks/venue/orderFills';
import { BTC_USDT } from '../../support/fixtures';

const order: Order = {
  kind: 'order',
  clientOrderId: 'b4-1',
  intentId: 'i',
  signalId: 's',
  symbol: 'BTC/USDT',
  side: 'buy',
  type: 'limit',
  qty: toUnits('0.01'),
  limitPrice: 20_000,
  refPrice: 20_000,
  reducesRisk: false,
  configHash: 'h',
  tsEvent: 0,
};

const trade = (id: string, amount: number | undefined, timestamp: number, fee?: ccxt.Trade['fee']): ccxt.Trade =>
  ({ id, amount, price: 20_000, timestamp, takerOrMaker: 'maker', ...(fee ? { fee } : {}) }) as unknown as ccxt.Trade;

describe('orderFills', () => {
  it('new trades only, oldest first, each with the leavesQty after it; a fee in BTC is kept as feeBase and valued in quote', () => {
    const t: FillState = { order, filled: toUnits('0.004'), seenTrades: new Set(['t1']) };
    const found = fillsFromTrades(
      t,
      [
        trade('t1', 0.004, 1),
        trade('t3', 0.002, 3, { cost: 0.000002, currency: 'BTC' }),
        trade('t2', 0.004, 2, { cost: 0.08, currency: 'USDT' }),
      ],
      BTC_USDT,
      99,
    );
    deepStrictEqual(
      found.fills.map((f) => [f.qty, f.leavesQty, f.fee, f.feeBase, f.liquidity, f.tsEvent]),
      [
        [toUnits('0.004'), toUnits('0.002'), toUnits('0.08'), undefined, 'maker', 2],
        [toUnits('0.002'), 0n, toUnits('0.04'), toUnits('0.000002'), 'maker', 3],
      ],
    );
    deepStrictEqual(found.tradeIds, ['t2', 't3']);
    equal(t.filled, toUnits('0.01'));
    deepStrictEqual(fillsFromTrades(t, [trade('t2', 0.004, 2)], BTC_USDT, 99).fills, [], 'nothing reported twice');
  });

  it('a trade beyond the order is reported up to it, with the reason; one without an amount is skipped but seen', () => {
    const t: FillState = { order, filled: toUnits('0.009'), seenTrades: new Set() };
    const found = fillsFromTrades(t, [trade('a', undefined, 1), trade('b', 0.005, 2)], BTC_USDT, 0);
    deepStrictEqual(
      found.fills.map((f) => [f.qty, f.leavesQty]),
      [[toUnits('0.001'), 0n]],
    );
    deepStrictEqual(found.tradeIds, ['a', 'b']);
    deepStrictEqual(found.adjusted, ["b4-1: trade b of 0.005 exceeds the order's open quantity; reported as 0.001"]);
  });

  it('without trades: one fill up to the exchange figure at the average price, never beyond the order', () => {
    const t: FillState = { order, filled: toUnits('0.004'), seenTrades: new Set() };
    const f = derivedFill(t, { average: 20_100, lastTradeTimestamp: 5 } as ccxt.Order, toUnits('0.02'), 0)!;
    deepStrictEqual([f.qty, f.leavesQty, f.price, f.fee, f.tsEvent], [toUnits('0.006'), 0n, toUnits('20100'), 0n, 5]);
    equal(derivedFill(t, {} as ccxt.Order, toUnits('0.02'), 0), null);
  });
});
