import { deepStrictEqual, equal, ok, throws } from 'node:assert/strict';
import { map, of, type Observable, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import {
  BreakerConfigError,
  BreakerInputError,
  trackBreakers,
  type BreakerStateChanged,
  type ComponentOutcome,
  type TrackBreakersConfig,
} from '../../operators/circuitBreaker';
import { makeTestScheduler } from '../support/marbles';

/** Small numbers so that the marbles stay short: 1 frame = 1 ms. */
const BASE: TrackBreakersConfig = {
  windowMs: 10,
  minCalls: 4,
  tripErrorRate: 0.5,
  closeErrorRate: 0.25,
  consecutiveErrors: 3,
  cooldownMs: 20,
  cooldownBackoff: 2,
  maxCooldownMs: 50,
  halfOpenSuccesses: 2,
  globalOpenComponents: 2,
};

/** `s`/`e`: success/error of `exchange`; `t`/`f`: success/error of `feed` — stamped with the frame. */
function outcomes(scheduler: TestScheduler, letters$: Observable<string>): Observable<ComponentOutcome> {
  return letters$.pipe(
    map((letter) => ({
      component: letter === 's' || letter === 'e' ? 'exchange' : 'feed',
      ok: letter === 's' || letter === 't',
      tsEvent: scheduler.now(),
    })),
  );
}

/** `component:TO@tsEvent`, so the marbles also check that each change is stamped with its instant. */
const brief = map((c: BreakerStateChanged) => `${c.component}:${c.to}@${c.tsEvent}`);

/** The test scheduler, recording the instants at which the operator's timers actually ran. */
function spyScheduler(scheduler: TestScheduler): { scheduler: SchedulerLike; ran: number[] } {
  const ran: number[] = [];
  return {
    ran,
    scheduler: {
      now: () => scheduler.now(),
      schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T) {
        return scheduler.schedule<T>(
          function (this: SchedulerAction<T>, s?: T) {
            ran.push(scheduler.now());
            work.call(this, s);
          },
          delay,
          state,
        );
      },
    },
  };
}

describe('trackBreakers', () => {
  it('opens a component when the error rate over the window reaches tripErrorRate with minCalls calls', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const letters = cold('esse|');
      expectObservable(outcomes(ts, letters).pipe(trackBreakers({ ...BASE, scheduler: ts }), brief)).toBe('---o|', {
        o: 'exchange:OPEN@3',
      });
      expectSubscriptions(letters.subscriptions).toBe('^---!');
    });
  });

  it('reports the numbers that tripped it in the reason and in numbers', () => {
    const ts = makeTestScheduler();
    const events: BreakerStateChanged[] = [];
    ts.run(({ cold }) => {
      outcomes(ts, cold('esse|'))
        .pipe(trackBreakers({ ...BASE, scheduler: ts }))
        .subscribe((e) => events.push(e));
    });
    deepStrictEqual(events, [
      {
        kind: 'breaker-state-changed',
        component: 'exchange',
        from: 'CLOSED',
        to: 'OPEN',
        reason: 'error rate 0.50 ≥ 0.5 over 4 calls in 10 ms; cooldown 20 ms',
        numbers: { errorRate: 0.5, calls: 4, windowMs: 10, tripErrorRate: 0.5, cooldownMs: 20 },
        tsEvent: 3,
      },
    ]);
  });

  it('does not trip on a high rate below minCalls nor on a rate below tripErrorRate', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      // e,s,e: rate 0.67 over 3 calls (< minCalls 4); they leave the 10 ms window; then 1 error in 5 calls = 0.2.
      expectObservable(
        outcomes(ts, cold('ese 10ms sssse|')).pipe(trackBreakers({ ...BASE, scheduler: ts }), brief),
      ).toBe('--- 10ms -----|');
    });
  });

  it('opens after consecutiveErrors errors in a row, even below minCalls', () => {
    const ts = makeTestScheduler();
    const events: BreakerStateChanged[] = [];
    ts.run(({ cold, expectObservable }) => {
      const out = outcomes(ts, cold('eee|')).pipe(trackBreakers({ ...BASE, scheduler: ts }));
      out.subscribe((e) => events.push(e));
      expectObservable(out.pipe(brief)).toBe('--o|', { o: 'exchange:OPEN@2' });
    });
    equal(events[0]!.reason, '3 consecutive errors ≥ 3; cooldown 20 ms');
  });

  it('goes HALF_OPEN on the scheduler cooldownMs after opening, with no outcome arriving, then closes after halfOpenSuccesses successes', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      // Errors at 0–2 (open at 2); half-open at 22 by the timer; successes at 33, 34 — the errors
      // have left the 10 ms window, so the rate is 0 ≤ 0.25 and 2 successes close it.
      const letters = cold('eee 30ms ss|');
      expectObservable(outcomes(ts, letters).pipe(trackBreakers({ ...BASE, scheduler: ts }), brief)).toBe(
        '--o 19ms h 10ms -c|',
        {
          o: 'exchange:OPEN@2',
          h: 'exchange:HALF_OPEN@22',
          c: 'exchange:CLOSED@34',
        },
      );
    });
  });

  it('hysteresis: a HALF_OPEN breaker closes only once the window error rate is at or below closeErrorRate, lower than the trip rate', () => {
    const ts = makeTestScheduler();
    const events: BreakerStateChanged[] = [];
    ts.run(({ cold, expectObservable }) => {
      // Window 1 s keeps the two errors. After the cooldown: 2/5 = 0.4, 2/6 = 0.33 (enough successes,
      // and a rate that would not trip, but > 0.25), 2/7 = 0.29, 2/8 = 0.25 → closes.
      const out = outcomes(ts, cold('esse 30ms ssss|')).pipe(trackBreakers({ ...BASE, windowMs: 1000, scheduler: ts }));
      out.subscribe((e) => events.push(e));
      expectObservable(out.pipe(brief)).toBe('---o 19ms h 13ms c|', {
        o: 'exchange:OPEN@3',
        h: 'exchange:HALF_OPEN@23',
        c: 'exchange:CLOSED@37',
      });
    });
    equal(events[2]!.reason, '4 successes in half-open ≥ 2, error rate 0.25 ≤ 0.25 over 8 calls in 1000 ms');
  });

  it('reopens on any error in HALF_OPEN with a backed-off cooldown bounded by maxCooldownMs, and closing resets the backoff', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const letters = cold('eee 22ms e 44ms e 59ms ss 8ms eee 30ms |');
      const withCooldown = map(
        (c: BreakerStateChanged) => `${c.to}@${c.tsEvent}${c.to === 'OPEN' ? `/${c.numbers['cooldownMs']}` : ''}`,
      );
      expectObservable(outcomes(ts, letters).pipe(trackBreakers({ ...BASE, scheduler: ts }), withCooldown)).toBe(
        '--a 19ms b--c 39ms d 4ms e 49ms f 10ms g 10ms h 19ms i 10ms |',
        {
          a: 'OPEN@2/20',
          b: 'HALF_OPEN@22',
          c: 'OPEN@25/40', // ×2
          d: 'HALF_OPEN@65',
          e: 'OPEN@70/50', // ×4 = 80, bounded by 50
          f: 'HALF_OPEN@120',
          g: 'CLOSED@131',
          h: 'OPEN@142/20', // backoff reset by closing
          i: 'HALF_OPEN@162',
        },
      );
    });
  });

  it('opens the global breaker when globalOpenComponents are open, and closes it only when fewer are open or half-open', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      // exchange opens at 2, feed at 5 → global opens at 5. Both half-open (22, 25): global stays open.
      // exchange closes at 31 → 1 component not closed < 2 → global closes.
      const letters = cold('eeefff 24ms ss 10ms |');
      expectObservable(outcomes(ts, letters).pipe(trackBreakers({ ...BASE, scheduler: ts }), brief)).toBe(
        '--a--(bg) 13ms c--d 5ms (eG) 7ms |',
        {
          a: 'exchange:OPEN@2',
          b: 'feed:OPEN@5',
          g: 'global:OPEN@5',
          c: 'exchange:HALF_OPEN@22',
          d: 'feed:HALF_OPEN@25',
          e: 'exchange:CLOSED@31',
          G: 'global:CLOSED@31',
        },
      );
    });
  });

  it('names the open components and the count in the global reason', () => {
    const ts = makeTestScheduler();
    const events: BreakerStateChanged[] = [];
    ts.run(({ cold }) => {
      outcomes(ts, cold('eeefff|'))
        .pipe(trackBreakers({ ...BASE, scheduler: ts }))
        .subscribe((e) => events.push(e));
    });
    const global = events.find((e) => e.component === 'global')!;
    equal(global.reason, '2 components open ≥ 2: exchange, feed');
    deepStrictEqual(global.numbers, { open: 2, limit: 2, components: 'exchange,feed' });
  });

  it('lets an outcome whose event time is past the cooldown end it before the timer does (fast replay)', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const e = (t: number): ComponentOutcome => ({ component: 'exchange', ok: false, tsEvent: t });
      const source = cold('abcd 36ms |', {
        a: e(1000),
        b: e(1001),
        c: e(1002),
        d: { component: 'exchange', ok: true, tsEvent: 1030 },
      });
      // No second HALF_OPEN at frame 22: the timer was cancelled.
      expectObservable(source.pipe(trackBreakers({ ...BASE, scheduler: ts }), brief)).toBe('--oh 36ms |', {
        o: 'exchange:OPEN@1002',
        h: 'exchange:HALF_OPEN@1022',
      });
    });
  });

  it('handles a synchronous source, and its completion cancels the pending cooldown', () => {
    const ts = makeTestScheduler();
    const spy = spyScheduler(ts);
    ts.run(({ expectObservable }) => {
      const e: ComponentOutcome = { component: 'exchange', ok: false, tsEvent: 0 };
      expectObservable(of(e, e, e).pipe(trackBreakers({ ...BASE, scheduler: spy.scheduler }), brief)).toBe('(o|)', {
        o: 'exchange:OPEN@0',
      });
    });
    deepStrictEqual(spy.ran, []);
  });

  it('completes with an empty source and emits nothing', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const letters = cold('---|');
      expectObservable(outcomes(ts, letters).pipe(trackBreakers({ ...BASE, scheduler: ts }))).toBe('---|');
      expectSubscriptions(letters.subscriptions).toBe('^--!');
    });
  });

  it('passes a source error on and tears the cooldown timer down', () => {
    const ts = makeTestScheduler();
    const spy = spyScheduler(ts);
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const letters = cold('eee-#', undefined, new Error('feed died'));
      expectObservable(outcomes(ts, letters).pipe(trackBreakers({ ...BASE, scheduler: spy.scheduler }), brief)).toBe(
        '--o-#',
        { o: 'exchange:OPEN@2' },
        new Error('feed died'),
      );
      expectSubscriptions(letters.subscriptions).toBe('^---!');
    });
    deepStrictEqual(spy.ran, []);
  });

  it('on early unsubscribe stops the source and the pending cooldown', () => {
    const ts = makeTestScheduler();
    const spy = spyScheduler(ts);
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const letters = hot('-eee------');
      expectObservable(
        outcomes(ts, letters).pipe(trackBreakers({ ...BASE, scheduler: spy.scheduler }), brief),
        '^-----!',
      ).toBe('---o--', { o: 'exchange:OPEN@3' });
      expectSubscriptions(letters.subscriptions).toBe('^-----!');
    });
    deepStrictEqual(spy.ran, []);
  });

  it('sends an outcome it cannot account for (the reserved name, a non-finite time) to the error channel', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('ab', {
        a: { component: 'exchange', ok: false, tsEvent: 0 },
        b: { component: 'global', ok: true, tsEvent: 1 },
      });
      expectObservable(source.pipe(trackBreakers({ ...BASE, scheduler: ts }))).toBe(
        '-#',
        undefined,
        new BreakerInputError('component must be a non-empty name other than "global", got "global"'),
      );
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
    const errors: unknown[] = [];
    of<ComponentOutcome>({ component: 'model', ok: true, tsEvent: Number.NaN })
      .pipe(trackBreakers(BASE))
      .subscribe({ error: (e: unknown) => errors.push(e) });
    ok(errors[0] instanceof BreakerInputError);
  });

  it('uses the spec default trip rate 0.5 and rejects a config that cannot work before anything subscribes', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      // Defaults: minCalls 20, consecutiveErrors 5: 10 errors alternating with 10 successes = 0.5 over 20 calls.
      const letters = cold('eseseseseseseseseses|');
      expectObservable(outcomes(ts, letters).pipe(trackBreakers({ scheduler: ts }), brief)).toBe(
        '-------------------o|',
        { o: 'exchange:OPEN@19' },
      );
    });
    throws(() => trackBreakers({ tripErrorRate: 0.5, closeErrorRate: 0.5 }), BreakerConfigError);
    throws(() => trackBreakers({ tripErrorRate: 1.5 }), /tripErrorRate must be in \(0, 1\], found 1.5/);
    throws(() => trackBreakers({ minCalls: 0 }), /minCalls must be an integer ≥ 1/);
    throws(() => trackBreakers({ cooldownMs: 1000, maxCooldownMs: 500 }), /maxCooldownMs/);
    throws(() => trackBreakers({ cooldownBackoff: 0.5 }), /cooldownBackoff/);
  });
});
