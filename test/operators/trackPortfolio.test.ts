/**
 * trackPortfolio: average-cost accounting in exact units — buys, sells, partial closes, flips,
 * realized PnL before fees, fees out of cash — and equity / peak / drawdown from marks. After every
 * event `cash = initial + realized − fees − Σ cost basis` holds to the unit.
 */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { from, map } from 'rxjs';
import { feeOf, notionalOf, toUnits, type Units } from '../../operators/money';
import {
  PortfolioInputError,
  accountingResidual,
  applyFill,
  initialPortfolio,
  trackPortfolio,
  type PortfolioEvent,
} from '../../operators/trackPortfolio';
import type { Fill, Portfolio, Position, Side } from '../../operators/types';
import { bar, tick } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const u = toUnits;

function fill(
  side: Side,
  qty: string,
  price: string,
  options: { fee?: string; ts?: number; symbol?: string } = {},
): Fill {
  const q = u(qty);
  const p = u(price);
  return {
    kind: 'fill',
    clientOrderId: `${side}-${qty}-${price}`,
    signalId: 'sig',
    symbol: options.symbol ?? 'BTC/USDT',
    side,
    qty: q,
    price: p,
    notional: notionalOf(q, p),
    fee: u(options.fee ?? '0'),
    liquidity: 'taker',
    leavesQty: 0n,
    tsEvent: options.ts ?? 0,
  };
}

const round = (x: number, decimals: number): number => Math.round(x * 10 ** decimals) / 10 ** decimals;

/** Valuations are floats: compare them to 1e-6 quote (drawdown to 1e-12); every amount in units stays exact. */
const valuation = map(
  (p: Portfolio): Portfolio => ({
    ...p,
    equity: round(p.equity, 6),
    peakEquity: round(p.peakEquity, 6),
    drawdown: round(p.drawdown, 12),
  }),
);

function position(qty: string, costBasis: string, markPrice: number, symbol = 'BTC/USDT'): Position {
  return { symbol, qty: u(qty), costBasis: u(costBasis), markPrice };
}

function state(
  initialCash: string,
  s: {
    cash: string;
    positions?: Position[];
    realized?: string;
    fees?: string;
    equity: number;
    peak: number;
    drawdown?: number;
    ts: number;
  },
): Portfolio {
  const positions: Record<string, Position> = {};
  for (const p of s.positions ?? []) positions[p.symbol] = p;
  return {
    kind: 'portfolio',
    quote: 'USDT',
    initialCash: u(initialCash),
    cash: u(s.cash),
    positions,
    realizedPnl: u(s.realized ?? '0'),
    feesPaid: u(s.fees ?? '0'),
    equity: s.equity,
    peakEquity: s.peak,
    drawdown: round(s.drawdown ?? 0, 12),
    tsEvent: s.ts,
  };
}

describe('trackPortfolio', () => {
  it('books a fee taken in the base asset: the position grows by qty − feeBase, no cash goes to the fee, the fee still counts, the books balance', () => {
    const start = initialPortfolio({ initialCash: u('1000'), quote: 'USDT' });
    const buy: Fill = { ...fill('buy', '1', '100'), fee: u('0.1'), feeBase: u('0.001') };
    const after = applyFill(start, buy);
    assert.equal(after.positions['BTC/USDT']!.qty, u('0.999'));
    assert.equal(after.cash, u('900'));
    assert.equal(after.feesPaid, u('0.1'));
    assert.equal(accountingResidual(after), 0n);
    const flat = applyFill(after, fill('sell', '0.999', '110', { fee: '0.1' }));
    assert.equal(flat.positions['BTC/USDT'], undefined);
    assert.equal(accountingResidual(flat), 0n);
    // Paid 100 for 0.999 BTC, sold it for 109.89, fees 0.2 in all.
    assert.equal(flat.cash, u('1000') - u('100') + u('109.89') - u('0.1'));
    assert.equal(flat.cash, flat.initialCash + flat.realizedPnl - flat.feesPaid);
  });

  it('takes a buy out of cash with its fee, then values the position at each bar close and trade, tracking peak and drawdown', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<PortfolioEvent>('a-b-c-d-e|', {
        a: fill('buy', '0.5', '20000', { fee: '10', ts: 1_000 }),
        b: bar(60_000, { o: 21_000, c: 22_000 }), // marks at its close, at its tsEvent 120000
        c: tick(130_000, 19_000),
        d: bar(120_000, { o: 1, c: 1 }, '1m', 'ETH/USDT'), // no ETH position: nothing to revalue
        e: tick(200_000, 23_000),
      });
      const S = '100000';
      expectObservable(source.pipe(trackPortfolio({ initialCash: u(S), quote: 'USDT' }), valuation)).toBe(
        'a-b-c-d-e|',
        {
          a: state(S, {
            cash: '89990',
            positions: [position('0.5', '10000', 20_000)],
            fees: '10',
            equity: 99_990,
            peak: 100_000,
            drawdown: 10 / 100_000,
            ts: 1_000,
          }),
          b: state(S, {
            cash: '89990',
            positions: [position('0.5', '10000', 22_000)],
            fees: '10',
            equity: 100_990,
            peak: 100_990,
            ts: 120_000,
          }),
          c: state(S, {
            cash: '89990',
            positions: [position('0.5', '10000', 19_000)],
            fees: '10',
            equity: 99_490,
            peak: 100_990,
            drawdown: 1_500 / 100_990,
            ts: 130_000,
          }),
          d: state(S, {
            cash: '89990',
            positions: [position('0.5', '10000', 19_000)],
            fees: '10',
            equity: 99_490,
            peak: 100_990,
            drawdown: 1_500 / 100_990,
            ts: 180_000,
          }),
          e: state(S, {
            cash: '89990',
            positions: [position('0.5', '10000', 23_000)],
            fees: '10',
            equity: 101_490,
            peak: 101_490,
            ts: 200_000,
          }),
        },
      );
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
  });

  it('realizes PnL on average cost for partial closes, keeps fees out of realized PnL, and ends flat at initial + realized − fees', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<PortfolioEvent>('abcd|', {
        a: fill('buy', '1', '100', { fee: '0.1', ts: 1 }),
        b: fill('buy', '1', '110', { fee: '0.11', ts: 2 }), // average cost 105
        c: fill('sell', '0.5', '120', { fee: '0.06', ts: 3 }), // realizes 0.5 × (120 − 105) = 7.5
        d: fill('sell', '1.5', '90', { fee: '0.135', ts: 4 }), // realizes 1.5 × (90 − 105) = −22.5
      });
      const S = '10000';
      expectObservable(source.pipe(trackPortfolio({ initialCash: u(S), quote: 'USDT' }), valuation)).toBe('abcd|', {
        a: state(S, {
          cash: '9899.9',
          positions: [position('1', '100', 100)],
          fees: '0.1',
          equity: 9_999.9,
          peak: 10_000,
          drawdown: 0.1 / 10_000,
          ts: 1,
        }),
        b: state(S, {
          cash: '9789.79',
          positions: [position('2', '210', 110)],
          fees: '0.21',
          equity: 10_009.79,
          peak: 10_009.79,
          ts: 2,
        }),
        c: state(S, {
          cash: '9849.73',
          positions: [position('1.5', '157.5', 120)],
          realized: '7.5',
          fees: '0.27',
          equity: 10_029.73,
          peak: 10_029.73,
          ts: 3,
        }),
        d: state(S, {
          cash: '9984.595',
          realized: '-15',
          fees: '0.405',
          equity: 9_984.595,
          peak: 10_029.73,
          drawdown: (10_029.73 - 9_984.595) / 10_029.73,
          ts: 4,
        }),
      });
    });
  });

  it('flips long → short and short → long: the closing part realizes PnL, the rest opens at the fill price', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<PortfolioEvent>('abcdef|', {
        a: fill('buy', '1', '100', { ts: 1 }),
        b: fill('sell', '3', '110', { ts: 2 }), // closes 1 (+10), opens 2 short at 110
        c: tick(3, 100), // the short gains: equity 10230 − 2 × 100
        d: fill('buy', '2', '100', { ts: 4 }), // covers: +2 × (110 − 100)
        e: fill('sell', '1', '100', { ts: 5 }), // short 1 at 100
        f: fill('buy', '2', '90', { ts: 6 }), // covers +10, opens 1 long at 90
      });
      const S = '10000';
      expectObservable(source.pipe(trackPortfolio({ initialCash: u(S), quote: 'USDT' }), valuation)).toBe('abcdef|', {
        a: state(S, { cash: '9900', positions: [position('1', '100', 100)], equity: 10_000, peak: 10_000, ts: 1 }),
        b: state(S, {
          cash: '10230',
          positions: [position('-2', '-220', 110)],
          realized: '10',
          equity: 10_010,
          peak: 10_010,
          ts: 2,
        }),
        c: state(S, {
          cash: '10230',
          positions: [position('-2', '-220', 100)],
          realized: '10',
          equity: 10_030,
          peak: 10_030,
          ts: 3,
        }),
        d: state(S, { cash: '10030', realized: '30', equity: 10_030, peak: 10_030, ts: 4 }),
        e: state(S, {
          cash: '10130',
          positions: [position('-1', '-100', 100)],
          realized: '30',
          equity: 10_030,
          peak: 10_030,
          ts: 5,
        }),
        f: state(S, {
          cash: '9950',
          positions: [position('1', '90', 90)],
          realized: '40',
          equity: 10_040,
          peak: 10_040,
          ts: 6,
        }),
      });
    });
  });

  it('keeps positions per symbol and values equity as cash plus every position at its own mark', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<PortfolioEvent>('abcd|', {
        a: fill('buy', '0.1', '30000', { ts: 1 }),
        b: fill('sell', '2', '2000', { ts: 2, symbol: 'ETH/USDT' }),
        c: bar(0, { o: 2000, c: 1900 }, '1m', 'ETH/USDT'),
        d: bar(0, { o: 30000, c: 31000 }, '1m', 'BTC/USDT'),
      });
      const S = '10000';
      const eth = (mark: number): Position => position('-2', '-4000', mark, 'ETH/USDT');
      expectObservable(source.pipe(trackPortfolio({ initialCash: u(S), quote: 'USDT' }), valuation)).toBe('abcd|', {
        a: state(S, {
          cash: '7000',
          positions: [position('0.1', '3000', 30_000)],
          equity: 10_000,
          peak: 10_000,
          ts: 1,
        }),
        b: state(S, {
          cash: '11000',
          positions: [position('0.1', '3000', 30_000), eth(2000)],
          equity: 10_000,
          peak: 10_000,
          ts: 2,
        }),
        c: state(S, {
          cash: '11000',
          positions: [position('0.1', '3000', 30_000), eth(1900)],
          equity: 10_200,
          peak: 10_200,
          ts: 60_000,
        }),
        d: state(S, {
          cash: '11000',
          positions: [position('0.1', '3000', 31_000), eth(1900)],
          equity: 10_300,
          peak: 10_300,
          ts: 60_000,
        }),
      });
    });
  });

  it('satisfies the accounting identity (residual exactly 0n) after every fill and mark, including uneven partial closes', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<PortfolioEvent>('abcdefgh|', {
        a: fill('buy', '0.00000007', '33333.33333333', { fee: '0.00000001' }),
        b: fill('buy', '0.00000003', '1.00000001'),
        c: fill('sell', '0.00000003', '7.77777777', { fee: '0.00000003' }), // 3/10 of a cost that does not divide evenly
        d: tick(1, 12345.6789),
        e: fill('sell', '0.00000011', '9.99999999', { fee: '0.00000002' }), // flips through zero
        f: fill('buy', '0.00000005', '123.45678901'),
        g: bar(0, { o: 1, c: 2 }),
        h: fill('buy', '0.00000001', '0.00000001'),
      });
      const zeros = { a: 0n, b: 0n, c: 0n, d: 0n, e: 0n, f: 0n, g: 0n, h: 0n };
      expectObservable(
        source.pipe(trackPortfolio({ initialCash: u('1'), quote: 'USDT' }), map(accountingResidual)),
      ).toBe('abcdefgh|', zeros);
    });
  });

  it('passes a source error through after the states before it', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<PortfolioEvent>('-a-#', { a: fill('buy', '1', '100', { ts: 1 }) }, new Error('fills lost'));
      expectObservable(source.pipe(trackPortfolio({ initialCash: u('1000'), quote: 'USDT' }), valuation)).toBe(
        '-a-#',
        {
          a: state('1000', { cash: '900', positions: [position('1', '100', 100)], equity: 1_000, peak: 1_000, ts: 1 }),
        },
        new Error('fills lost'),
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('sends a mark it cannot value (a NaN price) to the error channel and unsubscribes, instead of a NaN equity', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<PortfolioEvent>('-a-b-c|', {
        a: fill('buy', '1', '100', { ts: 1 }),
        b: tick(2, Number.NaN),
        c: tick(3, 120),
      });
      expectObservable(
        source.pipe(
          trackPortfolio({ initialCash: u('1000'), quote: 'USDT' }),
          map((p) => p.equity),
        ),
      ).toBe(
        '-a-#',
        { a: 1_000 },
        new PortfolioInputError('trackPortfolio: cannot mark BTC/USDT at price NaN, time 2'),
      );
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('completes without emitting on an empty source (no state without an event)', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<PortfolioEvent>('--|');
      expectObservable(source.pipe(trackPortfolio({ initialCash: u('1000'), quote: 'USDT' }))).toBe('--|');
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('stops and unsubscribes from the source when unsubscribed early', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<PortfolioEvent>('-a--b---c--|', {
        a: fill('buy', '1', '100', { ts: 1 }),
        b: tick(2, 110),
        c: tick(3, 120),
      });
      const unsub = '                     ^------!';
      expectObservable(source.pipe(trackPortfolio({ initialCash: u('1000'), quote: 'USDT' }), valuation), unsub).toBe(
        '-a--b--',
        {
          a: state('1000', { cash: '900', positions: [position('1', '100', 100)], equity: 1_000, peak: 1_000, ts: 1 }),
          b: state('1000', { cash: '900', positions: [position('1', '100', 110)], equity: 1_010, peak: 1_010, ts: 2 }),
        },
      );
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('starts every subscription from the initial portfolio', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const portfolio$ = cold<PortfolioEvent>('a|', { a: fill('buy', '1', '100', { ts: 1 }) }).pipe(
        trackPortfolio({ initialCash: u('1000'), quote: 'USDT' }),
        valuation,
      );
      const a = state('1000', {
        cash: '900',
        positions: [position('1', '100', 100)],
        equity: 1_000,
        peak: 1_000,
        ts: 1,
      });
      expectObservable(portfolio$).toBe('a|', { a });
      expectObservable(portfolio$).toBe('a|', { a });
    });
  });

  describe('properties', () => {
    const SYMBOLS = ['BTC/USDT', 'ETH/USDT'] as const;
    const fillArb = fc
      .record({
        symbol: fc.constantFrom(...SYMBOLS),
        side: fc.constantFrom<Side>('buy', 'sell'),
        qty: fc.bigInt({ min: 1n, max: 10_000_000_000n }), // up to 100 base units
        price: fc.bigInt({ min: 1n, max: 10_000_000_000_000n }), // up to 100,000 quote per base
        feePpm: fc.bigInt({ min: 0n, max: 2_000n }),
      })
      .map(({ symbol, side, qty, price, feePpm }): Fill => {
        const notional = notionalOf(qty, price);
        return {
          kind: 'fill',
          clientOrderId: 'x',
          signalId: 's',
          symbol,
          side,
          qty,
          price,
          notional,
          fee: feeOf(notional, feePpm),
          liquidity: 'taker',
          leavesQty: 0n,
          tsEvent: 0,
        };
      });
    const markArb = fc
      .record({ symbol: fc.constantFrom(...SYMBOLS), price: fc.double({ min: 0.01, max: 1e5, noNaN: true }) })
      .map(({ symbol, price }) => tick(1, price, 1, 'm', symbol));
    const eventsArb = fc.array(fc.oneof({ arbitrary: fillArb, weight: 4 }, { arbitrary: markArb, weight: 1 }), {
      maxLength: 40,
    });

    function run(events: readonly PortfolioEvent[], initialCash: Units): Portfolio[] {
      const states: Portfolio[] = [];
      from(events)
        .pipe(trackPortfolio({ initialCash, quote: 'USDT' }))
        .subscribe((p) => states.push(p));
      return states;
    }

    it('keeps the accounting residual exactly 0n after every event of any fill sequence (longs, shorts, flips)', () => {
      fc.assert(
        fc.property(eventsArb, fc.bigInt({ min: 0n, max: 10n ** 16n }), (events, initialCash) => {
          const states = run(events, initialCash);
          assert.equal(states.length, events.length);
          states.forEach((p, i) => assert.equal(accountingResidual(p), 0n, `after event ${i}`));
        }),
        { numRuns: 300 },
      );
    });

    it('leaves cash = initial + realized PnL − fees exactly once every position is closed', () => {
      fc.assert(
        fc.property(
          eventsArb,
          fc.bigInt({ min: 0n, max: 10n ** 16n }),
          fc.array(fc.bigInt({ min: 1n, max: 10_000_000_000_000n }), { minLength: 2, maxLength: 2 }),
          (events, initialCash, closePrices) => {
            const open = run(events, initialCash).at(-1);
            const closers: Fill[] = Object.values(open?.positions ?? {}).map((p, i) => {
              const qty = p.qty < 0n ? -p.qty : p.qty;
              const price = closePrices[i]!;
              const notional = notionalOf(qty, price);
              return {
                kind: 'fill',
                clientOrderId: `close-${i}`,
                signalId: 's',
                symbol: p.symbol,
                side: p.qty > 0n ? 'sell' : 'buy',
                qty,
                price,
                notional,
                fee: feeOf(notional, 1_000n),
                liquidity: 'taker',
                leavesQty: 0n,
                tsEvent: 2,
              };
            });
            const final = run([...events, ...closers], initialCash).at(-1);
            if (!final) return;
            assert.deepEqual(final.positions, {});
            assert.equal(final.cash, initialCash + final.realizedPnl - final.feesPaid);
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});
