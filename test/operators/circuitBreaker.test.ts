import { deepStrictEqual, equal, ok, throws } from 'node:assert/strict';
import {
  ignoreElements,
  map,
  merge,
  of,
  share,
  timer,
  type Observable,
  type SchedulerAction,
  type SchedulerLike,
} from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import {
  BreakerConfigError,
  BreakerInputError,
  trackBreakers,
  type BreakerStateChanged,
  type ComponentOutcome,
  type TrackBreakersConfig,
} from '../../operators/circuitBreaker';
import { trackTradingMode } from '../../operators/tradingMode';
import type { ModeChanged } from '../../operators/types';
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

  it('opens the global breaker when globalOpenComponents are open, and closes it when fewer are OPEN: a half-open component is probing, not open', () => {
    const ts = makeTestScheduler();
    const events: string[] = [];
    ts.run(({ cold }) => {
      // exchange opens at 2, feed at 5 → global opens at 5. exchange half-open at 22 → 1 open < 2 →
      // global closes at 22; feed half-open at 25; exchange closes at 31. Then both fail again.
      const letters = cold('eeefff 24ms ss 10ms ef |');
      outcomes(ts, letters)
        .pipe(trackBreakers({ ...BASE, scheduler: ts }), brief)
        .subscribe((e) => events.push(e));
    });
    deepStrictEqual(events, [
      'exchange:OPEN@2',
      'feed:OPEN@5',
      'global:OPEN@5',
      'exchange:HALF_OPEN@22',
      'global:CLOSED@22',
      'feed:HALF_OPEN@25',
      'exchange:CLOSED@31',
      // feed fails its probe at 43 and reopens: 1 open < 2, the global breaker stays closed.
      'feed:OPEN@43',
    ]);
  });

  it('a 150 s outage of both feeds pauses the session, and it is Normal again on its own once data flows (default thresholds, virtual time)', () => {
    // As the feeds report it: while the exchange is down each reconnect attempt fails (every 5 s, a
    // disconnect); from 150 s on, one connect, then data flowing (a health beat every 10 s), for 20 minutes.
    const script: { at: number; component: string; ok: boolean }[] = [];
    for (const component of ['feed:ohlcv', 'feed:trades']) {
      for (let t = 0; t < 150_000; t += 5_000) script.push({ at: t, component, ok: false });
      for (let t = 150_000; t <= 1_350_000; t += 10_000) script.push({ at: t, component, ok: true });
    }
    const ts = makeTestScheduler();
    const modes: ModeChanged[] = [];
    const breakers: BreakerStateChanged[] = [];
    ts.run(() => {
      const outcomes$ = merge(
        ...script.map(({ at, component, ok: success }) =>
          timer(at, ts).pipe(map((): ComponentOutcome => ({ component, ok: success, tsEvent: ts.now() }))),
        ),
      );
      const changes$ = outcomes$.pipe(trackBreakers({ scheduler: ts }), share());
      changes$.subscribe((c) => breakers.push(c));
      changes$.pipe(trackTradingMode()).subscribe((m) => modes.push(m));
    });
    ok(
      modes.some((m) => m.to === 'Paused' && m.tsEvent < 150_000),
      'the outage paused the session',
    );
    const last = modes[modes.length - 1]!;
    equal(last.to, 'Normal', `still ${last.to} at the end: ${last.reason}`);
    ok(last.tsEvent <= 150_000 + 5 * 60_000, `Normal only at ${last.tsEvent} ms`);
    // Data flowing closed the component breakers too, not only the global one.
    for (const component of ['feed:ohlcv', 'feed:trades']) {
      const own = breakers.filter((b) => b.component === component);
      equal(own[own.length - 1]!.to, 'CLOSED', `${component} ends ${own[own.length - 1]!.to}`);
    }
  });

  it('after an outage, a feed that reconnects but reports nothing else still lets the mode return to Normal (HALF_OPEN is not open)', () => {
    const ts = makeTestScheduler();
    const modes: ModeChanged[] = [];
    ts.run(() => {
      const script: { at: number; component: string; ok: boolean }[] = [];
      for (const component of ['feed:ohlcv', 'feed:trades']) {
        for (let t = 0; t < 150_000; t += 5_000) script.push({ at: t, component, ok: false });
        script.push({ at: 150_000, component, ok: true }); // the reconnect, then silence from the breakers' view
      }
      merge(
        ...script.map(({ at, component, ok: success }) =>
          timer(at, ts).pipe(map((): ComponentOutcome => ({ component, ok: success, tsEvent: ts.now() }))),
        ),
        // The session goes on for 20 minutes (completing would cancel the cooldowns).
        timer(1_350_000, ts).pipe(ignoreElements()),
      )
        .pipe(trackBreakers({ scheduler: ts }), trackTradingMode())
        .subscribe((m) => modes.push(m));
    });
    equal(modes[modes.length - 1]!.to, 'Normal');
  });

  it('a restart restores the breakers the journal left open: OPEN components (and so the global breaker) start open, cool down, and close once outcomes succeed', () => {
    const ts = makeTestScheduler();
    const seen: string[] = [];
    ts.run(({ cold }) => {
      // Restored at frame 0 (one tick after subscription): exchange and feed OPEN → global OPEN;
      // half-open at 20 (cooldown) → global closes; successes at 31–34 close both.
      outcomes(ts, cold('31ms stst|'))
        .pipe(
          trackBreakers({ ...BASE, scheduler: ts, restore: { exchange: 'OPEN', feed: 'OPEN', global: 'OPEN' } }),
          brief,
        )
        .subscribe((e) => seen.push(`${e}/${ts.now()}`));
    });
    deepStrictEqual(seen, [
      'exchange:OPEN@0/0',
      'feed:OPEN@0/0',
      'global:OPEN@0/0',
      'exchange:HALF_OPEN@20/20',
      'global:CLOSED@20/20',
      'feed:HALF_OPEN@20/20',
      'exchange:CLOSED@33/33',
      'feed:CLOSED@34/34',
    ]);
  });

  it('a restored HALF_OPEN breaker needs its successes to close; CLOSED entries change nothing; a bad restored state is named', () => {
    const ts = makeTestScheduler();
    const events: BreakerStateChanged[] = [];
    ts.run(({ cold }) => {
      outcomes(ts, cold('-ss|'))
        .pipe(trackBreakers({ ...BASE, scheduler: ts, restore: { exchange: 'HALF_OPEN', feed: 'CLOSED' } }))
        .subscribe((e) => events.push(e));
    });
    deepStrictEqual(
      events.map((e) => `${e.component}:${e.from}→${e.to}@${e.tsEvent} ${e.reason.split(',')[0]}`),
      [
        'exchange:CLOSED→HALF_OPEN@0 restored from the journal',
        'exchange:HALF_OPEN→CLOSED@2 2 successes in half-open ≥ 2',
      ],
    );
    throws(
      () => trackBreakers({ restore: { exchange: 'AJAR' as never } }),
      (e: unknown) =>
        e instanceof BreakerConfigError &&
        /restore\.exchange must be CLOSED, OPEN or HALF_OPEN, found "AJAR"/.test(e.message),
    );
  });

  it('a failure marked trip (an invariant break) opens a CLOSED or HALF_OPEN breaker at once, with its reason', () => {
    const ts = makeTestScheduler();
    const events: BreakerStateChanged[] = [];
    ts.run(({ cold }) => {
      cold('s-t 25ms t 100ms |', {
        s: { component: 'venue', ok: true, tsEvent: 0 },
        t: { component: 'venue', ok: false, trip: true, reason: 'reconciliation adopted 1 trades', tsEvent: 0 },
      })
        .pipe(
          map((o): ComponentOutcome => ({ ...o, tsEvent: ts.now() })),
          trackBreakers({ ...BASE, scheduler: ts }),
        )
        .subscribe((e) => events.push(e));
    });
    deepStrictEqual(
      events.map((e) => `${e.component}:${e.from}→${e.to}@${e.tsEvent}`),
      ['venue:CLOSED→OPEN@2', 'venue:OPEN→HALF_OPEN@22', 'venue:HALF_OPEN→OPEN@28', 'venue:OPEN→HALF_OPEN@68'],
    );
    equal(events[0]!.reason, 'tripped: reconciliation adopted 1 trades; cooldown 20 ms');
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
