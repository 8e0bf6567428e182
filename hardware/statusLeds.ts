/**
 * The status LEDs (DESIGN.md "Modes and the kill switch", spec §7.8): green = Normal,
 * yellow = Paused or Reduced, red = Emergency; exactly one lit while a mode is known.
 *
 * Pins are BCM numbers (rpio runs with `mapping: 'gpio'`, see killSwitch.ts): green BCM22
 * (header pin 15), yellow BCM23 (pin 16), red BCM24 (pin 18), each driving its LED when HIGH.
 */
import { Observable } from 'rxjs';
import { map } from 'rxjs/operators';
import { LED_COLORS, type LedColor, type LedFrame, type LedPattern } from '../operators/ledPattern';
import type { Mode } from '../operators/types';
import { GpioError, checkBcmPin, initRpio, loadRpio, type RpioLike, type RpioMockBoard } from './killSwitch';

export type { LedColor } from '../operators/ledPattern';

export interface StatusLedPins {
  /** BCM number, default 22. */
  readonly green: number;
  /** BCM number, default 23. */
  readonly yellow: number;
  /** BCM number, default 24. */
  readonly red: number;
}

export interface StatusLedConfig {
  /** BCM numbers (not header positions); defaults green 22, yellow 23, red 24. */
  readonly pins?: Partial<StatusLedPins>;
  /** rpio mock board; default undefined = auto. Must match the kill switch's setting. */
  readonly mock?: RpioMockBoard;
  /** The rpio module, or a wrapper around it. Default: the real module, loaded at subscribe. */
  readonly rpio?: RpioLike;
}

/** What the LEDs show after each change: `lit` null = all off (no mode known, or shut down). */
export interface StatusLedState {
  readonly kind: 'status-leds';
  /** The mode shown; null before/after the mode stream, and after its error. */
  readonly mode: Mode | null;
  readonly lit: LedColor | null;
}

const COLORS = LED_COLORS;

/** The LED for a mode. Anything that is not a known mode shows red: unknown is not safe. */
export function ledFor(mode: Mode): LedColor {
  switch (mode) {
    case 'Normal':
      return 'green';
    case 'Paused':
    case 'Reduced':
      return 'yellow';
    default:
      return 'red';
  }
}

/**
 * A status-LED sink: subscribe the returned observable to drive the LEDs from `mode$`. It emits
 * the state shown after every mode change.
 *
 * - Before the first mode all LEDs are off; each mode lights exactly one (the others are turned
 *   off first, so two are never lit together).
 * - Clean shutdown — `mode$` completes, or the result is unsubscribed — turns all off and closes
 *   the pins (completion also emits the all-off state, then completes).
 * - Fail-safe: when `mode$` errors, red is lit alone and the pins are closed with PIN_PRESERVE,
 *   so red stays lit after the sink is gone; the state `{mode: null, lit: 'red'}` is emitted and
 *   the error passed on. A failing write does the same (best effort) with a `GpioError`.
 * - Pins that cannot be opened error the sink with a `GpioError` (LEDs are indication, not
 *   safety: the pipeline decides whether to run without them; the kill switch is separate).
 *
 * ```
 * mode$   -N--P--E--|
 * LEDs     g  y  r  (all off)
 * output  -a--b--c--(d|)
 * ```
 *
 * @example
 * makeStatusLedSink({})(mode$).subscribe();
 *
 * @param config BCM pins, rpio board, rpio.
 * @throws RangeError at once for pins that are not distinct BCM numbers 0..31.
 */
export function makeStatusLedSink(
  config: StatusLedConfig = {},
): (mode$: Observable<Mode>) => Observable<StatusLedState> {
  const drive = makeLedDriver<Mode>(config, ledFor, (mode) => mode);
  return (mode$) =>
    drive(mode$).pipe(map(({ value, lit }): StatusLedState => ({ kind: 'status-leds', mode: value, lit })));
}

/** What the LEDs show after each frame of a pattern: `pattern` null after the sink stopped. */
export interface LedFrameState {
  readonly kind: 'status-led-frame';
  readonly pattern: LedPattern | null;
  readonly lit: LedColor | null;
}

/**
 * An LED sink for patterns (`operators/ledPattern.ts`: steady, blinking, heartbeat): subscribe
 * the returned observable to drive the LEDs from `showLedPattern`'s frames. Same pins, clean
 * shutdown and fail-safe red as `makeStatusLedSink`.
 *
 * ```
 * frames$  -g--r--x--r--|
 * output   -a--b--c--d--(e|)   (e: all off)
 * ```
 */
export function makeLedFrameSink(
  config: StatusLedConfig = {},
): (frames$: Observable<LedFrame>) => Observable<LedFrameState> {
  const drive = makeLedDriver<LedFrame>(
    config,
    (f) => f.lit,
    (f) => f.pattern,
  );
  return (frames$) =>
    drive(frames$).pipe(
      map(({ value, lit }): LedFrameState => ({ kind: 'status-led-frame', pattern: value?.pattern ?? null, lit })),
    );
}

/**
 * The pins' side of both sinks: lights `litOf(value)` alone for each value, off at completion
 * or unsubscribe, red on an error; emits the value shown (null after it stopped) and what is lit.
 */
function makeLedDriver<T>(
  config: StatusLedConfig,
  litOf: (value: T) => LedColor | null,
  describe: (value: T) => string,
): (input$: Observable<T>) => Observable<{ readonly value: T | null; readonly lit: LedColor | null }> {
  const pins: StatusLedPins = {
    green: config.pins?.green ?? 22,
    yellow: config.pins?.yellow ?? 23,
    red: config.pins?.red ?? 24,
  };
  for (const color of COLORS) checkBcmPin(pins[color], `statusLeds.pins.${color}`);
  if (new Set(COLORS.map((c) => pins[c])).size !== COLORS.length) {
    throw new RangeError(
      `statusLeds.pins: expected three different BCM numbers, found green=${pins.green} yellow=${pins.yellow} red=${pins.red}`,
    );
  }

  return (input$) =>
    new Observable<{ readonly value: T | null; readonly lit: LedColor | null }>((subscriber) => {
      let rpio: RpioLike;
      const opened: LedColor[] = [];
      let open = true;
      let lit: LedColor | null = null;
      let shown: T | null = null;

      /** Closes every opened pin; PIN_PRESERVE leaves the last level (red) showing. */
      const closeAll = (reset: number): void => {
        if (!open) return;
        open = false;
        for (const color of opened) {
          try {
            rpio.close(pins[color], reset);
          } catch {
            // closing is best effort: the process is shutting the LEDs down anyway
          }
        }
      };

      /** Lights `color` alone (null = all off): the others go off before it comes on. */
      const show = (color: LedColor | null): void => {
        for (const other of COLORS) if (other !== color) rpio.write(pins[other], rpio.LOW);
        if (color) rpio.write(pins[color], rpio.HIGH);
        lit = color;
      };

      /** Red (the others off where they can be), pins left as they are, the error passed on. */
      const failSafe = (err: unknown): void => {
        // Pin by pin: one dead LED must not keep red from lighting.
        for (const other of COLORS) {
          if (other === 'red') continue;
          try {
            rpio.write(pins[other], rpio.LOW);
          } catch {
            // best effort
          }
        }
        try {
          rpio.write(pins.red, rpio.HIGH);
          lit = 'red';
        } catch {
          // red cannot be shown; `lit` keeps the last state we know of, the error says the rest
        }
        closeAll(rpio.PIN_PRESERVE);
        subscriber.next({ value: null, lit });
        subscriber.error(err);
      };

      try {
        rpio = config.rpio ?? loadRpio();
        initRpio(rpio, config.mock);
      } catch (err) {
        subscriber.error(err);
        return;
      }
      for (const color of COLORS) {
        try {
          rpio.open(pins[color], rpio.OUTPUT, rpio.LOW);
          opened.push(color);
        } catch (err) {
          closeAll(rpio.PIN_RESET);
          subscriber.error(
            new GpioError(
              'GPIO_OPEN_FAILED',
              `status LED ${color} (BCM${pins[color]}): cannot open: ${err instanceof Error ? err.message : String(err)}`,
              { cause: err },
            ),
          );
          return;
        }
      }

      const subscription = input$.subscribe({
        next: (next) => {
          // After a failed write the sink has errored; a synchronous upstream may still emit.
          if (subscriber.closed || next === shown) return;
          let color: LedColor | null;
          try {
            color = litOf(next);
          } catch (err) {
            failSafe(err);
            return;
          }
          try {
            if (color !== lit) show(color);
          } catch (err) {
            failSafe(
              new GpioError(
                'GPIO_WRITE_FAILED',
                `status LEDs: cannot show ${color ?? 'all off'} for ${describe(next)}: ${err instanceof Error ? err.message : String(err)}`,
                { cause: err },
              ),
            );
            return;
          }
          shown = next;
          subscriber.next({ value: next, lit });
        },
        error: (err: unknown) => failSafe(err),
        complete: () => {
          try {
            show(null);
          } catch (err) {
            failSafe(
              new GpioError(
                'GPIO_WRITE_FAILED',
                `status LEDs: cannot turn off: ${err instanceof Error ? err.message : String(err)}`,
                { cause: err },
              ),
            );
            return;
          }
          closeAll(rpio.PIN_RESET);
          subscriber.next({ value: null, lit: null });
          subscriber.complete();
        },
      });

      return () => {
        subscription.unsubscribe();
        if (!open) return;
        try {
          show(null);
        } catch {
          // unsubscribing cannot report; the pins are reset to inputs below, which turns LEDs off
        }
        closeAll(rpio.PIN_RESET);
      };
    });
}
