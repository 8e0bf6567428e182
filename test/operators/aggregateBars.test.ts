/**
 * aggregateBars: OHLCV per (venue, symbol, timeframe) in event time — a bar is emitted when a later
 * tick crosses its end, never on the clock; gaps are reported, never filled; late ticks are dead
 * letters; and 1m candles of real data fed as ticks rebuild the real 1m and 5m files.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { from, map } from 'rxjs';
import { aggregateBars, type AggregatedEvent } from '../../operators/aggregateBars';
import type { Bar, BarGap, DeadLetter, Timeframe, TradeTick } from '../../operators/types';
import { tick } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { requireSharedData } from '../support/sharedData';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const S = 1_000;
const M = 60_000;

/** A bar as aggregateBars builds it (trades counted, venue binance unless given). */
function built(
  tsOpen: number,
  timeframe: Timeframe,
  ohlc: { o: number; h: number; l: number; c: number; v: number; n: number },
  symbol = 'BTC/USDT',
  venue = 'binance',
): Bar {
  const length = timeframe === '1m' ? M : timeframe === '5m' ? 5 * M : NaN;
  return {
    kind: 'bar',
    venue,
    symbol,
    timeframe,
    tsOpen,
    tsEvent: tsOpen + length,
    open: ohlc.o,
    high: ohlc.h,
    low: ohlc.l,
    close: ohlc.c,
    volume: ohlc.v,
    trades: ohlc.n,
  };
}

function gap(
  timeframe: Timeframe,
  from: number,
  to: number,
  missing: number,
  tsEvent: number,
  symbol = 'BTC/USDT',
): BarGap {
  return { kind: 'gap', venue: 'binance', symbol, timeframe, from, to, missing, tsEvent };
}

/** A dead letter as compared after {@link reasonSaysLate}: the reason must say "late" and name the tick's time. */
function late(raw: TradeTick, tsInit: number): DeadLetter {
  return { kind: 'dead-letter', stage: 'aggregateBars', reason: 'late', raw, tsInit };
}

const reasonSaysLate = (event: AggregatedEvent): AggregatedEvent =>
  event.kind === 'dead-letter' &&
  /late/.test(event.reason) &&
  event.reason.includes(String((event.raw as TradeTick).tsEvent))
    ? { ...event, reason: 'late' }
    : event;

describe('aggregateBars', () => {
  describe('the first interval, joined mid-way', () => {
    it('drops a partial first bar by default (its first trade after the open) and starts with the next, whole interval', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('abcd|', {
          a: tick(20 * S, 100, 1), // joined the stream 20 s into the minute: trades before are missing
          b: tick(M + 5 * S, 101, 2),
          c: tick(M + 30 * S, 102, 1),
          d: tick(2 * M, 103, 1),
        });
        expectObservable(source.pipe(aggregateBars({ timeframes: ['1m'] }))).toBe('---B|', {
          B: built(M, '1m', { o: 101, h: 102, l: 101, c: 102, v: 3, n: 2 }),
        });
      });
    });

    it('keeps a first bar whose first trade is exactly at the open, and emits a partial one when asked to', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const whole = cold('ab|', { a: tick(0, 100, 1), b: tick(M, 101, 1) });
        expectObservable(whole.pipe(aggregateBars({ timeframes: ['1m'] }))).toBe('-A|', {
          A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
        });
        const late = cold('ab|', { a: tick(20 * S, 100, 1), b: tick(M, 101, 1) });
        expectObservable(late.pipe(aggregateBars({ timeframes: ['1m'], partialFirstBar: 'emit' }))).toBe('-A|', {
          A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
        });
      });
    });
  });

  describe('OHLCV in event time', () => {
    it('builds open/high/low/close/volume/trades from one interval and emits the bar when the first tick at or after its end arrives', () => {
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('abcde|', {
          a: tick(0, 100, 1),
          b: tick(10 * S, 105, 2),
          c: tick(20 * S, 95, 0.5),
          d: tick(M - 1, 102, 1.5), // last millisecond of the minute: still in bar 0
          e: tick(M, 101, 1), // first millisecond of the next minute: closes bar 0
        });
        const expected = '   ----A|';
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }))).toBe(expected, {
          A: built(0, '1m', { o: 100, h: 105, l: 95, c: 102, v: 5, n: 4 }),
        });
        expectSubscriptions(source.subscriptions).toBe('^----!');
      });
    });

    it('emits nothing while virtual time passes without a later tick (no wall-clock bars)', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const source = hot('-a-b------------------------------------|', { a: tick(0, 100), b: tick(30 * S, 101) });
        const expected = '  ----------------------------------------|';
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }))).toBe(expected);
      });
    });

    it('aligns buckets to the epoch, so a tick mid-minute opens the bar at the minute', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const t0 = Date.UTC(2024, 0, 1, 12, 34, 56, 789);
        const source = cold('ab|', { a: tick(t0, 10), b: tick(t0 + M, 11) });
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }))).toBe('-A|', {
          A: built(Date.UTC(2024, 0, 1, 12, 34), '1m', { o: 10, h: 10, l: 10, c: 10, v: 1, n: 1 }),
        });
      });
    });

    it('places a tick that arrives out of order inside the open interval by its event time (open = earliest, close = latest trade)', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('abcd|', {
          a: tick(20 * S, 100), // arrives first
          b: tick(50 * S, 104), // the latest trade of the minute
          c: tick(5 * S, 98), // arrives late but is the earliest trade of the minute
          d: tick(M, 99),
        });
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }))).toBe('---A|', {
          A: built(0, '1m', { o: 98, h: 104, l: 98, c: 104, v: 3, n: 3 }),
        });
      });
    });
  });

  describe('several timeframes and series', () => {
    it('builds every configured timeframe from the same ticks and emits the shorter bar first when both close', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('abcdef---|', {
          a: tick(0 * M, 10, 1),
          b: tick(1 * M, 12, 1),
          c: tick(2 * M + 30 * S, 9, 1),
          d: tick(3 * M, 11, 1),
          e: tick(4 * M + 59 * S, 13, 1),
          f: tick(5 * M, 14, 1),
        });
        const expected = '   -BCDE(FG)|';
        // timeframes listed longest first: the order of the config must not matter
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['5m', '1m'] }))).toBe(
          expected,
          {
            B: built(0 * M, '1m', { o: 10, h: 10, l: 10, c: 10, v: 1, n: 1 }),
            C: built(1 * M, '1m', { o: 12, h: 12, l: 12, c: 12, v: 1, n: 1 }),
            D: built(2 * M, '1m', { o: 9, h: 9, l: 9, c: 9, v: 1, n: 1 }),
            E: built(3 * M, '1m', { o: 11, h: 11, l: 11, c: 11, v: 1, n: 1 }),
            F: built(4 * M, '1m', { o: 13, h: 13, l: 13, c: 13, v: 1, n: 1 }),
            G: built(0, '5m', { o: 10, h: 13, l: 9, c: 13, v: 5, n: 5 }),
          },
        );
      });
    });

    it('keeps symbols and venues apart: each series closes on its own later tick and one series’ time does not make another’s ticks late', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const kraken = (ts: number, price: number): TradeTick => ({ ...tick(ts, price), venue: 'kraken' });
        const source = cold('abcdefg|', {
          a: tick(10 * S, 100, 1, 'b1', 'BTC/USDT'),
          b: tick(20 * S, 10, 1, 'e1', 'ETH/USDT'),
          c: tick(M + 5 * S, 101, 1, 'b2', 'BTC/USDT'), // closes BTC minute 0 only
          d: tick(50 * S, 11, 2, 'e2', 'ETH/USDT'), // still ETH minute 0: not late
          e: kraken(30 * S, 200), // its own series: not late either
          f: tick(M + 30 * S, 12, 1, 'e3', 'ETH/USDT'), // closes ETH minute 0
          g: kraken(M, 201), // closes kraken minute 0
        });
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }))).toBe('--B--EK|', {
          B: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }, 'BTC/USDT'),
          E: built(0, '1m', { o: 10, h: 11, l: 10, c: 11, v: 3, n: 2 }, 'ETH/USDT'),
          K: built(0, '1m', { o: 200, h: 200, l: 200, c: 200, v: 1, n: 1 }, 'BTC/USDT', 'kraken'),
        });
      });
    });
  });

  describe('gaps and late ticks', () => {
    it('reports intervals without trades as a BarGap with the number of missing bars, after the last bar, and invents no bar', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('a-b-c----|', { a: tick(0, 100), b: tick(M, 101), c: tick(4 * M + 10 * S, 104) });
        const expected = '   --A-(BG)-|';
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }))).toBe(expected, {
          A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
          B: built(M, '1m', { o: 101, h: 101, l: 101, c: 101, v: 1, n: 1 }),
          G: gap('1m', 2 * M, 4 * M, 2, 4 * M + 10 * S),
        });
      });
    });

    it('counts missing bars per timeframe when one jump spans several intervals of each', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('ab-c------|', { a: tick(0, 100), b: tick(M, 101), c: tick(12 * M + 30 * S, 112) });
        const expected = '   -A-(BgCG)-|';
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m', '5m'] }))).toBe(
          expected,
          {
            A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
            B: built(M, '1m', { o: 101, h: 101, l: 101, c: 101, v: 1, n: 1 }),
            g: gap('1m', 2 * M, 12 * M, 10, 12 * M + 30 * S),
            C: built(0, '5m', { o: 100, h: 101, l: 100, c: 101, v: 2, n: 2 }),
            G: gap('5m', 5 * M, 10 * M, 1, 12 * M + 30 * S),
          },
        );
      });
    });

    it('dead-letters a tick older than the open bar (stamped by the scheduler) and leaves every bar as if it had never come', () => {
      const scheduler = makeTestScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const lateTick = tick(30 * S, 50, 9);
        const source = cold('a-b--c---d|', {
          a: tick(10 * S, 100),
          b: tick(M + 5 * S, 110),
          c: lateTick,
          d: tick(2 * M, 120),
        });
        const expected = '   --A--L---B|';
        expectObservable(
          source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'], scheduler }), map(reasonSaysLate)),
        ).toBe(expected, {
          A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
          L: late(lateTick, 5),
          B: built(M, '1m', { o: 110, h: 110, l: 110, c: 110, v: 1, n: 1 }),
        } as Record<string, AggregatedEvent>);
      });
    });

    it('dead-letters a tick late for the shorter timeframe even though the longer bar is still open, so every timeframe sees the same trades', () => {
      const scheduler = makeTestScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const lateTick = tick(50 * S, 1, 100);
        const source = cold('ab-c-d----|', {
          a: tick(10 * S, 100),
          b: tick(M + 10 * S, 110),
          c: lateTick,
          d: tick(5 * M, 130),
        });
        const expected = '   -A-L-(BgC)|';
        expectObservable(
          source.pipe(
            aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m', '5m'], scheduler }),
            map(reasonSaysLate),
          ),
        ).toBe(expected, {
          A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
          L: late(lateTick, 3),
          B: built(M, '1m', { o: 110, h: 110, l: 110, c: 110, v: 1, n: 1 }),
          g: gap('1m', 2 * M, 5 * M, 3, 5 * M),
          C: built(0, '5m', { o: 100, h: 110, l: 100, c: 110, v: 2, n: 2 }),
        } as Record<string, AggregatedEvent>);
      });
    });
  });

  describe('completion', () => {
    it('drops the still-open bars on completion by default (a partial candle is not a bar)', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('ab|', { a: tick(10 * S, 100), b: tick(M + 10 * S, 110) });
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m', '5m'] }))).toBe(
          '-A|',
          {
            A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
          },
        );
      });
    });

    it('with emitPartialOnComplete emits every open bar, shorter first and per series, just before completing', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('abc|', {
          a: tick(10 * S, 100),
          b: tick(M + 10 * S, 110),
          c: tick(20 * S, 7, 1, 'e', 'ETH/USDT'),
        });
        const expected = '   -A-(BCDE|)';
        expectObservable(
          source.pipe(
            aggregateBars({ partialFirstBar: 'emit', timeframes: ['5m', '1m'], emitPartialOnComplete: true }),
          ),
        ).toBe(expected, {
          A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
          B: built(M, '1m', { o: 110, h: 110, l: 110, c: 110, v: 1, n: 1 }),
          C: built(0, '5m', { o: 100, h: 110, l: 100, c: 110, v: 2, n: 2 }),
          D: built(0, '1m', { o: 7, h: 7, l: 7, c: 7, v: 1, n: 1 }, 'ETH/USDT'),
          E: built(0, '5m', { o: 7, h: 7, l: 7, c: 7, v: 1, n: 1 }, 'ETH/USDT'),
        });
      });
    });
  });

  describe('stream lifecycle', () => {
    it('sends a throwing input to the error channel after the bars it built, and unsubscribes (it used to be reported unhandled and lost)', () => {
      assertThrowingInputReachesErrorChannel(
        () => aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }),
        tick(0, 100),
        tick(2 * M, 101),
      );
    });

    it('passes a source error through and does not flush the open bar, even with emitPartialOnComplete', () => {
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-a-b-#', { a: tick(0, 100), b: tick(M, 101) }, new Error('feed lost'));
        expectObservable(
          source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'], emitPartialOnComplete: true })),
        ).toBe(
          '---A-#',
          {
            A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
          },
          new Error('feed lost'),
        );
        expectSubscriptions(source.subscriptions).toBe('^----!');
      });
    });

    it('completes without output on an empty source, with or without emitPartialOnComplete', () => {
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<TradeTick>('--|');
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }))).toBe('--|');
        expectObservable(
          source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'], emitPartialOnComplete: true })),
        ).toBe('--|');
        expectSubscriptions(source.subscriptions).toBe(['^-!', '^-!']);
      });
    });

    it('stops and unsubscribes from the source when unsubscribed early', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a--b---c--|', { a: tick(0, 100), b: tick(M, 101), c: tick(2 * M, 102) });
        const unsub = '    ^------!';
        expectObservable(source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] })), unsub).toBe(
          '----A--',
          {
            A: built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 }),
          },
        );
        expectSubscriptions(source.subscriptions).toBe('^------!');
      });
    });

    it('starts every subscription clean: a second subscriber is not affected by the first one’s bars', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('ab|', { a: tick(10 * S, 100), b: tick(M, 101) });
        const bars$ = source.pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m'] }));
        const A = built(0, '1m', { o: 100, h: 100, l: 100, c: 100, v: 1, n: 1 });
        expectObservable(bars$).toBe('-A|', { A });
        expectObservable(bars$).toBe('-A|', { A });
      });
    });

    it('refuses a config without timeframes when the operator is created', () => {
      assert.throws(() => aggregateBars({ timeframes: [] }), RangeError);
    });
  });

  describe('real data', () => {
    interface Candle {
      readonly ts: number;
      readonly o: number;
      readonly h: number;
      readonly l: number;
      readonly c: number;
      readonly v: number;
    }

    function readCandles(ctx: Mocha.Context, file: string): Candle[] {
      const lines = readFileSync(requireSharedData(ctx, `candles/${file}`), 'utf8')
        .trim()
        .split('\n')
        .slice(1);
      return lines.map((line) => {
        const [ts, o, h, l, c, v] = line.split(',').map(Number) as [number, number, number, number, number, number];
        return { ts, o, h, l, c, v };
      });
    }

    it('rebuilds binance 1m and 5m BTC/USDT (2023-04) exactly from each 1m candle fed as four ticks (open, high, low, close)', function () {
      const oneMinute = readCandles(this, 'binance_spot_BTCUSDT_1m_2023-04.csv');
      const fiveMinutes = readCandles(this, 'binance_spot_BTCUSDT_5m_2023-04.csv');
      assert.equal(oneMinute.length, 43_199);
      assert.equal(fiveMinutes.length, 8_639);

      const ticks: TradeTick[] = [];
      for (const k of oneMinute) {
        ticks.push(
          tick(k.ts, k.o, 0, `${k.ts}o`),
          tick(k.ts + 15 * S, k.h, 0, `${k.ts}h`),
          tick(k.ts + 30 * S, k.l, 0, `${k.ts}l`),
          tick(k.ts + 45 * S, k.c, k.v, `${k.ts}c`),
        );
      }
      const events: AggregatedEvent[] = [];
      from(ticks)
        .pipe(aggregateBars({ partialFirstBar: 'emit', timeframes: ['1m', '5m'], scheduler: makeTestScheduler() }))
        .subscribe({ next: (e) => events.push(e), error: (e: unknown) => assert.fail(String(e)) });

      assert.deepEqual(
        events.filter((e) => e.kind !== 'bar'),
        [],
        'no gap and no dead letter on contiguous data',
      );
      const bars = events as Bar[];
      const m1 = bars.filter((b) => b.timeframe === '1m');
      const m5 = bars.filter((b) => b.timeframe === '5m');

      // 1m: every candle but the last (still open at completion), all five numbers exact
      assert.equal(m1.length, oneMinute.length - 1);
      m1.forEach((b, i) => {
        const k = oneMinute[i]!;
        assert.deepEqual(
          [b.tsOpen, b.tsEvent, b.open, b.high, b.low, b.close, b.volume, b.trades],
          [k.ts, k.ts + M, k.o, k.h, k.l, k.c, k.v, 4],
          `1m bar ${i}`,
        );
      });

      // 5m: the file starts at the first whole 5 minutes (07:40); the data starts at 07:37, so the
      // aggregate has one leading bar of 3 minutes the file does not have; the last is still open.
      const byOpen = new Map(m5.map((b) => [b.tsOpen, b]));
      assert.equal(m5.length, fiveMinutes.length + 1);
      assert.equal(m5[0]!.tsOpen, fiveMinutes[0]!.ts - 5 * M);
      let worstVolume = 0;
      for (const k of fiveMinutes) {
        const b = byOpen.get(k.ts);
        assert.ok(b, `no 5m bar at ${new Date(k.ts).toISOString()}`);
        assert.deepEqual(
          [b.tsEvent, b.open, b.high, b.low, b.close, b.trades],
          [k.ts + 5 * M, k.o, k.h, k.l, k.c, 20],
          `5m bar at ${new Date(k.ts).toISOString()}`,
        );
        worstVolume = Math.max(worstVolume, Math.abs(b.volume - k.v));
      }
      assert.ok(worstVolume < 1e-9, `5m volume off by up to ${worstVolume}`);
    });
  });
});
