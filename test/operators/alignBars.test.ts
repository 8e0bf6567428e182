/**
 * alignBars: the live bars of several symbols released by close time in the universe's order —
 * when every symbol has sent its bar, when a later close time arrives, or after the wait.
 */
import { throws } from 'node:assert/strict';
import { map } from 'rxjs';
import { alignBars } from '../../operators/alignBars';
import type { Bar } from '../../operators/types';
import { bar } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const M = 60_000;
const A = 'A/USDT';
const B = 'B/USDT';
const C = 'C/USDT';
const a1 = bar(0, { o: 1 }, '1m', A);
const a2 = bar(M, { o: 2 }, '1m', A);
const a3 = bar(2 * M, { o: 3 }, '1m', A);
const b1 = bar(0, { o: 10 }, '1m', B);
const b2 = bar(M, { o: 20 }, '1m', B);
const c1 = bar(0, { o: 100 }, '1m', C);
const x1 = bar(0, { o: 7 }, '1m', 'X/USDT');
const values = { a: a1, b: b1, c: c1, d: a2, e: b2, f: a3, x: x1 };

describe('alignBars', () => {
  it('releases the bars of one close time in the universe order once every symbol has sent its bar; an incomplete one at completion', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-c-b-a----e-d-----|', values);
      expectObservable(source.pipe(alignBars({ symbols: [A, B, C], waitMs: 1_000 }))).toBe(
        '-----(abc)--------(de|)',
        values,
      );
      expectSubscriptions(source.subscriptions).toBe('^-----------------!');
    });
  });

  it('does not stall on a missing symbol: a later close time releases the earlier one, and so does the wait', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      // C never sends. a2 arrives: close time 1 is over. Close time 2 goes when its wait ends.
      const source = cold('-a-b-d-e 20ms --|', values);
      expectObservable(source.pipe(alignBars({ symbols: [A, B, C], waitMs: 10, scheduler }))).toBe(
        '-----(ab)------(de) 11ms |',
        values,
      );
    });
  });

  it('passes a bar of another symbol, and a late bar of a released close time, straight through', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-x-a-d-b-e---|', values);
      // b1 comes after a2 released close time 1 without it: it passes at once, in its own series order.
      expectObservable(source.pipe(alignBars({ symbols: [A, B], waitMs: 1_000 }))).toBe('-x---a-b-(de)|', values);
    });
  });

  it('on completion and on a source error, the bars still waiting go out first: nothing accepted is lost', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-d|', values).pipe(alignBars({ symbols: [A, B], waitMs: 1_000 }))).toBe(
        '---a(d|)',
        values,
      );
      expectObservable(cold('-a-d#', values).pipe(alignBars({ symbols: [A, B], waitMs: 1_000 }))).toBe(
        '---a(d#)',
        values,
      );
    });
  });

  it('a throwing stage before it reaches the error channel after the waiting bars', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('bad bar');
      const source = cold('-a-b-----d|', values).pipe(
        map((x: Bar) => {
          if (x === a2) throw boom;
          return x;
        }),
      );
      expectObservable(source.pipe(alignBars({ symbols: [A, B], waitMs: 1_000 }))).toBe('---(ab)--#', values, boom);
    });
  });

  it('unsubscribing early stops the source and the timers: nothing is emitted after', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-d-e|', values);
      expectObservable(source.pipe(alignBars({ symbols: [A, B, C], waitMs: 3 })), '^--!').toBe('---', values);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('names a bad configuration', () => {
    throws(() => alignBars({ symbols: [A, A] }), /symbols: expected each symbol once/);
    throws(() => alignBars({ symbols: [A], waitMs: -1 }), /waitMs: expected a finite number/);
  });
});
