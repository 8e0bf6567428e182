import { deepStrictEqual, equal } from 'node:assert/strict';
import { toUnits } from '../../../operators/money';
import type { Fill } from '../../../operators/types';
import { AccountLedger } from '../../../sinks/venue/account';
import { BTC_USDT } from '../../support/fixtures';

function fill(side: 'buy' | 'sell', qty: string, feeBase?: string): Fill {
  const q = toUnits(qty);
  return {
    kind: 'fill',
    clientOrderId: 'c',
    signalId: 's',
    symbol: 'BTC/USDT',
    side,
    qty: q,
    price: toUnits('50000'),
    notional: 0n,
    fee: 0n,
    ...(feeBase !== undefined ? { feeBase: toUnits(feeBase) } : {}),
    liquidity: 'taker',
    leavesQty: 0n,
    tsEvent: 0,
  };
}

describe('AccountLedger', () => {
  const ledger = (): AccountLedger => new AccountLedger(new Map([['BTC/USDT', BTC_USDT]]));

  it('explains trades: known at start or reported, or belonging to an order of this session; the rest is unexplained', () => {
    const l = ledger();
    l.start('BTC/USDT', 0n, 1_000);
    l.knownAtStart('BTC/USDT', 't1', 2_000);
    equal(l.since('BTC/USDT'), 2_000);
    l.ours('o7');
    l.filled(fill('buy', '0.1'), 't2');
    deepStrictEqual(
      [
        l.verdict('t1', 'o1'),
        l.verdict('t2', 'o2'),
        l.verdict('t3', 'o7'),
        l.verdict('t4', 'o9'),
        l.verdict('t5', null),
      ],
      ['known', 'known', 'ours', 'unexplained', 'unexplained'],
    );
  });

  it('remembers adopted trades for the order that later claims their client id', () => {
    const l = ledger();
    l.adopted('b4-x', 't1', toUnits('0.001'));
    l.adopted('b4-x', 't2', toUnits('0.002'));
    const claim = l.claim('b4-x')!;
    deepStrictEqual([...claim.tradeIds], ['t1', 't2']);
    equal(claim.qty, toUnits('0.003'));
    equal(l.claim('b4-y'), undefined);
  });

  it('flags a balance drift only when idle and seen twice alike; fills (net of base fees) move the expectation', () => {
    const l = ledger();
    l.start('BTC/USDT', toUnits('0.5'), 0);
    l.filled(fill('buy', '0.04969', '0.00004969'), 't1');
    equal(l.balance('BTC/USDT', toUnits('0.54964031'), true), null, 'as expected');
    equal(l.balance('BTC/USDT', toUnits('0.6'), true), null, 'seen once: suspected only');
    deepStrictEqual(l.balance('BTC/USDT', toUnits('0.6'), true), {
      symbol: 'BTC/USDT',
      expected: toUnits('0.54964031'),
      found: toUnits('0.6'),
    });
    equal(l.balance('BTC/USDT', toUnits('0.6'), true), null, 'adopted as the new expectation');
    equal(l.balance('BTC/USDT', toUnits('0.7'), false), null);
    equal(l.balance('BTC/USDT', toUnits('0.7'), false), null, 'never while orders are in flight');
  });

  it('reconciles the quote asset too: buys pay notional (+ a fee in quote), sells receive notional (− a fee in quote), a fee in base costs no quote', () => {
    const l = ledger();
    l.start('BTC/USDT', 0n, 0);
    l.startQuote('USDT', toUnits('10000'));
    l.startQuote('USDT', toUnits('1'));
    deepStrictEqual(l.quoteAssets(), ['USDT']);
    // Buy 0.04969 @ 50,000 = 2,484.5 USDT, fee in BTC: the cash pays the notional only.
    l.filled({ ...fill('buy', '0.04969', '0.00004969'), notional: toUnits('2484.5'), fee: toUnits('2.4845') }, 't1');
    // Sell 0.04964 @ 50,000 = 2,482 USDT, fee 2.482 in USDT.
    l.filled({ ...fill('sell', '0.04964'), notional: toUnits('2482'), fee: toUnits('2.482') }, 't2');
    const expected = toUnits('10000') - toUnits('2484.5') + toUnits('2482') - toUnits('2.482');
    equal(l.quoteBalance('USDT', expected, true), null, 'as expected');
    equal(l.quoteBalance('USDT', expected + 2n, true), null, 'one unit of rounding per fill is no drift');
    equal(l.quoteBalance('USDT', expected - 3n, true), null, 'beyond the rounding: suspected once');
    deepStrictEqual(l.quoteBalance('USDT', expected - 3n, true), { symbol: 'USDT', expected, found: expected - 3n });
    equal(l.quoteBalance('USDT', toUnits('5000'), false), null);
    equal(l.quoteBalance('USDT', toUnits('5000'), false), null, 'never while orders are in flight');
    equal(l.quoteBalance('EUR', toUnits('5'), true), null, 'an asset not accounted for is not judged');
  });

  it('reports dust when it changes', () => {
    const l = ledger();
    equal(l.start('BTC/USDT', toUnits('0.04964031'), 0), toUnits('0.00000031'));
    equal(l.dustChange('BTC/USDT', toUnits('0.04964031')), null);
    equal(l.dustChange('BTC/USDT', toUnits('0.00000031')), null, 'the same dust once the tradeable part is sold');
    l.price('BTC/USDT', 50_000);
    equal(l.dustChange('BTC/USDT', toUnits('0.00009')), toUnits('0.00009'), 'below min notional at the price');
    equal(l.dustChange('BTC/USDT', toUnits('0.1')), 0n);
  });
});
