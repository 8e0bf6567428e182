import { equal } from 'node:assert/strict';
import { dustOf } from '../../operators/lotGrid';
import { toUnits } from '../../operators/money';
import { BTC_USDT } from '../support/fixtures';

describe('dustOf', () => {
  it('is the part off the lot grid when the rest is tradeable (Binance fee dust)', () => {
    equal(dustOf(toUnits('0.04964031'), BTC_USDT, 50_000), toUnits('0.00000031'));
    equal(dustOf(toUnits('-0.04964031'), BTC_USDT, 50_000), toUnits('-0.00000031'));
    equal(dustOf(toUnits('0.04964'), BTC_USDT, 50_000), 0n);
  });

  it('is the whole holding below the minimum quantity, or below the minimum notional at the price', () => {
    equal(dustOf(toUnits('0.00000984'), BTC_USDT), toUnits('0.00000984'));
    // 0.00009 BTC at 50,000 = 4.5 USDT < 5.
    equal(dustOf(toUnits('0.00009'), BTC_USDT, 50_000), toUnits('0.00009'));
    // Without a price only the quantity rules apply.
    equal(dustOf(toUnits('0.00009'), BTC_USDT), 0n);
    equal(dustOf(0n, BTC_USDT, 50_000), 0n);
  });
});
