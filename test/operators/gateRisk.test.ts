import { equal, match, ok } from 'node:assert/strict';
import { map } from 'rxjs';
import { clientOrderIdFor, gateRisk, type GateRiskConfig, type RiskInput } from '../../operators/gateRisk';
import { toUnits } from '../../operators/money';
import { applyFill } from '../../operators/trackPortfolio';
import type { Mode, OrderIntent, Portfolio, RiskDecision } from '../../operators/types';
import { BTC_USDT, cashPortfolio } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const CONFIG: GateRiskConfig = { instrument: BTC_USDT, maxPositionPct: 0.25, maxOrderNotional: 5000, maxDrawdown: 0.15, takerFeeBps: 10, strategyId: 'test', configHash: 'abc' };

function intent(side: 'buy' | 'sell', qty: string, partial: Partial<OrderIntent> = {}): OrderIntent {
  return {
    kind: 'intent',
    id: 'BTC/USDT:1m:60000:fused:0',
    signalId: 'BTC/USDT:1m:60000:fused',
    symbol: 'BTC/USDT',
    side,
    qty: toUnits(qty),
    refPrice: 20_000,
    targetQty: side === 'buy' ? toUnits(qty) : 0n,
    reducesRisk: side === 'sell',
    tsEvent: 60_000,
    reason: 'test',
    ...partial,
  };
}

function holding(qty: string, price = 20_000): Portfolio {
  const q = toUnits(qty);
  const p = toUnits(price);
  return applyFill(cashPortfolio('10000'), { kind: 'fill', clientOrderId: 'x', signalId: 's', symbol: 'BTC/USDT', side: 'buy', qty: q, price: p, notional: (q * p) / 100_000_000n, fee: 0n, liquidity: 'taker', leavesQty: 0n, tsEvent: 0 });
}

const input = (i: OrderIntent, portfolio: Portfolio = cashPortfolio('10000'), mode: Mode = 'Normal'): RiskInput => ({ intent: i, portfolio, mode });
const verdict = map((d: RiskDecision) => (d.kind === 'approved' ? 'ok' : d.code));

describe('gateRisk', () => {
  it('approves an order inside every limit and stamps a deterministic client order id and the config hash', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a|', { a: input(intent('buy', '0.1')) });
      expectObservable(source.pipe(gateRisk(CONFIG), map((d) => (d.kind === 'approved' ? [d.order.clientOrderId, d.order.configHash, d.order.signalId] : d.code)))).toBe('a|', {
        a: [clientOrderIdFor('test', 'BTC/USDT:1m:60000:fused:0'), 'abc', 'BTC/USDT:1m:60000:fused'],
      });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('denies with a reason code and the numbers: position %, order notional, free balance, drawdown, min notional', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const inDrawdown: Portfolio = { ...cashPortfolio('10000'), peakEquity: 12_000, drawdown: 1 - 10_000 / 12_000 };
      const source = cold('abcde|', {
        a: input(intent('buy', '0.2')), // 4,000 = 40 % of equity > 25 %
        b: input(intent('buy', '0.26'), { ...cashPortfolio('30000') }), // 5,200 > 5,000 per order
        c: input(intent('buy', '0.1'), { ...cashPortfolio('10000'), cash: toUnits('1000') }), // 2,002 needed, 1,000 free
        d: input(intent('buy', '0.05'), inDrawdown), // 16.7 % drawdown ≥ 15 %
        e: input(intent('buy', '0.0002')), // 4 USDT < 5 minimum
      });
      expectObservable(source.pipe(gateRisk(CONFIG), verdict)).toBe('abcde|', {
        a: 'POSITION_PCT_EXCEEDS_LIMIT',
        b: 'NOTIONAL_EXCEEDS_LIMIT',
        c: 'NOTIONAL_EXCEEDS_FREE_BALANCE',
        d: 'DRAWDOWN_HALT',
        e: 'BELOW_MIN_NOTIONAL',
      });
    });
  });

  it('writes the numbers into the denial message', () => {
    const decisions: RiskDecision[] = [];
    makeTestScheduler().run(({ cold }) => {
      cold('a|', { a: input(intent('buy', '0.2')) })
        .pipe(gateRisk(CONFIG))
        .subscribe((d) => decisions.push(d));
    });
    const denied = decisions[0]!;
    ok(denied.kind === 'denied');
    match(denied.message, /^POSITION_PCT_EXCEEDS_LIMIT: position=0\.4 limit=0\.25 equity=10000$/);
    equal(denied.numbers['position'], 0.4);
  });

  it('lets risk-reducing orders through limits and drawdown, but not through Paused', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const big: Portfolio = { ...holding('0.5'), drawdown: 0.5 };
      const sell = intent('sell', '0.5', { reducesRisk: true });
      const source = cold('abcd|', { a: input(sell, big), b: input(sell, big, 'Reduced'), c: input(sell, big, 'Emergency'), d: input(sell, big, 'Paused') });
      expectObservable(source.pipe(gateRisk(CONFIG), verdict)).toBe('abcd|', { a: 'ok', b: 'ok', c: 'ok', d: 'MODE_PAUSED' });
    });
  });

  it('denies new risk in Reduced and Emergency modes', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const buy = intent('buy', '0.01');
      const source = cold('ab|', { a: input(buy, cashPortfolio('10000'), 'Reduced'), b: input(buy, cashPortfolio('10000'), 'Emergency') });
      expectObservable(source.pipe(gateRisk(CONFIG), verdict)).toBe('ab|', { a: 'MODE_REDUCED_RISK_INCREASING', b: 'MODE_EMERGENCY' });
    });
  });

  it('denies selling more than is held when shorting is off', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a|', { a: input(intent('sell', '0.2', { reducesRisk: false, targetQty: toUnits('-0.1') }), holding('0.1')) });
      expectObservable(source.pipe(gateRisk(CONFIG), verdict)).toBe('a|', { a: 'QTY_EXCEEDS_POSITION' });
    });
  });

  it('gives the same client order id for the same strategy and intent, different ones otherwise', () => {
    equal(clientOrderIdFor('s', 'i'), clientOrderIdFor('s', 'i'));
    ok(clientOrderIdFor('s', 'i') !== clientOrderIdFor('s', 'j'));
    ok(clientOrderIdFor('s', 'i') !== clientOrderIdFor('t', 'i'));
    match(clientOrderIdFor('growth-btc', 'BTC/USDT:5m:1606808400000:fused:0'), /^[A-Za-z0-9_-]{1,36}$/);
  });

  it('passes a source error through, completes on empty, stops on unsubscribe', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = input(intent('buy', '0.01'));
      expectObservable(cold('a#', { a }).pipe(gateRisk(CONFIG), verdict)).toBe('a#', { a: 'ok' });
      expectObservable(cold<RiskInput>('--|').pipe(gateRisk(CONFIG))).toBe('--|');
      const source = hot('-a-a|', { a });
      expectObservable(source.pipe(gateRisk(CONFIG), verdict), '^-!').toBe('-a', { a: 'ok' });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });
});
