import { equal, ok } from 'node:assert/strict';
import fc from 'fast-check';
import { from, map, toArray, lastValueFrom } from 'rxjs';
import { formatUnits, toUnits } from '../../operators/money';
import { kellyFractionOf, sizePosition, type SizePositionConfig } from '../../operators/sizePosition';
import { applyFill } from '../../operators/trackPortfolio';
import type { OrderIntent, Portfolio } from '../../operators/types';
import { BTC_USDT, cashPortfolio, signal } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const CONFIG: SizePositionConfig = {
  instrument: BTC_USDT,
  kellyFraction: 0.25,
  misspecificationBuffer: 0.5,
  payoffRatio: 1,
  maxPositionPct: 0.2,
};
const summary = map(
  (i: OrderIntent) => `${i.side} ${formatUnits(i.qty)} → ${formatUnits(i.targetQty)}${i.reducesRisk ? ' reduce' : ''}`,
);

/** A portfolio of 10,000 USDT equity holding `qty` BTC bought at `price` (no fee). */
function holding(qty: string, price: number): Portfolio {
  const q = toUnits(qty);
  const p = toUnits(price);
  const notional = (q * p) / 100_000_000n;
  return applyFill(cashPortfolio('10000'), {
    kind: 'fill',
    clientOrderId: 'x',
    signalId: 's',
    symbol: 'BTC/USDT',
    side: 'buy',
    qty: q,
    price: p,
    notional,
    fee: 0n,
    liquidity: 'taker',
    leavesQty: 0n,
    tsEvent: 0,
  });
}

describe('sizePosition', () => {
  it('sizes a long signal by fractional Kelly × confidence, rounded down to the lot size', () => {
    // strength 0.6, buffer 0.5, b 1: p = 0.5 + 0.5·0.6/2 = 0.65, kelly = 0.65 − 0.35 = 0.3
    // target = 0.3 × 0.25 × 0.8 = 6 % of 10,000 = 600 USDT at 20,000 = 0.03 BTC
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a|', {
        a: {
          signal: signal({ source: 'fused', direction: 1, strength: 0.6, confidence: 0.8, price: 20_000 }),
          portfolio: cashPortfolio('10000'),
        },
      });
      expectObservable(source.pipe(sizePosition(CONFIG), summary)).toBe('a|', { a: 'buy 0.03 → 0.03' });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('caps the target at maxPositionPct of equity', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a|', {
        a: {
          signal: signal({ source: 'fused', direction: 1, strength: 1, confidence: 1, price: 20_000 }),
          portfolio: cashPortfolio('10000'),
        },
      });
      expectObservable(
        source.pipe(sizePosition({ ...CONFIG, kellyFraction: 1, misspecificationBuffer: 0 }), summary),
      ).toBe('a|', { a: 'buy 0.1 → 0.1' });
    });
  });

  it('closes a long on a short signal when shorting is off, and ignores short signals when flat', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const short = signal({ source: 'fused', direction: -1, strength: 1, confidence: 1, price: 20_000 });
      const source = cold('ab|', {
        a: { signal: short, portfolio: holding('0.05', 20_000) },
        b: { signal: short, portfolio: cashPortfolio('10000') },
      });
      expectObservable(source.pipe(sizePosition(CONFIG), summary)).toBe('a-|', { a: 'sell 0.05 → 0 reduce' });
    });
  });

  it('opens a short when allowed', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const short = signal({ source: 'fused', direction: -1, strength: 0.6, confidence: 0.8, price: 20_000 });
      const source = cold('a|', { a: { signal: short, portfolio: cashPortfolio('10000') } });
      expectObservable(source.pipe(sizePosition({ ...CONFIG, allowShort: true }), summary)).toBe('a|', {
        a: 'sell 0.03 → -0.03',
      });
    });
  });

  it('holds on a flat signal by default and closes with onFlat: close', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const flat = signal({ source: 'fused', direction: 0, price: 20_000 });
      const source = cold('a|', { a: { signal: flat, portfolio: holding('0.05', 20_000) } });
      expectObservable(source.pipe(sizePosition(CONFIG), summary)).toBe('-|');
      expectObservable(source.pipe(sizePosition({ ...CONFIG, onFlat: 'close' }), summary)).toBe('a|', {
        a: 'sell 0.05 → 0 reduce',
      });
    });
  });

  it('skips a same-direction rebalance smaller than the threshold, not a larger one', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const long = signal({ source: 'fused', direction: 1, strength: 0.6, confidence: 0.8, price: 20_000 });
      // target 0.03: holding 0.028 (diff 0.002 < 25 % of 0.03) → nothing; holding 0.01 → buy 0.02
      const source = cold('ab|', {
        a: { signal: long, portfolio: holding('0.028', 20_000) },
        b: { signal: long, portfolio: holding('0.01', 20_000) },
      });
      expectObservable(source.pipe(sizePosition(CONFIG), summary)).toBe('-b|', { b: 'buy 0.02 → 0.03' });
    });
  });

  it('emits nothing under the venue minimums, not even a close: what is left below them is dust', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const tiny = signal({ source: 'fused', direction: 1, strength: 0.05, confidence: 0.1, price: 20_000 });
      const short = signal({ source: 'fused', direction: -1, strength: 1, confidence: 1, price: 20_000 });
      const source = cold('abc|', {
        a: { signal: tiny, portfolio: cashPortfolio('1000') },
        // 2 USDT < min notional 5: the exchange would refuse the sell.
        b: { signal: short, portfolio: holding('0.0001', 20_000) },
        c: { signal: short, portfolio: holding('0.0003', 20_000) },
      });
      expectObservable(source.pipe(sizePosition(CONFIG), summary)).toBe('--c|', { c: 'sell 0.0003 → 0 reduce' });
    });
  });

  it('exits a position holding fee dust on the lot grid, rounded down; dust below the grid never blocks a buy', () => {
    // Binance takes a buy's fee in the base coin: a buy of 0.04969 leaves 0.04964031, off the 0.00001 grid.
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const short = signal({ source: 'fused', direction: -1, strength: 1, confidence: 1, price: 20_000 });
      const flat = signal({ source: 'fused', direction: 0, strength: 0, confidence: 1, price: 20_000 });
      const long = signal({ source: 'fused', direction: 1, strength: 0.6, confidence: 0.8, price: 20_000 });
      const source = cold('abcd|', {
        a: { signal: short, portfolio: holding('0.04964031', 20_000) },
        b: { signal: flat, portfolio: holding('0.04964031', 20_000) },
        // What the exit leaves: 0.00000031, below the grid — nothing to do, and no error.
        c: { signal: short, portfolio: holding('0.00000031', 20_000) },
        // Dust 0.00000984 held: the buy towards 0.03 is 0.02999, on the grid (not 0.02999016).
        d: { signal: long, portfolio: holding('0.00000984', 20_000) },
      });
      expectObservable(source.pipe(sizePosition({ ...CONFIG, onFlat: 'close' }), summary)).toBe('ab-d|', {
        a: 'sell 0.04964 → 0 reduce',
        b: 'sell 0.04964 → 0 reduce',
        d: 'buy 0.02999 → 0.03',
      });
    });
  });

  it('links each intent to its signal', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const s = signal({ source: 'fused', direction: 1, strength: 0.6, confidence: 0.8, price: 20_000 });
      const source = cold('a|', { a: { signal: s, portfolio: cashPortfolio('10000') } });
      expectObservable(
        source.pipe(
          sizePosition(CONFIG),
          map((i) => [i.id, i.signalId, i.refPrice, i.tsEvent]),
        ),
      ).toBe('a|', { a: [`${s.id}:0`, s.id, 20_000, s.tsEvent] });
    });
  });

  it('sends a throwing input to the error channel after what it sized, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(() => sizePosition(CONFIG), {
      signal: signal({ source: 'fused', direction: 1, strength: 0.6, confidence: 0.8, price: 20_000 }),
      portfolio: cashPortfolio('10000'),
    });
  });

  it('passes a source error through, completes on empty, stops on unsubscribe', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const input = {
        signal: signal({ source: 'fused', direction: 1, strength: 0.6, confidence: 0.8, price: 20_000 }),
        portfolio: cashPortfolio('10000'),
      };
      expectObservable(cold('a#', { a: input }).pipe(sizePosition(CONFIG), summary)).toBe('a#', {
        a: 'buy 0.03 → 0.03',
      });
      expectObservable(cold<typeof input>('--|').pipe(sizePosition(CONFIG))).toBe('--|');
      const source = hot('-a-a|', { a: input });
      expectObservable(source.pipe(sizePosition(CONFIG), summary), '^-!').toBe('-a', { a: 'buy 0.03 → 0.03' });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  describe('kellyFractionOf', () => {
    it('is zero at zero strength for a symmetric bet and grows with strength and payoff', () => {
      equal(kellyFractionOf(0, 1, 0.5), 0);
      ok(kellyFractionOf(0.3, 1, 0.5) < kellyFractionOf(0.6, 1, 0.5));
      ok(kellyFractionOf(0.3, 1, 0.5) < kellyFractionOf(0.3, 2, 0.5));
      // p = 0.65 at b = 2: 0.65 − 0.35/2
      ok(Math.abs(kellyFractionOf(0.6, 2, 0.5) - 0.475) < 1e-12);
    });

    it('never exceeds 1 nor goes negative, and the buffer always shrinks the bet', () => {
      fc.assert(
        fc.property(
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0.1, max: 10, noNaN: true }),
          fc.double({ min: 0, max: 0.9, noNaN: true }),
          (s, b, m) => {
            const k = kellyFractionOf(s, b, m);
            return k >= 0 && k <= 1 + 1e-12 && k <= kellyFractionOf(s, b, 0) + 1e-12;
          },
        ),
      );
    });
  });

  it('never targets more than maxPositionPct of equity, whatever the signal (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            direction: fc.constantFrom(-1 as const, 0 as const, 1 as const),
            strength: fc.double({ min: 0, max: 1, noNaN: true }),
            confidence: fc.double({ min: 0, max: 1, noNaN: true }),
            price: fc.double({ min: 1, max: 100_000, noNaN: true }),
          }),
          { maxLength: 20 },
        ),
        async (inputs) => {
          const intents = await lastValueFrom(
            from(
              inputs.map((x) => ({ signal: signal({ source: 'fused', ...x }), portfolio: cashPortfolio('10000') })),
            ).pipe(sizePosition({ ...CONFIG, allowShort: true }), toArray()),
          );
          return intents.every((i) => (Math.abs(Number(formatUnits(i.targetQty))) * i.refPrice) / 10_000 <= 0.2 + 1e-9);
        },
      ),
    );
  });
});
