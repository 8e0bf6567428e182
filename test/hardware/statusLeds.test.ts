/**
 * The status LEDs against the real rpio module in mock mode: open/write/read/close run rpio's own
 * code, and the levels checked are the ones rpio's mock pin table holds. A recording wrapper
 * around the module notes the calls and, at each close, the level rpio reports just before it
 * (after a close rpio forgets a mocked pin, which then reads LOW whatever was shown).
 */
import { deepStrictEqual, equal, match, ok, throws } from 'node:assert/strict';
import { initRpio, loadRpio, type RpioLike } from '../../hardware/killSwitch';
import { makeLedFrameSink, makeStatusLedSink, type StatusLedState } from '../../hardware/statusLeds';
import { showLedPattern } from '../../operators/ledPattern';
import { map } from 'rxjs/operators';
import { Subject, of } from 'rxjs';
import type { Mode } from '../../operators/types';
import { makeTestScheduler } from '../support/marbles';

const rpio = loadRpio();
const MOCK = 'raspi-3';
const GREEN = 22;
const YELLOW = 23;
const RED = 24;

interface Close {
  readonly pin: number;
  readonly reset: 'reset' | 'preserve';
  /** The level rpio reported just before the close. */
  readonly level: number;
}

/** A wrapper that records closes and can fail writes to one pin; everything else is rpio's. */
function recording(failWritesTo?: number): { io: RpioLike; closes: Close[] } {
  const closes: Close[] = [];
  const io: RpioLike = {
    LOW: rpio.LOW,
    HIGH: rpio.HIGH,
    INPUT: rpio.INPUT,
    OUTPUT: rpio.OUTPUT,
    PULL_UP: rpio.PULL_UP,
    POLL_LOW: rpio.POLL_LOW,
    PIN_RESET: rpio.PIN_RESET,
    PIN_PRESERVE: rpio.PIN_PRESERVE,
    init: () => undefined, // the module is initialised once, in `before`
    open: (pin, mode, option) => rpio.open(pin, mode, option),
    read: (pin) => rpio.read(pin),
    write: (pin, value) => {
      if (pin === failWritesTo) throw new Error(`write to ${pin} failed`);
      rpio.write(pin, value);
    },
    poll: (pin, callback, direction) => rpio.poll(pin, callback, direction),
    close: (pin, reset) => {
      closes.push({ pin, reset: reset === rpio.PIN_PRESERVE ? 'preserve' : 'reset', level: rpio.read(pin) });
      rpio.close(pin, reset);
    },
  };
  return { io, closes };
}

/** green, yellow, red as rpio reports them now, e.g. '100' = green alone. */
function leds(): string {
  return [GREEN, YELLOW, RED].map((pin) => String(rpio.read(pin))).join('');
}

const MODES: Record<string, Mode> = { n: 'Normal', p: 'Paused', r: 'Reduced', e: 'Emergency' };
const state = (mode: Mode | null, lit: StatusLedState['lit']): StatusLedState => ({ kind: 'status-leds', mode, lit });

describe('hardware/statusLeds: makeStatusLedSink (rpio mock mode)', () => {
  before(() => initRpio(rpio, MOCK));

  it('lights exactly one LED per mode (green Normal, yellow Paused/Reduced, red Emergency) and turns all off on completion', () => {
    const { io, closes } = recording();
    const seen: string[] = [];
    const scheduler = makeTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const mode$ = cold('--n--n--p--r--e--n--|', MODES);
      for (const t of [1, 3, 9, 12, 15, 18]) scheduler.schedule(() => seen.push(leds()), t);
      expectObservable(makeStatusLedSink({ rpio: io, mock: MOCK })(mode$)).toBe('--a-----b--c--d--e--(f|)', {
        a: state('Normal', 'green'),
        b: state('Paused', 'yellow'),
        c: state('Reduced', 'yellow'),
        d: state('Emergency', 'red'),
        e: state('Normal', 'green'),
        f: state(null, null),
      });
    });
    deepStrictEqual(seen, ['000', '100', '010', '010', '001', '100']);
    deepStrictEqual(closes, [
      { pin: GREEN, reset: 'reset', level: 0 },
      { pin: YELLOW, reset: 'reset', level: 0 },
      { pin: RED, reset: 'reset', level: 0 },
    ]);
  });

  it('on an error of mode$ shows red alone, keeps it lit (PIN_PRESERVE) and passes the error on', () => {
    const { io, closes } = recording();
    const scheduler = makeTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const mode$ = cold('--n--#', MODES, new Error('mode stream broke'));
      expectObservable(makeStatusLedSink({ rpio: io, mock: MOCK })(mode$)).toBe(
        '--a--(b#)',
        { a: state('Normal', 'green'), b: state(null, 'red') },
        new Error('mode stream broke'),
      );
    });
    deepStrictEqual(closes, [
      { pin: GREEN, reset: 'preserve', level: 0 },
      { pin: YELLOW, reset: 'preserve', level: 0 },
      { pin: RED, reset: 'preserve', level: 1 },
    ]);
  });

  it('unsubscribing turns all off and closes the pins', () => {
    const { io, closes } = recording();
    const scheduler = makeTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const mode$ = cold('--e------', MODES);
      expectObservable(makeStatusLedSink({ rpio: io, mock: MOCK })(mode$), '^ 4ms !').toBe('--a', {
        a: state('Emergency', 'red'),
      });
    });
    deepStrictEqual(
      closes.map((c) => [c.pin, c.reset, c.level]),
      [
        [GREEN, 'reset', 0],
        [YELLOW, 'reset', 0],
        [RED, 'reset', 0],
      ],
    );
  });

  it('a value that is not a known mode shows red', () => {
    const { io } = recording();
    const shown: StatusLedState[] = [];
    let levels = '';
    const mode$ = new Subject<Mode>();
    const subscription = makeStatusLedSink({ rpio: io, mock: MOCK })(mode$).subscribe((s) => {
      shown.push(s);
      levels = leds();
    });
    mode$.next('Normal');
    mode$.next('Halted' as Mode);
    deepStrictEqual(shown, [state('Normal', 'green'), state('Halted' as Mode, 'red')]);
    equal(levels, '001');
    subscription.unsubscribe();
  });

  it('a failing write shows red where it can and errors with GPIO_WRITE_FAILED', () => {
    const { io, closes } = recording(YELLOW);
    const shown: StatusLedState[] = [];
    let error: unknown;
    makeStatusLedSink({ rpio: io, mock: MOCK })(of<Mode>('Paused')).subscribe({
      next: (s) => shown.push(s),
      error: (e: unknown) => (error = e),
    });
    ok(error instanceof Error);
    equal((error as { code?: string }).code, 'GPIO_WRITE_FAILED');
    match(error.message, /cannot show yellow for Paused: write to 23 failed/);
    deepStrictEqual(shown, [state(null, 'red')]);
    deepStrictEqual(
      closes.map((c) => [c.pin, c.reset, c.level]),
      [
        [GREEN, 'preserve', 0],
        [YELLOW, 'preserve', 0],
        [RED, 'preserve', 1],
      ],
    );
  });

  it('a pin rpio cannot open errors with GPIO_OPEN_FAILED and closes the pins already opened', () => {
    const { io, closes } = recording();
    let error: unknown;
    makeStatusLedSink({ rpio: io, mock: MOCK, pins: { red: 28 } })(of<Mode>('Normal')).subscribe({
      error: (e: unknown) => (error = e),
    });
    equal((error as { code?: string }).code, 'GPIO_OPEN_FAILED');
    match(
      (error as Error).message,
      /status LED red \(BCM28\): cannot open: Pin 28 is not valid when using gpio mapping/,
    );
    deepStrictEqual(
      closes.map((c) => c.pin),
      [GREEN, YELLOW],
    );
  });

  it('refuses pins that are not three different BCM numbers', () => {
    throws(() => makeStatusLedSink({ pins: { red: 22 } }), /three different BCM numbers/);
    throws(() => makeStatusLedSink({ pins: { green: -1 } }), /statusLeds\.pins\.green/);
  });
});

describe('hardware/statusLeds: makeLedFrameSink driven by showLedPattern (rpio mock mode)', () => {
  before(() => initRpio(rpio, MOCK));

  it('blinks red on the pins while the kill switch is latched, a heartbeat while not trading, all off at the end', () => {
    const { io, closes } = recording();
    const seen: string[] = [];
    const scheduler = makeTestScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const status$ = cold('-w 9ms k 9ms |', {
        w: { mode: 'Normal' as Mode, killLatched: false, trading: false },
        k: { mode: 'Emergency' as Mode, killLatched: true, trading: true },
      });
      // heartbeat 6 ms with a 2 ms flash from 1; blink every 3 ms from 11
      for (const t of [2, 4, 8, 10, 12, 15, 18]) scheduler.schedule(() => seen.push(leds()), t);
      const frames$ = status$.pipe(showLedPattern({ blinkMs: 3, heartbeatMs: 6, flashMs: 2 }));
      expectObservable(makeLedFrameSink({ rpio: io, mock: MOCK })(frames$).pipe(map((s) => `${s.pattern}:${s.lit}`)));
    });
    deepStrictEqual(seen, ['100', '000', '100', '000', '001', '000', '001']);
    deepStrictEqual(
      closes.map((c) => [c.pin, c.reset, c.level]),
      [
        [GREEN, 'reset', 0],
        [YELLOW, 'reset', 0],
        [RED, 'reset', 0],
      ],
    );
  });
});
