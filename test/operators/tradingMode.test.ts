import { deepStrictEqual, equal, ok, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { Subject, map, of, type Observable } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import type { BreakerState, BreakerStateChanged } from '../../operators/circuitBreaker';
import {
  MODE_SEVERITY,
  ModeConfigError,
  ModeInputError,
  currentMode,
  trackTradingMode,
  type ModeInput,
  type TrackTradingModeConfig,
} from '../../operators/tradingMode';
import type { Mode, ModeChanged, Portfolio } from '../../operators/types';
import { cashPortfolio } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const portfolio = (drawdown: number, tsEvent = 0): Portfolio => ({ ...cashPortfolio('10000', tsEvent), drawdown });
const breaker = (to: BreakerState, tsEvent = 0, component = 'global'): BreakerStateChanged => ({
  kind: 'breaker-state-changed',
  component,
  from: to === 'OPEN' ? 'CLOSED' : 'OPEN',
  to,
  reason: to === 'OPEN' ? '2 components open ≥ 2: exchange, feed' : '0 components not closed < 2',
  numbers: {},
  tsEvent,
});
const kill = (pressed: boolean, tsEvent = 0): ModeInput => ({ kind: 'kill-switch', pressed, reason: 'BCM17', tsEvent });
const reset = (reason: string, tsEvent = 0): ModeInput => ({ kind: 'mode-reset', reason, tsEvent });
const request = (to: Mode, reason: string, tsEvent = 0): ModeInput => ({ kind: 'mode-request', to, reason, tsEvent });

/** Letters → inputs stamped with the frame they arrive at. */
function inputs(
  scheduler: TestScheduler,
  letters$: Observable<string>,
  dictionary: Record<string, (tsEvent: number) => ModeInput>,
): Observable<ModeInput> {
  return letters$.pipe(map((letter) => dictionary[letter]!(scheduler.now())));
}
const brief = map((c: ModeChanged) => `${c.from}→${c.to}@${c.tsEvent}`);

describe('trackTradingMode', () => {
  it('escalates on drawdown: ≥ 15 % Reduced, ≥ 25 % Emergency, with the numbers in the reason', () => {
    const ts = makeTestScheduler();
    const events: ModeChanged[] = [];
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const letters = cold('-a-b-c-d|');
      const out = inputs(ts, letters, {
        a: (t) => portfolio(0.05, t),
        b: (t) => portfolio(0.15, t),
        c: (t) => portfolio(0.2, t),
        d: (t) => portfolio(0.25, t),
      }).pipe(trackTradingMode());
      out.subscribe((e) => events.push(e));
      expectObservable(out.pipe(brief)).toBe('---r---e|', { r: 'Normal→Reduced@3', e: 'Reduced→Emergency@7' });
      expectSubscriptions(letters.subscriptions).toBe(['^-------!', '^-------!']);
    });
    deepStrictEqual(events, [
      { kind: 'mode-changed', from: 'Normal', to: 'Reduced', reason: 'drawdown 0.15 ≥ 0.15', tsEvent: 3 },
      {
        kind: 'mode-changed',
        from: 'Reduced',
        to: 'Emergency',
        reason: 'drawdown 0.25 ≥ emergency limit 0.25',
        tsEvent: 7,
      },
    ]);
  });

  it('hysteresis: Reduced returns to Normal only when the drawdown falls below recoverDrawdown, not merely below 15 %', () => {
    const ts = makeTestScheduler();
    const events: ModeChanged[] = [];
    ts.run(({ cold, expectObservable }) => {
      const out = inputs(ts, cold('abcdef|'), {
        a: (t) => portfolio(0.16, t),
        b: (t) => portfolio(0.14, t),
        c: (t) => portfolio(0.1, t), // not < 0.10
        d: (t) => portfolio(0.09, t),
        e: (t) => portfolio(0.14, t), // below 15 %: stays Normal
        f: (t) => portfolio(0.15, t),
      }).pipe(trackTradingMode());
      out.subscribe((e) => events.push(e));
      expectObservable(out.pipe(brief)).toBe('r--n-R|', {
        r: 'Normal→Reduced@0',
        n: 'Reduced→Normal@3',
        R: 'Normal→Reduced@5',
      });
    });
    equal(events[1]!.reason, 'drawdown 0.09 < recovery 0.1');
  });

  it('pauses while the global breaker is open and returns to what the other causes justify when it closes; component breakers do not change the mode', () => {
    const ts = makeTestScheduler();
    const events: ModeChanged[] = [];
    ts.run(({ cold, expectObservable }) => {
      const out = inputs(ts, cold('xo-c-do-c|'), {
        x: (t) => breaker('OPEN', t, 'exchange'),
        o: (t) => breaker('OPEN', t),
        c: (t) => breaker('CLOSED', t),
        d: (t) => portfolio(0.17, t),
      }).pipe(trackTradingMode());
      out.subscribe((e) => events.push(e));
      expectObservable(out.pipe(brief)).toBe('-p-n-rq-R|', {
        p: 'Normal→Paused@1',
        n: 'Paused→Normal@3',
        r: 'Normal→Reduced@5',
        q: 'Reduced→Paused@6',
        R: 'Paused→Reduced@8',
      });
    });
    equal(events[0]!.reason, 'global breaker OPEN: 2 components open ≥ 2: exchange, feed');
    equal(
      events[4]!.reason,
      'global breaker CLOSED: 0 components not closed < 2; still Reduced: drawdown 0.17 not yet < 0.1',
    );
  });

  it('latches Emergency on the kill switch: release, requests, breakers and recovery do not leave it; a reset needs a reason and the switch released', () => {
    const ts = makeTestScheduler();
    const events: ModeChanged[] = [];
    ts.run(({ cold, expectObservable }) => {
      const out = inputs(ts, cold('koNcdRu-E-G|'), {
        k: (t) => kill(true, t),
        o: (t) => breaker('OPEN', t),
        N: (t) => request('Normal', 'let me trade', t),
        c: (t) => breaker('CLOSED', t),
        d: (t) => portfolio(0.01, t),
        R: (t) => reset('checked', t), // refused: still pressed
        u: (t) => kill(false, t),
        E: (t) => reset('   ', t), // refused: no reason
        G: (t) => reset('wiring checked, switch released', t),
      }).pipe(trackTradingMode());
      out.subscribe((e) => events.push(e));
      expectObservable(out.pipe(brief)).toBe('e---------n|', { e: 'Normal→Emergency@0', n: 'Emergency→Normal@10' });
    });
    equal(events[0]!.reason, 'kill switch pressed: BCM17');
    equal(events[1]!.reason, 'reset: wiring checked, switch released');
  });

  it('after a reset, goes back to the mode the remaining causes justify', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const out = inputs(ts, cold('dokur|'), {
        d: (t) => portfolio(0.16, t),
        o: (t) => breaker('OPEN', t),
        k: (t) => kill(true, t),
        u: (t) => kill(false, t),
        r: (t) => reset('inspected', t),
      }).pipe(trackTradingMode());
      expectObservable(out.pipe(brief)).toBe('rpe-P|', {
        r: 'Normal→Reduced@0',
        p: 'Reduced→Paused@1',
        e: 'Paused→Emergency@2',
        P: 'Emergency→Paused@4',
      });
    });
  });

  it('a reset with the drawdown still over the emergency limit leaves Reduced; Emergency returns if the drawdown deepens beyond the acknowledged level', () => {
    const ts = makeTestScheduler();
    const events: ModeChanged[] = [];
    ts.run(({ cold, expectObservable }) => {
      const out = inputs(ts, cold('arbcde|'), {
        a: (t) => portfolio(0.3, t),
        r: (t) => reset('liquidated, peak acknowledged', t),
        b: (t) => portfolio(0.29, t),
        c: (t) => portfolio(0.3, t),
        d: (t) => portfolio(0.31, t),
        e: (t) => portfolio(0.05, t),
      }).pipe(trackTradingMode());
      out.subscribe((e) => events.push(e));
      expectObservable(out.pipe(brief)).toBe('er--E-|', {
        e: 'Normal→Emergency@0',
        r: 'Emergency→Reduced@1',
        E: 'Reduced→Emergency@4',
      });
    });
    equal(events[2]!.reason, 'drawdown 0.31 ≥ emergency limit 0.25 (beyond the acknowledged 0.3)');
  });

  it('follows operator requests, but never below what the automatic causes justify; a requested Emergency is latched', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const out = inputs(ts, cold('pndNPxNr|'), {
        p: (t) => request('Paused', 'maintenance', t),
        n: (t) => request('Normal', 'done', t),
        d: (t) => portfolio(0.2, t),
        N: (t) => request('Normal', 'ignore the drawdown', t), // refused by the drawdown cause: no event
        P: (t) => request('Paused', 'exchange upgrade', t),
        x: (t) => request('Emergency', 'suspicious fills', t),
        r: (t) => reset('fills reconciled', t),
      }).pipe(trackTradingMode());
      // The last N lowers the manual mode while latched: ignored. The reset then lands on Paused (manual) — the drawdown is Reduced.
      expectObservable(out.pipe(brief)).toBe('pnr-Pe-E|', {
        p: 'Normal→Paused@0',
        n: 'Paused→Normal@1',
        r: 'Normal→Reduced@2',
        P: 'Reduced→Paused@4',
        e: 'Paused→Emergency@5',
        E: 'Emergency→Paused@7',
      });
    });
  });

  it('starts in config.initial without emitting it; currentMode turns the changes into a mode stream that starts there', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const changes = inputs(ts, cold('-n-|'), { n: (t) => request('Normal', 'resume', t) }).pipe(
        trackTradingMode({ initial: 'Paused' }),
      );
      expectObservable(changes.pipe(brief)).toBe('-a-|', { a: 'Paused→Normal@1' });
      expectObservable(changes.pipe(currentMode('Paused'))).toBe('pn-|', { p: 'Paused', n: 'Normal' });
    });
  });

  it('an initial Emergency (restored after a crash) is latched until a reset', () => {
    const ts = makeTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const out = inputs(ts, cold('nr|'), {
        n: (t) => request('Normal', 'resume', t),
        r: (t) => reset('post-mortem done', t),
      }).pipe(trackTradingMode({ initial: 'Emergency' }));
      expectObservable(out.pipe(brief)).toBe('-e|', { e: 'Emergency→Normal@1' });
    });
  });

  it('handles inputs that arrive synchronously in one frame: one event per actual change', () => {
    const ts = makeTestScheduler();
    ts.run(({ expectObservable }) => {
      const source = of(portfolio(0.16), portfolio(0.17), breaker('OPEN'), breaker('OPEN'), kill(true), kill(true));
      expectObservable(source.pipe(trackTradingMode(), brief)).toBe('(rpe|)', {
        r: 'Normal→Reduced@0',
        p: 'Reduced→Paused@0',
        e: 'Paused→Emergency@0',
      });
    });
  });

  it('completes with an empty source without emitting', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ModeInput>('--|');
      expectObservable(source.pipe(trackTradingMode())).toBe('--|');
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('passes a source error on', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ModeInput>('a-#', { a: portfolio(0.2) }, new Error('portfolio died'));
      expectObservable(source.pipe(trackTradingMode(), brief)).toBe(
        'r-#',
        { r: 'Normal→Reduced@0' },
        new Error('portfolio died'),
      );
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('sends an input it cannot interpret (a NaN drawdown) to the error channel and unsubscribes', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<ModeInput>('ab-c', { a: portfolio(0.2), b: portfolio(Number.NaN), c: kill(true) });
      expectObservable(source.pipe(trackTradingMode(), brief)).toBe(
        'r#',
        { r: 'Normal→Reduced@0' },
        new ModeInputError('portfolio: drawdown must be a finite fraction ≥ 0, found NaN'),
      );
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('on early unsubscribe stops listening', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<ModeInput>('-a--b-', { a: portfolio(0.2, 1), b: kill(true, 4) });
      expectObservable(source.pipe(trackTradingMode(), brief), '^--!').toBe('-r-', { r: 'Normal→Reduced@1' });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('rejects thresholds that are not ordered recover < reduce < emergency, before anything subscribes', () => {
    throws(() => trackTradingMode({ recoverDrawdown: 0.15, reduceDrawdown: 0.15 }), ModeConfigError);
    throws(
      () => trackTradingMode({ reduceDrawdown: 0.3, emergencyDrawdown: 0.25 }),
      /0 ≤ recoverDrawdown < reduceDrawdown < emergencyDrawdown ≤ 1/,
    );
    throws(() => trackTradingMode({ initial: 'Halted' as Mode }), /initial must be one of/);
  });

  describe('properties (random input sequences)', () => {
    const CONFIG: Required<Omit<TrackTradingModeConfig, 'initial'>> = {
      reduceDrawdown: 0.15,
      recoverDrawdown: 0.1,
      emergencyDrawdown: 0.25,
    };
    const inputArb: fc.Arbitrary<(t: number) => ModeInput> = fc.oneof(
      fc.boolean().map((pressed) => (t: number) => kill(pressed, t)),
      fc.constantFrom('', '  ', 'checked').map((reason) => (t: number) => reset(reason, t)),
      fc
        .constantFrom<Mode>('Normal', 'Paused', 'Reduced', 'Emergency')
        .map((to) => (t: number) => request(to, 'op', t)),
      fc
        .oneof(
          fc.constantFrom(0, 0.05, 0.0999, 0.1, 0.12, 0.1499, 0.15, 0.2, 0.2499, 0.25, 0.26, 0.3, 0.4),
          fc.double({ min: 0, max: 0.5, noNaN: true }),
        )
        .map((dd) => (t: number) => portfolio(dd, t)),
      fc
        .record({
          to: fc.constantFrom<BreakerState>('OPEN', 'CLOSED', 'HALF_OPEN'),
          component: fc.constantFrom('global', 'exchange'),
        })
        .map(
          ({ to, component }) =>
            (t: number) =>
              breaker(to, t, component),
        ),
    );

    /** Feeds the inputs one by one and returns, for each, the changes it caused. */
    function run(sequence: readonly ((t: number) => ModeInput)[]): { input: ModeInput; changes: ModeChanged[] }[] {
      const subject = new Subject<ModeInput>();
      let changes: ModeChanged[] = [];
      const subscription = subject.pipe(trackTradingMode(CONFIG)).subscribe({
        next: (c) => changes.push(c),
        error: (e: unknown) => {
          throw e;
        },
      });
      const steps = sequence.map((make, i) => {
        changes = [];
        const input = make(i);
        subject.next(input);
        return { input, changes };
      });
      subscription.unsubscribe();
      return steps;
    }

    it('once the kill switch is pressed the mode is Emergency until an accepted reset; only a reset (with a reason, switch released) leaves Emergency', () => {
      fc.assert(
        fc.property(fc.array(inputArb, { maxLength: 60 }), (sequence) => {
          let mode = 'Normal' as Mode;
          let pressed = false;
          for (const { input, changes } of run(sequence)) {
            ok(changes.length <= 1, 'at most one change per input');
            for (const change of changes) {
              equal(change.from, mode, 'changes chain');
              ok(change.from !== change.to, 'only actual changes');
              if (change.from === 'Emergency') {
                ok(
                  input.kind === 'mode-reset' && input.reason.trim() !== '' && !pressed,
                  `left Emergency on ${input.kind}`,
                );
              }
              equal(change.tsEvent, input.tsEvent);
              mode = change.to;
            }
            if (input.kind === 'kill-switch') pressed = input.pressed;
            if (input.kind === 'kill-switch' && input.pressed)
              equal(mode, 'Emergency', 'a press means Emergency at once');
          }
        }),
        { numRuns: 500 },
      );
    });

    it('automatic transitions never de-escalate without their recovery condition, and the mode is never below what drawdown and the global breaker justify', () => {
      fc.assert(
        fc.property(fc.array(inputArb, { maxLength: 60 }), (sequence) => {
          let mode = 'Normal' as Mode;
          let globalOpen = false;
          let everReduced = false; // drawdown has reached the reduce limit and not recovered below the recovery limit since
          let emergencyUnreset = false; // drawdown reached the emergency limit (beyond any acknowledged level) and no accepted reset since
          let lastDrawdown = 0;
          let acknowledged: number | undefined; // drawdown a reset accepted while over the emergency limit
          for (const { input, changes } of run(sequence)) {
            for (const change of changes) {
              if (MODE_SEVERITY[change.to] < MODE_SEVERITY[change.from]) {
                switch (input.kind) {
                  case 'portfolio':
                    ok(
                      change.from === 'Reduced' && change.to === 'Normal' && input.drawdown < CONFIG.recoverDrawdown,
                      `drawdown ${input.drawdown} de-escalated ${change.from}→${change.to}`,
                    );
                    break;
                  case 'breaker-state-changed':
                    ok(
                      input.component === 'global' && input.to !== 'OPEN' && change.from === 'Paused',
                      `breaker ${input.component} ${input.to} de-escalated ${change.from}→${change.to}`,
                    );
                    break;
                  case 'kill-switch':
                    ok(false, `kill switch ${String(input.pressed)} de-escalated ${change.from}→${change.to}`);
                    break;
                  case 'mode-reset':
                    equal(change.from, 'Emergency');
                    break;
                  case 'mode-request':
                    ok(change.from !== 'Emergency', 'a request cannot leave Emergency');
                    break;
                }
              }
              mode = change.to;
            }
            if (input.kind === 'portfolio') {
              if (input.drawdown >= CONFIG.reduceDrawdown) everReduced = true;
              if (input.drawdown < CONFIG.recoverDrawdown) everReduced = false;
              lastDrawdown = input.drawdown;
              if (input.drawdown < CONFIG.emergencyDrawdown) acknowledged = undefined;
              else if (acknowledged === undefined || input.drawdown > acknowledged) emergencyUnreset = true;
            }
            if (input.kind === 'breaker-state-changed' && input.component === 'global')
              globalOpen = input.to === 'OPEN';
            if (input.kind === 'mode-reset' && changes.length > 0) {
              emergencyUnreset = false;
              if (lastDrawdown >= CONFIG.emergencyDrawdown) acknowledged = lastDrawdown;
            }
            if (everReduced)
              ok(MODE_SEVERITY[mode] >= MODE_SEVERITY.Reduced, `mode ${mode} below Reduced in a drawdown`);
            if (globalOpen)
              ok(MODE_SEVERITY[mode] >= MODE_SEVERITY.Paused, `mode ${mode} below Paused with the global breaker open`);
            if (emergencyUnreset) equal(mode, 'Emergency', 'drawdown over the emergency limit without a reset');
          }
        }),
        { numRuns: 500 },
      );
    });
  });
});
