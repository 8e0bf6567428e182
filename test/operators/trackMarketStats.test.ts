import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { Subject, map } from 'rxjs';
import { MarketStatsInputError, trackMarketStats, type MarketStats } from '../../operators/trackMarketStats';
import type { Bar } from '../../operators/types';
import { makeTestScheduler } from '../support/marbles';

const H = 3_600_000;

function bar(symbol: string, i: number, close: number, volume = 10): Bar {
  return {
    kind: 'bar',
    venue: 'binance',
    symbol,
    timeframe: '1h',
    tsOpen: i * H,
    tsEvent: (i + 1) * H,
    open: close,
    high: close,
    low: close,
    close,
    volume,
    trades: 0,
  };
}

function collect(bars: readonly Bar[], config: Parameters<typeof trackMarketStats>[0]): MarketStats[] {
  const out: MarketStats[] = [];
  const in$ = new Subject<Bar>();
  in$.pipe(trackMarketStats(config)).subscribe((s) => out.push(s));
  for (const b of bars) in$.next(b);
  return out;
}

const ANNUAL_1H = 365 * 24;

describe('trackMarketStats', () => {
  it('folds EWMA variance and pairwise covariance of same-time returns into volatility and correlation', () => {
    // A: 100 → 110 → 99 → 108.9 ; B: 50 → 52 → 50 → 51
    const a = [100, 110, 99, 108.9];
    const b = [50, 52, 50, 51];
    const bars = a.flatMap((close, i) => [bar('A/USDT', i, close), bar('B/USDT', i, b[i]!)]);
    const stats = collect(bars, { lambda: 0.5, minReturns: 2 });
    const last = stats[stats.length - 1]!;
    const ra = a.slice(1).map((x, i) => Math.log(x / a[i]!));
    const rb = b.slice(1).map((x, i) => Math.log(x / b[i]!));
    // EWMA seeded with the first squared return / product, λ = 0.5.
    const ewma = (xs: number[]) => xs.slice(1).reduce((v, x) => 0.5 * v + 0.5 * x, xs[0]!);
    const va = ewma(ra.map((r) => r * r));
    const vb = ewma(rb.map((r) => r * r));
    const cab = ewma(ra.map((r, i) => r * rb[i]!));
    ok(Math.abs(last.volatility.get('A/USDT')! - Math.sqrt(va * ANNUAL_1H)) < 1e-12);
    ok(Math.abs(last.volatility.get('B/USDT')! - Math.sqrt(vb * ANNUAL_1H)) < 1e-12);
    ok(Math.abs(last.correlation('A/USDT', 'B/USDT')! - cab / Math.sqrt(va * vb)) < 1e-12);
    equal(last.correlation('B/USDT', 'A/USDT'), last.correlation('A/USDT', 'B/USDT'));
    equal(last.correlation('A/USDT', 'A/USDT'), 1);
    equal(last.price.get('B/USDT'), 51);
    deepStrictEqual([...last.volatility.keys()], ['A/USDT', 'B/USDT']);
    equal(last.volatility.size, 2);
  });

  it('reports nothing for a symbol before minReturns returns, and no correlation before both are warm', () => {
    // A from hour 0, B from hour 1: order A0 A1 B1 A2 B2 A3 B3.
    const bars = [0, 1, 2, 3].flatMap((i) => [
      bar('A/USDT', i, 100 + i),
      ...(i > 0 ? [bar('B/USDT', i, 50 - i * i)] : []),
    ]);
    const stats = collect(bars, { minReturns: 2 });
    const afterA2 = stats[3]!;
    equal(afterA2.volatility.has('A/USDT'), true);
    equal(afterA2.volatility.get('B/USDT'), undefined);
    equal(afterA2.correlation('A/USDT', 'B/USDT'), undefined);
    equal(afterA2.correlation('B/USDT', 'B/USDT'), undefined);
    equal(afterA2.correlation('A/USDT', 'C/USDT'), undefined);
    equal(stats[4]!.volatility.get('B/USDT'), undefined, 'one B return');
    const last = stats[6]!;
    ok(last.volatility.has('B/USDT'));
    ok(last.correlation('A/USDT', 'B/USDT') !== undefined, 'two same-time pairs of returns');
  });

  it('skips the return across a gap (a 3-hour move is not a 1-hour return)', () => {
    const withGap = collect(
      [bar('A/USDT', 0, 100), bar('A/USDT', 1, 110), bar('A/USDT', 4, 200), bar('A/USDT', 5, 210)],
      {
        minReturns: 1,
        lambda: 0.5,
      },
    );
    const r1 = Math.log(110 / 100);
    const r2 = Math.log(210 / 200);
    const v = 0.5 * r1 * r1 + 0.5 * r2 * r2;
    ok(Math.abs(withGap[3]!.volatility.get('A/USDT')! - Math.sqrt(v * ANNUAL_1H)) < 1e-12);
  });

  it('gives every consumer a snapshot that later bars never change', () => {
    const stats = collect(
      [0, 1, 2, 3, 4].flatMap((i) => [bar('A/USDT', i, 100 * 1.01 ** i), bar('B/USDT', i, 50 * 0.99 ** (i % 2))]),
      { minReturns: 1 },
    );
    const kept = stats[4]!;
    const before = [kept.volatility.get('A/USDT'), kept.correlation('A/USDT', 'B/USDT'), kept.adv.get('B/USDT')];
    ok(before.every((x) => x !== undefined));
    const later = stats[stats.length - 1]!;
    ok(later.volatility.get('A/USDT') !== before[0] || later.correlation('A/USDT', 'B/USDT') !== before[1]);
    deepStrictEqual(
      [kept.volatility.get('A/USDT'), kept.correlation('A/USDT', 'B/USDT'), kept.adv.get('B/USDT')],
      before,
    );
  });

  it('averages the daily traded value over advBars bars', () => {
    const stats = collect([bar('A/USDT', 0, 10, 1), bar('A/USDT', 1, 20, 2), bar('A/USDT', 2, 30, 3)], { advBars: 2 });
    // last two bars: 40 and 90 quote per hour → 65 per hour → 1560 per day
    equal(stats[2]!.adv.get('A/USDT'), 65 * 24);
  });

  it('sends a bar with a non-finite time to the error channel and unsubscribes; passes errors and completion; stops on unsubscribe', () => {
    const price = map((s: MarketStats) => s.price.get('A/USDT'));
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const good = bar('A/USDT', 0, 100);
      const broken = { ...bar('A/USDT', 1, 100), tsEvent: Number.NaN };
      const source = cold('a-b-a|', { a: good, b: broken });
      expectObservable(source.pipe(trackMarketStats(), price)).toBe(
        'a-#',
        { a: 100 },
        new MarketStatsInputError('trackMarketStats: A/USDT bar with a non-finite time (3600000, NaN)'),
      );
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<Bar>('-#').pipe(trackMarketStats())).toBe('-#');
      expectObservable(cold<Bar>('--|').pipe(trackMarketStats())).toBe('--|');
      const source = hot<Bar>('-a-a-a|', { a: bar('A/USDT', 0, 100) });
      expectObservable(source.pipe(trackMarketStats(), price), '^--!').toBe('-x-', { x: 100 });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });
});
