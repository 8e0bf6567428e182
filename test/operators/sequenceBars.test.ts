/**
 * sequenceBars: per (venue, symbol, timeframe), bars pass in order; a duplicate or an older bar is a
 * dead letter (never a second decision on one interval); a jump passes after a BarGap.
 */
import { equal, match, ok } from 'node:assert/strict';
import { map } from 'rxjs';
import { sequenceBars } from '../../operators/sequenceBars';
import type { Bar, BarGap, DeadLetter, Timeframe } from '../../operators/types';
import { bar } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const M = 60_000;

type Sequenced = Bar | BarGap | DeadLetter;

function gap(timeframe: Timeframe, from: number, to: number, missing: number, symbol = 'BTC/USDT'): BarGap {
  return { kind: 'gap', venue: 'binance', symbol, timeframe, from, to, missing, tsEvent: to };
}

/** A dead letter as compared after {@link reasonWord}. */
function rejected(raw: Bar, word: 'duplicate' | 'out-of-order', tsInit: number): DeadLetter {
  return { kind: 'dead-letter', stage: 'sequenceBars', reason: word, raw, tsInit };
}

/** Reduces a dead letter's reason to its verdict word when the reason also names the bar's open time. */
const reasonWord = map((event: Sequenced): Sequenced => {
  if (event.kind !== 'dead-letter') return event;
  const word = /^(duplicate|out-of-order)\b/.exec(event.reason)?.[1];
  return word && event.reason.includes(String((event.raw as Bar).tsOpen)) ? { ...event, reason: word } : event;
});

describe('sequenceBars', () => {
  it('passes adjacent bars through unchanged and in order', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = { a: bar(0, { o: 1 }), b: bar(M, { o: 2 }), c: bar(2 * M, { o: 3 }) };
      const source = cold('a-b-c|', values);
      expectObservable(source.pipe(sequenceBars())).toBe('a-b-c|', values);
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('dead-letters a repeated bar (same open, even with other prices) and does not pass it a second time', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const a = bar(0, { o: 1 });
      const b = bar(M, { o: 2 });
      const again = bar(M, { o: 2.5 }); // a corrected copy would still be a second decision on one interval
      const c = bar(2 * M, { o: 3 });
      const source = cold('a-b-x-c|', { a, b, x: again, c });
      expectObservable(source.pipe(sequenceBars({ scheduler }), reasonWord)).toBe('a-b-x-c|', {
        a,
        b,
        x: rejected(again, 'duplicate', 4),
        c,
      });
    });
  });

  it('dead-letters an older bar as out of order and keeps the newest accepted bar as the reference (no gap after it)', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const a = bar(0, { o: 1 });
      const b = bar(M, { o: 2 });
      const c = bar(2 * M, { o: 3 });
      const d = bar(3 * M, { o: 4 });
      const source = cold('a-b-c-x-d|', { a, b, c, x: a, d });
      expectObservable(source.pipe(sequenceBars({ scheduler }), reasonWord)).toBe('a-b-c-x-d|', {
        a,
        b,
        c,
        x: rejected(a, 'out-of-order', 6),
        d,
      });
    });
  });

  it('emits a BarGap with the number of missing bars, then the bar after the gap, in the same frame', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const a = bar(0, { o: 1 });
      const c = bar(3 * M, { o: 4 });
      const f0 = bar(0, { o: 10 }, '5m');
      const f4 = bar(20 * M, { o: 14 }, '5m');
      const source = cold('a-c---d-e---|', { a, c, d: f0, e: f4 });
      const expected = '   a-(gc)d-(Ge)|';
      expectObservable(source.pipe(sequenceBars())).toBe(expected, {
        a,
        g: gap('1m', M, 3 * M, 2),
        c,
        d: f0,
        G: gap('5m', 5 * M, 20 * M, 3),
        e: f4,
      });
    });
  });

  it('sequences each venue, symbol and timeframe on its own', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const btc2 = bar(2 * M, { o: 100 });
      const eth0 = bar(0, { o: 10 }, '1m', 'ETH/USDT'); // older than BTC's last bar: fine, another series
      const btc5m0 = bar(0, { o: 99 }, '5m'); // another timeframe of the same symbol
      const btc3 = bar(3 * M, { o: 101 });
      const krakenBtc0: Bar = { ...bar(0, { o: 98 }), venue: 'kraken' }; // another venue
      const eth2 = bar(2 * M, { o: 12 }, '1m', 'ETH/USDT');
      const source = cold('abcdefg---|', { a: btc2, b: eth0, c: btc5m0, d: btc3, e: eth0, f: krakenBtc0, g: eth2 });
      const expected = '   abcdxf(Gg)|';
      expectObservable(source.pipe(sequenceBars({ scheduler }), reasonWord)).toBe(expected, {
        a: btc2,
        b: eth0,
        c: btc5m0,
        d: btc3,
        x: rejected(eth0, 'duplicate', 4),
        f: krakenBtc0,
        G: gap('1m', M, 2 * M, 1, 'ETH/USDT'),
        g: eth2,
      });
    });
  });

  it('sends a throwing input to the error channel after the bars it passed, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(() => sequenceBars(), bar(0, { o: 1 }), bar(2 * M, { o: 2 }));
  });

  it('passes a source error through', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = { a: bar(0, { o: 1 }), b: bar(M, { o: 2 }) };
      const source = cold('a-b-#', values, new Error('replay failed'));
      expectObservable(source.pipe(sequenceBars())).toBe('a-b-#', values, new Error('replay failed'));
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('completes without output on an empty source', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Bar>('---|');
      expectObservable(source.pipe(sequenceBars())).toBe('---|');
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('stops and unsubscribes from the source when unsubscribed early', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const values = { a: bar(0, { o: 1 }), b: bar(M, { o: 2 }), c: bar(2 * M, { o: 3 }) };
      const source = hot('-a--b---c--|', values);
      const unsub = '    ^------!';
      expectObservable(source.pipe(sequenceBars()), unsub).toBe('-a--b--', values);
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('starts every subscription clean: replaying the same bars to a second subscriber is not a duplicate', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const values = { a: bar(0, { o: 1 }), b: bar(M, { o: 2 }) };
      const bars$ = cold('ab|', values).pipe(sequenceBars());
      expectObservable(bars$).toBe('ab|', values);
      expectObservable(bars$).toBe('ab|', values);
    });
  });

  describe('bad bars from a live feed become dead letters, never decisions', () => {
    const steady = (n: number, price = 100): Bar[] =>
      Array.from({ length: n }, (_, i) =>
        bar(i * M, { o: price, h: price * 1.001, l: price * 0.999, c: price * (1 + (i % 2) * 0.001) }),
      );

    it('dead-letters a bar with a zero price or a high below its close, naming the column', () => {
      const scheduler = makeTestScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const a = bar(0, { o: 100 });
        const zero = bar(M, { o: 0, h: 0, l: 0, c: 0 });
        const inverted = bar(2 * M, { o: 100, h: 99, l: 98, c: 100 });
        const d = bar(3 * M, { o: 101 });
        const reason = map((event: Sequenced) =>
          event.kind === 'dead-letter'
            ? `${/^impossible/.test(event.reason)}:${/open|high/.exec(event.reason)?.[0]}`
            : event,
        );
        expectObservable(
          cold('a-z-i-d---|', { a, z: zero, i: inverted, d }).pipe(sequenceBars({ scheduler }), reason),
        ).toBe('a-z-i-(gd)|', { a, z: 'true:open', i: 'true:high', g: gap('1m', M, 3 * M, 2), d });
      });
    });

    it('dead-letters a bad tick (close ×1000) and passes the next good bar; outliers: false lets it through', () => {
      const bars = steady(30);
      const spike = bar(30 * M, { o: 100, h: 100_000, l: 100, c: 100_000 });
      const after = bar(31 * M, { o: 100, h: 100.1, l: 99.9, c: 100 });
      const run = (config: Parameters<typeof sequenceBars>[0]): Sequenced[] => {
        const out: Sequenced[] = [];
        makeTestScheduler().run(({ cold }) => {
          cold(`${'a'.repeat(32)}|`, {})
            .pipe(
              map((_, i) => [...bars, spike, after][i]!),
              sequenceBars(config),
            )
            .subscribe((event) => out.push(event));
        });
        return out;
      };
      const guarded = run({});
      const letters = guarded.filter((e): e is DeadLetter => e.kind === 'dead-letter');
      equal(letters.length, 1);
      match(
        letters[0]!.reason,
        /^outlier BTC\/USDT 1m bar at 1800000: (high|close): expected a price within ×3 of the previous close/,
      );
      equal(letters[0]!.raw, spike);
      ok(guarded.includes(after));
      const off = run({ outliers: false });
      ok(off.includes(spike));
      equal(off.filter((e) => e.kind === 'dead-letter').length, 0);
    });
  });
});
