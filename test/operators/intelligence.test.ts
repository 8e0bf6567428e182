import { deepStrictEqual, equal, ok, throws } from 'node:assert/strict';
import { from, lastValueFrom, map, NEVER, Subject, toArray } from 'rxjs';
import { detectRegime } from '../../operators/detectRegime';
import { fuseSignals } from '../../operators/fuseSignals';
import { DailyBudget, TtlCache } from '../../operators/intelCache';
import { IntelBook, IntelInputError, type IntelObservation } from '../../operators/intelligence';
import { joinIntel } from '../../operators/joinIntel';
import type { Bar, Signal } from '../../operators/types';
import { bar, signal } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const H = 3_600_000;

function obs(partial: Partial<IntelObservation> & Pick<IntelObservation, 'tsObserved'>): IntelObservation {
  return {
    kind: 'intel',
    source: 'sentiment',
    provider: 'test',
    metric: 'm',
    asset: null,
    score: 0.5,
    confidence: 1,
    tsInit: partial.tsObserved,
    ...partial,
  };
}

describe('IntelBook (as-of reads)', () => {
  it('uses only values observed at or before the time asked, whatever order they were added in', () => {
    const book = new IntelBook();
    book.add(obs({ tsObserved: 10 * H, score: -0.9 }));
    book.add(obs({ tsObserved: 5 * H, score: 0.4 }));
    equal(book.read('sentiment', 'BTC', 4 * H).counted, 0, 'nothing published yet');
    equal(book.read('sentiment', 'BTC', 5 * H).score, 0.4, 'observed exactly at t counts');
    equal(book.read('sentiment', 'BTC', 10 * H - 1).score, 0.4, 'the later value is not seen 1 ms before it');
    equal(book.read('sentiment', 'BTC', 10 * H).score, -0.9);
  });

  it('lowers confidence as a value ages and drops it past maxAgeMs (stale)', () => {
    const book = new IntelBook({ sentiment: { freshMs: H, maxAgeMs: 3 * H } });
    book.add(obs({ tsObserved: 0, confidence: 0.8 }));
    equal(book.read('sentiment', null, H).confidence, 0.8);
    ok(Math.abs(book.read('sentiment', null, 2 * H).confidence - 0.4) < 1e-12, 'half-way: half the confidence');
    const stale = book.read('sentiment', null, 3 * H);
    deepStrictEqual([stale.counted, stale.stale, stale.confidence], [0, 1, 0]);
  });

  it('averages the series of a source by confidence; a stale series lowers the confidence, not the score', () => {
    const book = new IntelBook({ onchain: { freshMs: H, maxAgeMs: 2 * H } });
    book.add(obs({ source: 'onchain', metric: 'sopr', asset: 'BTC', tsObserved: 0, score: 1 }));
    book.add(obs({ source: 'onchain', metric: 'mvrv', asset: 'BTC', tsObserved: 2 * H, score: 0.2 }));
    book.add(obs({ source: 'onchain', metric: 'mvrv', asset: 'ETH', tsObserved: 2 * H, score: -1 }));
    const r = book.read('onchain', 'BTC', 2 * H);
    deepStrictEqual([r.series, r.counted, r.stale, r.score, r.confidence], [2, 1, 1, 0.2, 0.5]);
  });

  it('counts every headline of the window in window mode and ignores a repeated ref', () => {
    const book = new IntelBook({ news: { freshMs: H, maxAgeMs: 4 * H, mode: 'window' } });
    ok(book.add(obs({ source: 'news', tsObserved: 0, score: 1, confidence: 0.5, ref: 'a' })));
    ok(!book.add(obs({ source: 'news', tsObserved: 0, score: 1, confidence: 0.5, ref: 'a' })), 'a repeat is not added');
    book.add(obs({ source: 'news', tsObserved: H, score: -0.5, confidence: 0.5, ref: 'b' }));
    const r = book.read('news', 'BTC', H);
    deepStrictEqual([r.counted, r.score, r.confidence], [2, 0.25, 1]);
  });

  it('forgets what can no longer count but keeps each series’ latest value', () => {
    const book = new IntelBook({ sentiment: { freshMs: H, maxAgeMs: 2 * H } });
    for (let i = 0; i < 100; i++) book.add(obs({ tsObserved: i * H, score: i % 2 ? 0.5 : -0.5 }));
    book.prune(50 * H);
    ok(book.size <= 52, `kept ${book.size}`);
    equal(book.read('sentiment', null, 50 * H).score, -0.5);
    equal(book.read('sentiment', null, 99 * H).score, 0.5, 'future values stay');
  });

  it('refuses a score, confidence or time out of range, naming it', () => {
    const book = new IntelBook();
    throws(
      () => book.add(obs({ tsObserved: 0, score: 1.5 })),
      (e: unknown) => e instanceof IntelInputError && /score must be in −1..1, found 1.5/.test(e.message),
    );
    throws(() => book.add(obs({ tsObserved: 0, confidence: -1 })), /confidence must be in 0..1/);
    throws(() => book.add(obs({ tsObserved: Number.NaN })), /tsObserved/);
    throws(() => new IntelBook({ macro: { freshMs: 5, maxAgeMs: 5 } }), /freshMs < maxAgeMs/);
  });
});

describe('joinIntel', () => {
  const bars = [0, 1, 2, 3].map((i) => bar(i * H, { o: 100, c: 100 + i }, '1h'));

  it('gives each bar one signal per source from values observed by its close', async () => {
    const intel = [
      obs({ tsObserved: bars[0]!.tsEvent, score: 0.6 }),
      obs({ tsObserved: bars[1]!.tsEvent + 1, score: -0.6 }), // 1 ms after bar 1 closed: first seen by bar 2
      obs({ source: 'macro', metric: 'DFF', tsObserved: 0, score: -0.3 }),
    ];
    const out = await lastValueFrom(
      from(bars).pipe(joinIntel(from(intel), { sources: ['sentiment', 'macro', 'news'] }), toArray()),
    );
    deepStrictEqual(
      out.map((signals) => signals.map((s) => `${s.source}:${s.direction}:${s.available}`).join(' ')),
      [
        'sentiment:1:true macro:-1:true news:0:false',
        'sentiment:1:true macro:-1:true news:0:false',
        'sentiment:-1:true macro:-1:true news:0:false',
        'sentiment:-1:true macro:-1:true news:0:false',
      ],
    );
    equal(out[0]![0]!.id, `BTC/USDT:1h:${bars[0]!.tsEvent}:sentiment`);
  });

  it('keeps joining after the intelligence stream fails: the sources just go stale', async () => {
    const intel$ = new Subject<IntelObservation>();
    const bars$ = new Subject<Bar>();
    const got: Signal[][] = [];
    bars$
      .pipe(joinIntel(intel$, { sources: ['sentiment'], timing: { sentiment: { freshMs: 0, maxAgeMs: 2 * H } } }))
      .subscribe((s) => got.push(s));
    intel$.next(obs({ tsObserved: 0 }));
    bars$.next(bars[0]!);
    intel$.error(new Error('feed died'));
    bars$.next(bars[1]!);
    bars$.complete();
    deepStrictEqual(
      got.map((s) => s[0]!.available),
      [true, false],
    );
  });

  it('routes a bad observation to the error channel and unsubscribes both inputs', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const intel$ = hot('--x', { x: obs({ tsObserved: 0, score: 7 }) });
      const bars$ = cold('a---', { a: bars[0]! });
      expectObservable(
        bars$.pipe(
          joinIntel(intel$, { sources: ['sentiment'] }),
          map((s) => s.length),
        ),
      ).toBe('1-#', { 1: 1 }, new IntelInputError('intel observation test/m: score must be in −1..1, found 7'));
      expectSubscriptions(bars$.subscriptions).toBe('^-!');
      expectSubscriptions(intel$.subscriptions).toBe('^-!');
    });
  });

  it('completes with the bars, and a source without data is unavailable (NEVER)', async () => {
    const out = await lastValueFrom(from(bars).pipe(joinIntel(NEVER, { sources: ['news'] }), toArray()));
    equal(out.length, 4);
    ok(out.every((s) => !s[0]!.available && s[0]!.confidence === 0));
  });
});

describe('detectRegime', () => {
  const series = (closes: number[]): Bar[] => closes.map((c, i) => bar(i * 60_000, { o: c, c }));

  it('says unknown while warming up, trend on a steady climb, range on a back-and-forth, high-vol on a burst', async () => {
    const climb = Array.from({ length: 200 }, (_, i) => 100 * 1.001 ** i * (1 + 0.0002 * (i % 2)));
    const chop = Array.from({ length: 200 }, (_, i) => 100 * (1 + 0.001 * (i % 2)));
    const burst = [...chop, ...Array.from({ length: 30 }, (_, i) => 100 * (1 + 0.03 * (i % 2)))];
    const config = { trendBars: 20, shortHalfLife: 5, longHalfLife: 100 };
    const last = async (closes: number[]) =>
      (await lastValueFrom(from(series(closes)).pipe(detectRegime(config), toArray()))).at(-1)!.regime;
    const first = await lastValueFrom(from(series(climb)).pipe(detectRegime(config), toArray()));
    equal(first[0]!.regime, 'unknown');
    equal(await last(climb), 'trend');
    equal(await last(chop), 'range');
    equal(await last(burst), 'high-vol');
  });

  it('keeps each subscription’s state apart', async () => {
    const op = detectRegime({ trendBars: 5, shortHalfLife: 2, longHalfLife: 10 });
    const source$ = from(series(Array.from({ length: 30 }, (_, i) => 100 + i)));
    const once = await lastValueFrom(source$.pipe(op, toArray()));
    const twice = await lastValueFrom(source$.pipe(op, toArray()));
    deepStrictEqual(twice, once);
  });

  it('refuses a non-positive close and bad windows', () => {
    throws(() => detectRegime({ trendBars: 1 }), /trendBars/);
    throws(() => detectRegime({ shortHalfLife: 10, longHalfLife: 5 }), /shortHalfLife < longHalfLife/);
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a', { a: bar(0, { o: 0, c: 0 }) }).pipe(detectRegime())).toBe(
        '#',
        undefined,
        new RangeError(`detectRegime: bar BTC/USDT ${60_000} has close 0`),
      );
    });
  });
});

describe('fuseSignals with intelligence and regimes', () => {
  const SPEC = {
    weights: { ta: 0.35, ml: 0.25, sentiment: 0.15, onchain: 0.1, macro: 0.1, news: 0.05 },
    minScore: 0.1,
    minConfidence: 0.1,
  };
  const all = (): Signal[] => [
    signal({ source: 'ta', direction: 1, strength: 1, confidence: 1 }),
    signal({ source: 'ml', direction: 1, strength: 1, confidence: 1 }),
    signal({ source: 'sentiment', direction: -1, strength: 1, confidence: 1 }),
    signal({ source: 'onchain', direction: -1, strength: 1, confidence: 1 }),
    signal({ source: 'macro', direction: -1, strength: 1, confidence: 1 }),
    signal({ source: 'news', direction: -1, strength: 1, confidence: 1 }),
  ];
  const run = async (
    input: readonly Signal[] | { signals: readonly Signal[]; regime: 'trend' | 'range' | 'high-vol' | 'unknown' },
  ) => lastValueFrom(from([input]).pipe(fuseSignals(SPEC)));

  it('weighs the spec’s six sources; a missing source hands its weight over and lowers confidence', async () => {
    const full = await run(all());
    ok(Math.abs(Number(full.detail['score']) - (0.6 - 0.4)) < 1e-12);
    equal(full.confidence, 1);
    const silent = await run(all().map((s) => (s.source === 'sentiment' ? { ...s, available: false } : s)));
    ok(Math.abs(silent.confidence - 0.85) < 1e-12, `confidence ${silent.confidence}`);
    ok(Math.abs(Number(silent.detail['score']) - 0.35 / 0.85) < 1e-12);
  });

  it('shifts the weights with the regime (trend: more technical; high-vol: more macro and news)', async () => {
    const trend = await run({ signals: all(), regime: 'trend' });
    const vol = await run({ signals: all(), regime: 'high-vol' });
    const unknown = await run({ signals: all(), regime: 'unknown' });
    ok(Number(trend.detail['score']) > Number(unknown.detail['score']));
    ok(Number(vol.detail['score']) < Number(unknown.detail['score']));
    equal(trend.detail['regime'], 'trend');
    // trend: ta .42 ml .25 sent .15 on .08 macro .08 news .04 → (0.67 − 0.35) / 1.02
    ok(Math.abs(Number(trend.detail['score']) - 0.32 / 1.02) < 1e-12, String(trend.detail['score']));
  });

  it('refuses a regime table that leaves no weight', () => {
    throws(() => fuseSignals({ weights: { ta: 1 }, regimes: { trend: { ta: 0 } } }), /regimes.trend leaves no source/);
    throws(
      () => fuseSignals({ weights: { ta: 1 }, regimes: { range: { ta: -1 } } }),
      /regimes.range.ta must be a finite number ≥ 0/,
    );
  });
});

describe('TtlCache and DailyBudget', () => {
  it('answers until the TTL ends and sweeps expired entries', () => {
    const cache = new TtlCache<string>();
    cache.set('a', 'x', 60_000, 0, 100);
    equal(cache.get('a', 59_999), 'x');
    equal(cache.get('a', 60_000), undefined);
    cache.set('b', 'y', 60_000, 60_000, 10);
    deepStrictEqual([cache.size, cache.bytes], [1, 10]);
  });

  it('allows the limit per UTC day and starts again the next day', () => {
    const budget = new DailyBudget(2);
    const day = 86_400_000;
    deepStrictEqual([budget.take(1), budget.take(2), budget.take(3)], [true, true, false]);
    equal(budget.left(day - 1), 0);
    ok(budget.take(day));
    equal(budget.left(day), 1);
    throws(() => new DailyBudget(-1), /limit must be an integer ≥ 0/);
  });
});
