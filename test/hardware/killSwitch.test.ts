/**
 * The kill switch against the real rpio module in mock mode (this machine and CI have no GPIO).
 *
 * What runs for real: rpio's init (mock board, BCM mapping), open/read/write/poll/close, its pin
 * table, its pin validation, its poll registry (refusing a second poll of a pin) and its 1 ms
 * poll interval (started by poll, stopped by close).
 *
 * What is simulated, and why: in mock mode rpio's poll loop calls the native edge detector
 * through a wrapper that returns nothing, so it never reports an edge, whatever the mocked level
 * (the first test below pins that down). When the hardware edge-detect bit is set, rpio's
 * `event_poll` does exactly one thing: `rpio.emit('pin' + gpio)`, which reaches our callback
 * through the listener `rpio.poll` registered. `fallingEdge()` does that one step — it writes the
 * mocked level LOW and emits `pin17` on the real module. Not exercised: the native
 * gpio_event_set/gpio_event_poll (BCM2835 EDS registers) and the pull-up (a no-op in mock mode,
 * where an input reads LOW until written HIGH — `released()` plays the pull-up).
 */
import { deepStrictEqual, equal, match, ok, throws } from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { map } from 'rxjs';
import {
  initRpio,
  loadRpio,
  makeKillSwitchSource,
  makeSignalKillSwitchSource,
  type KillSwitchEvent,
  type RpioLike,
} from '../../hardware/killSwitch';
import { consistently, eventually } from '../support/eventually';
import { makeTestScheduler } from '../support/marbles';
import { rpioWith } from '../support/rpio';

/** The real module: a process-wide singleton, shared with the status-LED tests (same board). */
const rpio = loadRpio() as RpioLike & EventEmitter;
const MOCK = 'raspi-3';
const PIN = 17;

/** The button goes down: the level the contacts give, then what rpio's event_poll emits. */
function fallingEdge(): void {
  rpio.write(PIN, rpio.LOW);
  rpio.emit(`pin${PIN}`);
}

/** The pull-up with the button open (a rising edge: not polled, POLL_LOW only). */
function released(): void {
  rpio.write(PIN, rpio.HIGH);
}

/** Timers alive in this process: rpio's poll interval is one of them while a pin is polled. */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

const codeAt = map((e: KillSwitchEvent) => `${e.code}@${e.tsEvent}`);

describe('hardware/killSwitch: makeKillSwitchSource (rpio mock mode)', () => {
  before(() => initRpio(rpio, MOCK));

  afterEach(() => {
    const leaked = rpio.listenerCount(`pin${PIN}`);
    if (leaked > 0) rpio.close(PIN);
    equal(leaked, 0, `a test left BCM${PIN} polled`);
  });

  it('rpio mock mode: its own 1 ms poll loop runs but never reports an edge (why the tests emit pin17)', async () => {
    released();
    const events: KillSwitchEvent[] = [];
    const before = timers();
    const subscription = makeKillSwitchSource({ rpio, mock: MOCK, levelCheckMs: 0, debounceMs: 1 }).subscribe((e) =>
      events.push(e),
    );
    equal(timers(), before + 1, 'rpio.poll starts its interval');
    rpio.write(PIN, rpio.LOW);
    await consistently(() => deepStrictEqual(events, []), { durationMs: 50 });
    subscription.unsubscribe();
  });

  it('a falling edge still LOW after debounceMs is one press: one event, then complete, pin closed', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ expectObservable }) => {
      released();
      const killSwitch$ = makeKillSwitchSource({ rpio, mock: MOCK, scheduler, debounceMs: 50, levelCheckMs: 0 });
      scheduler.schedule(() => fallingEdge(), 100);
      expectObservable(killSwitch$).toBe('150ms (a|)', {
        a: {
          kind: 'kill-switch',
          pressed: true,
          source: 'gpio',
          code: 'BUTTON_PRESSED',
          reason: 'BCM17 still LOW 50 ms after a falling edge',
          tsEvent: 150,
        },
      });
    });
    equal(rpio.listenerCount(`pin${PIN}`), 0, 'poll unregistered after the press');
    throws(() => rpio.poll(PIN, null), /not listening/);
  });

  it('is latched: after a press and release, every new subscriber gets the same event at once and the pin stays closed', () => {
    const scheduler = makeTestScheduler();
    released();
    const killSwitch$ = makeKillSwitchSource({ rpio, mock: MOCK, scheduler, debounceMs: 50, levelCheckMs: 0 });
    const first: KillSwitchEvent[] = [];
    killSwitch$.subscribe((e) => first.push(e));
    fallingEdge();
    scheduler.flush();
    equal(first.length, 1);
    released();
    const later: KillSwitchEvent[] = [];
    let completed = false;
    killSwitch$.subscribe({ next: (e) => later.push(e), complete: () => (completed = true) });
    deepStrictEqual(later, first);
    ok(completed);
    equal(rpio.listenerCount(`pin${PIN}`), 0, 'a latched source does not reopen the pin');
  });

  it('contact bounce (several edges within debounceMs) gives exactly one event, debounceMs after the first edge', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ expectObservable }) => {
      released();
      const killSwitch$ = makeKillSwitchSource({ rpio, mock: MOCK, scheduler, debounceMs: 50, levelCheckMs: 0 });
      scheduler.schedule(() => fallingEdge(), 100);
      scheduler.schedule(() => released(), 102);
      scheduler.schedule(() => fallingEdge(), 104);
      scheduler.schedule(() => released(), 107);
      scheduler.schedule(() => fallingEdge(), 109);
      scheduler.schedule(() => fallingEdge(), 149); // a late bounce inside the window
      expectObservable(killSwitch$.pipe(codeAt)).toBe('150ms (a|)', { a: 'BUTTON_PRESSED@150' });
    });
  });

  it('a glitch that is back HIGH when the window ends is ignored; a later real press still counts', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ expectObservable }) => {
      released();
      const killSwitch$ = makeKillSwitchSource({ rpio, mock: MOCK, scheduler, debounceMs: 50, levelCheckMs: 0 });
      scheduler.schedule(() => fallingEdge(), 100);
      scheduler.schedule(() => released(), 103);
      scheduler.schedule(() => fallingEdge(), 300);
      expectObservable(killSwitch$.pipe(codeAt)).toBe('350ms (a|)', { a: 'BUTTON_PRESSED@350' });
    });
  });

  it('a glitch alone never emits, and unsubscribing then closes the pin', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ expectObservable }) => {
      released();
      const killSwitch$ = makeKillSwitchSource({ rpio, mock: MOCK, scheduler, debounceMs: 50 });
      scheduler.schedule(() => fallingEdge(), 100);
      scheduler.schedule(() => released(), 103);
      expectObservable(killSwitch$, '^ 3000ms !').toBe('');
    });
  });

  it('pin already LOW at subscribe (button held, wiring broken) is pressed at once', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ expectObservable }) => {
      rpio.write(PIN, rpio.LOW);
      expectObservable(makeKillSwitchSource({ rpio, mock: MOCK, scheduler }).pipe(codeAt)).toBe('(a|)', {
        a: 'PIN_LOW_AT_START@0',
      });
    });
  });

  it('a held button whose edge was missed is caught by the level check, then debounced', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ expectObservable }) => {
      released();
      const killSwitch$ = makeKillSwitchSource({ rpio, mock: MOCK, scheduler, debounceMs: 50, levelCheckMs: 1000 });
      scheduler.schedule(() => rpio.write(PIN, rpio.LOW), 100); // LOW, but no edge event
      expectObservable(killSwitch$.pipe(map((e) => [e.code, e.tsEvent, e.reason]))).toBe('1050ms (a|)', {
        a: ['BUTTON_PRESSED', 1050, 'BCM17 still LOW 50 ms after the level check found it LOW'],
      });
    });
  });

  it('GPIO that rpio cannot open is pressed (fail-closed): a pin not on the board', () => {
    const events: KillSwitchEvent[] = [];
    let completed = false;
    makeKillSwitchSource({ rpio, mock: MOCK, pin: 28 }).subscribe({
      next: (e) => events.push(e),
      complete: () => (completed = true),
    });
    equal(events.length, 1);
    equal(events[0]!.code, 'GPIO_OPEN_FAILED');
    match(events[0]!.reason, /BCM28: cannot open the kill-switch input: Pin 28 is not valid when using gpio mapping/);
    ok(completed);
  });

  it('GPIO that cannot be initialised (e.g. /dev/gpiomem not permitted) is pressed (fail-closed)', () => {
    const failing = rpioWith({
      init: () => {
        throw new Error('Could not initialize bcm2835');
      },
    });
    const events: KillSwitchEvent[] = [];
    makeKillSwitchSource({ rpio: failing, mock: MOCK }).subscribe((e) => events.push(e));
    deepStrictEqual(
      events.map((e) => [e.code, e.pressed]),
      [['GPIO_OPEN_FAILED', true]],
    );
    match(events[0]!.reason, /rpio\.init failed: Could not initialize bcm2835/);
  });

  it('a poll rpio refuses (pin already polled elsewhere) is pressed, and the other poll is left alone', () => {
    released();
    let otherCalls = 0;
    rpio.poll(PIN, () => otherCalls++, rpio.POLL_LOW);
    try {
      const events: KillSwitchEvent[] = [];
      makeKillSwitchSource({ rpio, mock: MOCK }).subscribe((e) => events.push(e));
      equal(events.length, 1);
      equal(events[0]!.code, 'GPIO_POLL_FAILED');
      match(events[0]!.reason, /Pin 17 is already listening for events/);
      rpio.emit(`pin${PIN}`);
      equal(otherCalls, 1, 'the other poll still works');
    } finally {
      rpio.close(PIN);
    }
  });

  it('a read that throws during debounce is pressed (fail-closed)', () => {
    let reads = 0;
    const flaky = rpioWith({
      read: (pin) => {
        if (++reads > 1) throw new Error('bus error');
        return rpio.read(pin);
      },
    });
    const scheduler = makeTestScheduler();
    scheduler.run(({ expectObservable }) => {
      released();
      const killSwitch$ = makeKillSwitchSource({ rpio: flaky, mock: MOCK, scheduler, debounceMs: 50, levelCheckMs: 0 });
      scheduler.schedule(() => rpio.emit(`pin${PIN}`), 10);
      expectObservable(killSwitch$.pipe(map((e) => [e.code, e.tsEvent, e.reason]))).toBe('60ms (a|)', {
        a: ['GPIO_READ_FAILED', 60, 'BCM17: read 50 ms after a falling edge failed: bus error'],
      });
    });
  });

  it('unsubscribing closes the pin and stops rpio polling and a pending debounce', () => {
    released();
    const before = timers();
    const events: KillSwitchEvent[] = [];
    const subscription = makeKillSwitchSource({ rpio, mock: MOCK, debounceMs: 1000, levelCheckMs: 0 }).subscribe((e) =>
      events.push(e),
    );
    equal(rpio.listenerCount(`pin${PIN}`), 1);
    equal(timers(), before + 1, "rpio's poll interval runs");
    fallingEdge();
    equal(timers(), before + 2, 'and the debounce window');
    subscription.unsubscribe();
    equal(rpio.listenerCount(`pin${PIN}`), 0);
    equal(timers(), before, 'interval and debounce timer gone');
    throws(() => rpio.poll(PIN, null), /Pin 17 is not listening for events/);
    rpio.emit(`pin${PIN}`);
    deepStrictEqual(events, []);
  });

  it('concurrent subscribers share one poll of the pin and all see the press', () => {
    const scheduler = makeTestScheduler();
    released();
    const killSwitch$ = makeKillSwitchSource({ rpio, mock: MOCK, scheduler, debounceMs: 50, levelCheckMs: 0 });
    const a: string[] = [];
    const b: string[] = [];
    killSwitch$.subscribe((e) => a.push(e.code));
    killSwitch$.subscribe((e) => b.push(e.code));
    equal(rpio.listenerCount(`pin${PIN}`), 1);
    fallingEdge();
    scheduler.flush();
    deepStrictEqual([a, b], [['BUTTON_PRESSED'], ['BUTTON_PRESSED']]);
  });

  it('on the default (async) scheduler, a press arrives after the real debounce', async () => {
    released();
    const events: KillSwitchEvent[] = [];
    makeKillSwitchSource({ rpio, mock: MOCK, debounceMs: 5 }).subscribe((e) => events.push(e));
    fallingEdge();
    await eventually(() => equal(events[0]?.code, 'BUTTON_PRESSED'));
    equal(rpio.listenerCount(`pin${PIN}`), 0);
  });

  it('refuses a bad config before any subscription', () => {
    throws(() => makeKillSwitchSource({ pin: 40 }), /killSwitch\.pin: expected a BCM GPIO number 0\.\.31/);
    throws(() => makeKillSwitchSource({ debounceMs: -1 }), /killSwitch\.debounceMs/);
    throws(() => makeKillSwitchSource({ levelCheckMs: Number.NaN }), /killSwitch\.levelCheckMs/);
  });
});

describe('hardware/killSwitch: makeSignalKillSwitchSource', () => {
  it('a signal is one latched press; further signals are absorbed', () => {
    const emitter = new EventEmitter();
    const scheduler = makeTestScheduler();
    const killSwitch$ = makeSignalKillSwitchSource({ emitter, scheduler });
    const events: KillSwitchEvent[] = [];
    let completed = false;
    killSwitch$.subscribe({ next: (e) => events.push(e), complete: () => (completed = true) });
    equal(emitter.listenerCount('SIGUSR2'), 1);
    emitter.emit('SIGUSR2', 'SIGUSR2');
    emitter.emit('SIGUSR2', 'SIGUSR2');
    deepStrictEqual(events, [
      {
        kind: 'kill-switch',
        pressed: true,
        source: 'signal',
        code: 'SIGNAL_RECEIVED',
        reason: 'SIGUSR2 received',
        tsEvent: 0,
      },
    ]);
    ok(completed);
    equal(
      emitter.listenerCount('SIGUSR2'),
      1,
      'an absorbing listener stays, so a second signal cannot kill the process',
    );
    const later: KillSwitchEvent[] = [];
    killSwitch$.subscribe((e) => later.push(e));
    deepStrictEqual(later, events);
  });

  it('unsubscribing before any signal removes the listener', () => {
    const emitter = new EventEmitter();
    const subscription = makeSignalKillSwitchSource({ emitter, signal: 'SIGHUP' }).subscribe();
    equal(emitter.listenerCount('SIGHUP'), 1);
    subscription.unsubscribe();
    equal(emitter.listenerCount('SIGHUP'), 0);
  });

  it('a listener that cannot be installed is pressed (fail-closed)', () => {
    const broken = {
      on: () => {
        throw new Error('no signals here');
      },
      removeListener: () => undefined,
    };
    const events: KillSwitchEvent[] = [];
    makeSignalKillSwitchSource({ emitter: broken }).subscribe((e) => events.push(e));
    deepStrictEqual(
      events.map((e) => [e.code, e.reason]),
      [['SIGNAL_LISTEN_FAILED', 'cannot listen to SIGUSR2: no signals here']],
    );
  });

  it('a real SIGUSR2 sent to this process is a press', async () => {
    const events: KillSwitchEvent[] = [];
    makeSignalKillSwitchSource().subscribe((e) => events.push(e));
    process.kill(process.pid, 'SIGUSR2');
    await eventually(() => equal(events[0]?.code, 'SIGNAL_RECEIVED'));
  });

  it('refuses signals node cannot or should not listen to', () => {
    throws(() => makeSignalKillSwitchSource({ signal: 'SIGKILL' }), /signalKillSwitch\.signal/);
    throws(() => makeSignalKillSwitchSource({ signal: 'SIGUSR1' }), /signalKillSwitch\.signal/);
    throws(() => makeSignalKillSwitchSource({ signal: 'SIGNOPE' as NodeJS.Signals }), /signalKillSwitch\.signal/);
  });
});
