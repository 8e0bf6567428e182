import { equal, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { map } from 'rxjs/operators';
import {
  type LedColor,
  type LedFrame,
  type LedPattern,
  type LedStatus,
  ledPatternFor,
  showLedPattern,
} from '../../operators/ledPattern';
import type { Mode } from '../../operators/types';
import { makeTestScheduler } from '../support/marbles';

const S: Record<string, LedStatus> = {
  n: { mode: 'Normal', killLatched: false, trading: true },
  p: { mode: 'Paused', killLatched: false, trading: true },
  r: { mode: 'Reduced', killLatched: false, trading: true },
  e: { mode: 'Emergency', killLatched: false, trading: true },
  k: { mode: 'Emergency', killLatched: true, trading: true },
  w: { mode: 'Normal', killLatched: false, trading: false },
  x: { mode: 'Emergency', killLatched: false, trading: false },
};

const f = (pattern: LedPattern, lit: LedColor | null): LedFrame => ({ kind: 'led-frame', pattern, lit });
const F: Record<string, LedFrame> = {
  g: f('steady-green', 'green'),
  y: f('steady-yellow', 'yellow'),
  R: f('steady-red', 'red'),
  b: f('blink-red', 'red'),
  _: f('blink-red', null),
  h: f('heartbeat', 'green'),
  '.': f('heartbeat', null),
  o: f('off', null),
};

describe('showLedPattern (status → LED frames)', () => {
  it('shows each mode steadily: Normal green, Paused and Reduced yellow, Emergency red; off at the end', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const status = cold('-n-p-r-e-|', S);
      expectObservable(status.pipe(showLedPattern())).toBe('-g-y---R-(o|)', F);
      expectSubscriptions(status.subscriptions).toBe('^--------!');
    });
  });

  it('does not re-send a frame when the status changes but the pattern does not (Paused → Reduced)', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-p-r-p-|', S).pipe(showLedPattern())).toBe('-y-----(o|)', F);
    });
  });

  it('blinks red while the kill switch is latched, whatever the mode, on the scheduler', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const status = cold('-n-k 9ms |', S);
      expectObservable(status.pipe(showLedPattern({ blinkMs: 3 }))).toBe('-g-b--_--b--_(o|)', F);
    });
  });

  it('flashes a green heartbeat with the LEDs otherwise off while alive but not trading; Emergency stays red', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const status = cold('-w 10ms x-|', S);
      expectObservable(status.pipe(showLedPattern({ heartbeatMs: 5, flashMs: 2 }))).toBe('-h-.--h-.--hR-(o|)', F);
    });
  });

  it('passes a status error on (the LED sink shows red for it) and stops blinking', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const status = cold('-k---#', S, new Error('mode stream broke'));
      expectObservable(status.pipe(showLedPattern({ blinkMs: 2 }))).toBe('-b-_-#', F, new Error('mode stream broke'));
    });
  });

  it('sends a throwing status to the error channel', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('bad status');
      const status = cold('-n-x-|', S).pipe(
        map((s, i) => {
          if (i === 1) throw boom;
          return s;
        }),
      );
      expectObservable(status.pipe(showLedPattern())).toBe('-g-#', F, boom);
    });
  });

  it('completes with the LEDs off on an empty status stream', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('|', S).pipe(showLedPattern())).toBe('(o|)', F);
    });
  });

  it('stops blinking and unsubscribes from the status when unsubscribed early', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const status = hot('-k------', S);
      expectObservable(status.pipe(showLedPattern({ blinkMs: 2 })), '^----!').toBe('-b-_-', F);
      expectSubscriptions(status.subscriptions).toBe('^----!');
    });
  });

  it('refuses periods that are not positive and a flash as long as the heartbeat, naming the key', () => {
    throws(() => showLedPattern({ blinkMs: 0 }), /showLedPattern\.blinkMs: expected a positive number of ms, found 0/);
    throws(() => showLedPattern({ flashMs: 2000, heartbeatMs: 2000 }), /flashMs: expected less than heartbeatMs/);
  });

  it('property: never more than one LED, a latched switch always blinks red, Emergency is never green or yellow', () => {
    const modes: Mode[] = ['Normal', 'Paused', 'Reduced', 'Emergency'];
    fc.assert(
      fc.property(fc.constantFrom(...modes), fc.boolean(), fc.boolean(), (mode, killLatched, trading) => {
        const pattern = ledPatternFor({ mode, killLatched, trading });
        if (killLatched) equal(pattern, 'blink-red');
        if (mode === 'Emergency') equal(pattern === 'steady-red' || pattern === 'blink-red', true);
        if (mode === 'Normal' && trading && !killLatched) equal(pattern, 'steady-green');
      }),
    );
  });
});
