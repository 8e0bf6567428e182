/**
 * The kill switch (DESIGN.md "Modes and the kill switch", spec §7.8): a push button on a GPIO
 * input, and a process signal as the software equivalent for machines without a button. Both are
 * LATCHED and FAIL-CLOSED.
 *
 * ## The event contract downstream must honour
 *
 * A kill-switch source emits at most one value, `{ kind: 'kill-switch', pressed: true, … }`, and
 * then completes. The first subscriber gets it when the press happens; every later subscriber
 * (a retry, a restarted pipeline in the same process) gets the same event at once: a press is
 * never undone while the process lives. Downstream must treat EVERY notification as pressed:
 * `next`, `complete` (with or without a value) and `error` all mean HALTED (no new risk; cancels
 * and flattening still allowed). In practice: `killSwitch$.pipe(materialize(), take(1))`, or
 * `takeUntil(killSwitch$.pipe(materialize()))` — a bare `takeUntil(killSwitch$)` would ignore a
 * completion without a value. The sources here never complete without emitting first and never
 * error, but the contract is what keeps the pipeline safe if that is ever broken.
 *
 * Failures count as presses: GPIO that cannot be initialised or opened, a poll that cannot be
 * registered, a read that throws or returns nonsense, all emit the pressed event with a `code`
 * and a `reason` saying what went wrong, then complete.
 *
 * ## Pins
 *
 * rpio is initialised with `mapping: 'gpio'`, so every pin number in bot4's hardware config is a
 * Broadcom (BCM) GPIO number, not a header position: BCM17 is header pin 11 (BCM22/23/24, the
 * status LEDs, are header pins 15/16/18). `gpiomem: true` uses /dev/gpiomem, which a member of
 * the `gpio` group may open without root.
 *
 * ## Machines without GPIO
 *
 * rpio's `init` reads /proc/device-tree/model; if it does not name a supported board, rpio
 * switches itself to `raspi-3` mock mode and emits a `warn` event (printed to stderr by its
 * default handler). Asking for `mock: false` does not prevent this: rpio has no "real hardware
 * or fail" setting. In mock mode rpio keeps pin levels in a table: an input reads LOW until
 * something writes HIGH to it (pull-ups are not simulated), and its poll loop never reports an
 * edge. So the button source in mock mode, unattended, reads LOW at start and is PRESSED at once
 * — fail-closed, as it must be when no button can be seen. Machines without a button use
 * `makeSignalKillSwitchSource` instead.
 */
import { Bot4Error } from '../operators/errors';
import { constants as osConstants } from 'node:os';
import { Observable, asyncScheduler, defer, of, share, tap, type SchedulerLike, type Subscription } from 'rxjs';
import type { Timestamp } from '../operators/types';

// ---------------------------------------------------------------------------------------------
// rpio, behind an interface (shared with statusLeds.ts)
// ---------------------------------------------------------------------------------------------

/** Boards rpio can emulate in mock mode (Raspberry Pi only: bot4 wires BCM numbers). */
export type RpioMockBoard =
  | 'raspi-b-r1'
  | 'raspi-a'
  | 'raspi-b'
  | 'raspi-a+'
  | 'raspi-b+'
  | 'raspi-2'
  | 'raspi-3'
  | 'raspi-4'
  | 'raspi-400'
  | 'raspi-zero'
  | 'raspi-zero-w';

export interface RpioInitOptions {
  readonly gpiomem?: boolean;
  readonly mapping?: 'physical' | 'gpio';
  readonly mock?: RpioMockBoard;
  readonly close_on_exit?: boolean;
}

/**
 * The part of rpio 2.4 that bot4 uses. The real module is the default; tests pass the real module
 * too (in mock mode), or a wrapper around it to observe calls or to make one of them fail.
 */
export interface RpioLike {
  readonly LOW: number;
  readonly HIGH: number;
  readonly INPUT: number;
  readonly OUTPUT: number;
  readonly PULL_UP: number;
  /** Falling-edge detection for `poll`. */
  readonly POLL_LOW: number;
  readonly PIN_RESET: number;
  readonly PIN_PRESERVE: number;
  init(options: RpioInitOptions): void;
  open(pin: number, mode: number, option?: number): void;
  read(pin: number): number;
  write(pin: number, value: number): void;
  /** A function registers `callback` for edges on `pin`; `null` unregisters it. */
  poll(pin: number, callback: ((pin: number) => void) | null, direction?: number): void;
  close(pin: number, reset?: number): void;
}

export type GpioErrorCode =
  | 'GPIO_LOAD_FAILED'
  | 'GPIO_INIT_FAILED'
  | 'GPIO_INIT_CONFLICT'
  | 'GPIO_OPEN_FAILED'
  | 'GPIO_WRITE_FAILED';

export class GpioError extends Bot4Error<GpioErrorCode> {
  constructor(code: GpioErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'hardware', message, options);
  }
}

/**
 * The rpio module. Loaded on first use, not at import: its native binding is loaded with it, and
 * a binding that fails to load must become a pressed kill switch, not a crash at startup.
 */
export function loadRpio(): RpioLike {
  try {
    return require('rpio') as RpioLike;
  } catch (err) {
    throw new GpioError('GPIO_LOAD_FAILED', `cannot load rpio: ${messageOf(err)}`, { cause: err });
  }
}

/**
 * rpio is a process-wide singleton whose `init` resets its pin cache, sets options for every
 * user and adds a process 'exit' listener each time; so every bot4 driver initialises it through
 * here, once per rpio object, and they must agree on the board.
 */
const initialised = new WeakMap<RpioLike, RpioMockBoard | 'auto'>();

/**
 * Initialises `rpio` for BCM numbering via /dev/gpiomem, once. `mock` undefined = auto (real
 * hardware when rpio recognises the board, else rpio's own fallback to `raspi-3` mock mode).
 * Throws a `GpioError` when init fails or another driver already asked for a different board.
 */
export function initRpio(rpio: RpioLike, mock: RpioMockBoard | undefined): void {
  const wanted = mock ?? 'auto';
  const done = initialised.get(rpio);
  if (done !== undefined) {
    if (done !== wanted) {
      throw new GpioError(
        'GPIO_INIT_CONFLICT',
        `rpio was initialised with mock=${done}, this driver asks for mock=${wanted}: every hardware driver of one process must use the same setting`,
      );
    }
    return;
  }
  try {
    rpio.init(mock === undefined ? { gpiomem: true, mapping: 'gpio' } : { gpiomem: true, mapping: 'gpio', mock });
  } catch (err) {
    throw new GpioError('GPIO_INIT_FAILED', `rpio.init failed: ${messageOf(err)}`, { cause: err });
  }
  initialised.set(rpio, wanted);
}

/** Throws a config error (before any subscription) unless `pin` is a BCM number rpio can poll. */
export function checkBcmPin(pin: number, key: string): void {
  // rpio's poll keeps its pins in a 32-bit mask (`1 << gpiopin`), so 0..31; the header has 0..27.
  if (!Number.isInteger(pin) || pin < 0 || pin > 31) {
    throw new RangeError(`${key}: expected a BCM GPIO number 0..31 (e.g. 17 for header pin 11), found ${String(pin)}`);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

export type KillSwitchCode =
  /** A falling edge, and the pin still LOW `debounceMs` later. */
  | 'BUTTON_PRESSED'
  /** The pin read LOW when watching started: button held, or wiring/pull-up broken. */
  | 'PIN_LOW_AT_START'
  /** rpio could not be loaded or initialised, or the pin could not be opened. */
  | 'GPIO_OPEN_FAILED'
  /** Edge detection could not be registered (e.g. the pin is already polled by someone else). */
  | 'GPIO_POLL_FAILED'
  /** A read threw or returned something other than LOW/HIGH. */
  | 'GPIO_READ_FAILED'
  /** The configured process signal arrived. */
  | 'SIGNAL_RECEIVED'
  /** The signal listener could not be installed. */
  | 'SIGNAL_LISTEN_FAILED';

/** The kill switch was pressed (or failed, which counts as pressed). There is no "released". */
export interface KillSwitchEvent {
  readonly kind: 'kill-switch';
  readonly pressed: true;
  readonly source: 'gpio' | 'signal';
  readonly code: KillSwitchCode;
  /** What happened, with the pin or signal and the underlying error message. */
  readonly reason: string;
  /** When the press was recognised, from the source's scheduler (ms since the epoch). */
  readonly tsEvent: Timestamp;
}

/**
 * Wraps a one-shot watcher into the latched, multicast source both factories return. The latch
 * deliberately lives at factory level, not in the subscription (unlike every other operator in
 * bot4): a retry or a re-subscription must never un-press the switch. Concurrent subscribers
 * share one watcher, because one pin can only be polled once.
 */
function latch(watch$: Observable<KillSwitchEvent>): Observable<KillSwitchEvent> {
  let pressed: KillSwitchEvent | undefined;
  const shared$ = watch$.pipe(
    tap((event) => {
      pressed ??= event;
    }),
    share(),
  );
  return defer(() => (pressed ? of(pressed) : shared$));
}

// ---------------------------------------------------------------------------------------------
// The button
// ---------------------------------------------------------------------------------------------

export interface KillSwitchConfig {
  /** BCM GPIO number of the button input (not the header position). Default 17 (header pin 11). */
  readonly pin?: number;
  /**
   * Debounce, ms. The first falling edge opens a window of this length; edges inside it (contact
   * bounce) are absorbed; at its end the pin is read and only LOW counts as a press. A glitch that
   * is back HIGH by then is ignored, so a press must be held at least this long (a kill switch
   * should be a latching mushroom button). Default 50.
   */
  readonly debounceMs?: number;
  /**
   * Period, ms, of a level check that reads the pin and treats LOW like an edge (then debounced
   * the same way): it catches a held button whose edge was missed or whose poll registration was
   * removed behind our back. Default 1000; 0 turns it off.
   */
  readonly levelCheckMs?: number;
  /** rpio mock board; default undefined = auto (rpio falls back to `raspi-3` mock off a Pi). */
  readonly mock?: RpioMockBoard;
  /** The rpio module, or a wrapper around it. Default: the real module, loaded at subscribe. */
  readonly rpio?: RpioLike;
  /** Scheduler for debounce, level checks and `tsEvent`. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/**
 * The kill-switch button as a latched, fail-closed observable: the input (pull-up on) goes LOW
 * when pressed; a falling edge seen by rpio's poll loop, confirmed LOW after `debounceMs`, is a
 * press. Emits one `KillSwitchEvent` and completes; see the module comment for the contract.
 *
 * ```
 * pin      HHHH L H L LLLLLLLLLLLL…      (bounce, then held)
 * edges        ^   ^
 * output   ---- ---------(a|)            a = BUTTON_PRESSED, debounceMs after the first edge
 * ```
 *
 * Subscribing opens the pin and registers the poll; the press, an error that counts as one, or
 * the last unsubscribe closes the pin (which stops rpio's poll interval when no other pin is
 * polled). One source per pin per process: a second poll of the same pin is refused by rpio,
 * which the second source reports as GPIO_POLL_FAILED (pressed).
 *
 * @example
 * const killSwitch$ = makeKillSwitchSource({ pin: 17, debounceMs: 50 });
 * const halted$ = killSwitch$.pipe(materialize(), take(1), map(() => true));
 *
 * @param config pin (BCM), debounce and level-check periods (ms), rpio board, rpio, scheduler.
 * @throws RangeError at once for a bad pin or period (never at subscribe).
 */
export function makeKillSwitchSource(config: KillSwitchConfig = {}): Observable<KillSwitchEvent> {
  const pin = config.pin ?? 17;
  const debounceMs = config.debounceMs ?? 50;
  const levelCheckMs = config.levelCheckMs ?? 1000;
  checkBcmPin(pin, 'killSwitch.pin');
  if (!Number.isFinite(debounceMs) || debounceMs < 0)
    throw new RangeError(`killSwitch.debounceMs: expected ms ≥ 0, found ${String(debounceMs)}`);
  if (!Number.isFinite(levelCheckMs) || levelCheckMs < 0)
    throw new RangeError(`killSwitch.levelCheckMs: expected ms ≥ 0 (0 = off), found ${String(levelCheckMs)}`);
  const scheduler = config.scheduler ?? asyncScheduler;
  const name = `BCM${pin}`;

  const watch$ = new Observable<KillSwitchEvent>((subscriber) => {
    let rpio: RpioLike | undefined;
    let polling = false;
    let window: Subscription | undefined;
    let levelCheck: Subscription | undefined;

    const stop = (): void => {
      window?.unsubscribe();
      levelCheck?.unsubscribe();
      window = levelCheck = undefined;
      // Only a source whose poll registration succeeded owns the pin: closing a pin someone
      // else polls would silently stop their kill switch.
      if (rpio && polling) {
        polling = false;
        try {
          rpio.poll(pin, null);
        } catch {
          // already unregistered; close below clears it anyway
        }
        try {
          rpio.close(pin, rpio.PIN_RESET);
        } catch {
          // nothing left to do in a teardown: the press (if any) is already latched
        }
      }
    };

    const press = (code: KillSwitchCode, reason: string): void => {
      if (subscriber.closed) return;
      stop();
      subscriber.next({ kind: 'kill-switch', pressed: true, source: 'gpio', code, reason, tsEvent: scheduler.now() });
      subscriber.complete();
    };

    /** LOW, HIGH, or a press with GPIO_READ_FAILED (then undefined). */
    const readLevel = (io: RpioLike, when: string): 'low' | 'high' | undefined => {
      let level: unknown;
      try {
        level = io.read(pin);
      } catch (err) {
        press('GPIO_READ_FAILED', `${name}: read ${when} failed: ${messageOf(err)}`);
        return undefined;
      }
      if (level === io.LOW) return 'low';
      if (level === io.HIGH) return 'high';
      press('GPIO_READ_FAILED', `${name}: read ${when} returned ${String(level)}, neither LOW nor HIGH`);
      return undefined;
    };

    // Called from rpio's poll interval and from the level check; must never throw into them.
    const onEdge = (io: RpioLike, via: string): void => {
      if (subscriber.closed || window) return;
      try {
        window = scheduler.schedule(() => {
          window = undefined;
          if (readLevel(io, `${debounceMs} ms after ${via}`) === 'low') {
            press('BUTTON_PRESSED', `${name} still LOW ${debounceMs} ms after ${via}`);
          }
        }, debounceMs);
      } catch (err) {
        press('GPIO_READ_FAILED', `${name}: cannot schedule the debounce: ${messageOf(err)}`);
      }
    };

    try {
      rpio = config.rpio ?? loadRpio();
      initRpio(rpio, config.mock);
      rpio.open(pin, rpio.INPUT, rpio.PULL_UP);
    } catch (err) {
      press('GPIO_OPEN_FAILED', `${name}: cannot open the kill-switch input: ${messageOf(err)}`);
      return stop;
    }
    const io = rpio;

    try {
      io.poll(pin, () => onEdge(io, 'a falling edge'), io.POLL_LOW);
      polling = true;
    } catch (err) {
      press('GPIO_POLL_FAILED', `${name}: cannot watch for falling edges: ${messageOf(err)}`);
      return stop;
    }

    // Read after the poll is registered, so a press between the two is not lost.
    const atStart = readLevel(io, 'at start');
    if (atStart === 'low') {
      press(
        'PIN_LOW_AT_START',
        `${name} reads LOW when watching starts: button held, or the wiring or pull-up is broken (in rpio mock mode an input reads LOW until written HIGH)`,
      );
    }
    if (subscriber.closed) return stop;

    if (levelCheckMs > 0) {
      levelCheck = scheduler.schedule(function check() {
        if (readLevel(io, 'by the level check') === 'low') onEdge(io, 'the level check found it LOW');
        if (!subscriber.closed) this.schedule(undefined, levelCheckMs);
      }, levelCheckMs);
    }
    return stop;
  });

  return latch(watch$);
}

// ---------------------------------------------------------------------------------------------
// The software trigger
// ---------------------------------------------------------------------------------------------

/** What a signal source listens on: `process` by default, any EventEmitter in tests. */
import type { SignalEmitter } from './armSignal';
export type { ArmedSignal, SignalEmitter } from './armSignal';
export { armSignal } from './armSignal';

export interface SignalKillSwitchConfig {
  /** Default SIGUSR2 (`kill -USR2 <pid>`). SIGUSR1 is refused: node uses it for the inspector. */
  readonly signal?: NodeJS.Signals;
  /** Default `process`. */
  readonly emitter?: SignalEmitter;
  /** Scheduler for `tsEvent`. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

const UNLISTENABLE = new Set<string>(['SIGKILL', 'SIGSTOP', 'SIGUSR1']);

/**
 * The kill switch for machines without a button: a process signal counts as a press. Same
 * latched event and contract as `makeKillSwitchSource`, with `source: 'signal'`.
 *
 * Node terminates the process on SIGUSR2 when nobody listens. While subscribed, the source
 * listens; once pressed it leaves a listener that absorbs further signals for the life of the
 * process, so pressing twice cannot kill the process in the middle of flattening. Unsubscribed
 * before any press, it removes its listener and the default (terminate) applies again.
 *
 * @example
 * const killSwitch$ = makeSignalKillSwitchSource({ signal: 'SIGUSR2' });
 *
 * @param config signal name, emitter (default `process`), scheduler for `tsEvent`.
 * @throws RangeError at once for an unknown or unlistenable signal.
 */
export function makeSignalKillSwitchSource(config: SignalKillSwitchConfig = {}): Observable<KillSwitchEvent> {
  const signal = config.signal ?? 'SIGUSR2';
  if (!Object.hasOwn(osConstants.signals, signal) || UNLISTENABLE.has(signal)) {
    throw new RangeError(
      `signalKillSwitch.signal: expected a signal node can listen to other than SIGUSR1 (e.g. SIGUSR2), found ${String(signal)}`,
    );
  }
  const emitter: SignalEmitter = config.emitter ?? process;
  const scheduler = config.scheduler ?? asyncScheduler;
  let absorbing = false;
  const absorb = (): void => {
    // a press is already latched; further signals change nothing
  };

  const watch$ = new Observable<KillSwitchEvent>((subscriber) => {
    let listening = false;
    const onSignal = (): void => {
      if (subscriber.closed) return;
      if (!absorbing) {
        absorbing = true;
        try {
          // Installed before our own listener goes, so there is no moment without one.
          emitter.on(signal, absorb);
        } catch {
          // the press still counts; only a second signal is left to its default action
        }
      }
      subscriber.next({
        kind: 'kill-switch',
        pressed: true,
        source: 'signal',
        code: 'SIGNAL_RECEIVED',
        reason: `${signal} received`,
        tsEvent: scheduler.now(),
      });
      subscriber.complete();
    };
    try {
      emitter.on(signal, onSignal);
      listening = true;
    } catch (err) {
      subscriber.next({
        kind: 'kill-switch',
        pressed: true,
        source: 'signal',
        code: 'SIGNAL_LISTEN_FAILED',
        reason: `cannot listen to ${signal}: ${messageOf(err)}`,
        tsEvent: scheduler.now(),
      });
      subscriber.complete();
    }
    return () => {
      if (listening) emitter.removeListener(signal, onSignal);
    };
  });

  return latch(watch$);
}

// ---------------------------------------------------------------------------------------------
// Armed from process start
// ---------------------------------------------------------------------------------------------

/**
 * Reads the kill-switch button once: `pressed` (LOW) or `released` (HIGH). For an operator's
 * reset, which is allowed only while the switch is released. Throws a {@link GpioError} when the
 * pin cannot be opened or read — which the caller must treat as "not released".
 */
export function readKillSwitchPin(
  config: Pick<KillSwitchConfig, 'pin' | 'mock' | 'rpio'> = {},
): 'pressed' | 'released' {
  const pin = config.pin ?? 17;
  checkBcmPin(pin, 'killSwitch.pin');
  const rpio = config.rpio ?? loadRpio();
  initRpio(rpio, config.mock);
  try {
    rpio.open(pin, rpio.INPUT, rpio.PULL_UP);
  } catch (err) {
    throw new GpioError('GPIO_OPEN_FAILED', `BCM${pin}: cannot open the kill-switch input: ${messageOf(err)}`, {
      cause: err,
    });
  }
  try {
    const level = rpio.read(pin);
    if (level === rpio.LOW) return 'pressed';
    if (level === rpio.HIGH) return 'released';
    throw new GpioError('GPIO_OPEN_FAILED', `BCM${pin}: read returned ${String(level)}, neither LOW nor HIGH`);
  } finally {
    try {
      rpio.close(pin, rpio.PIN_PRESERVE);
    } catch {
      // nothing to do: the reading is what mattered
    }
  }
}
