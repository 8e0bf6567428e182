/**
 * What the status LEDs show, as a function of the session's status (spec §7.8; README "The
 * appliance"). Readable from across the room:
 *
 * | status                                   | pattern        | LEDs                                   |
 * |------------------------------------------|----------------|----------------------------------------|
 * | kill switch latched                      | `blink-red`    | red on/off every `blinkMs`             |
 * | mode Emergency                           | `steady-red`   | red                                    |
 * | alive but not trading (warm-up, outage)  | `heartbeat`    | all off, green flashes `flashMs` every `heartbeatMs` |
 * | mode Paused or Reduced                   | `steady-yellow`| yellow                                 |
 * | mode Normal                              | `steady-green` | green                                  |
 * | stopped (the status stream ended)        | `off`          | all off                                |
 *
 * Earlier rows win: a latched switch blinks red whatever the mode, and Emergency stays red during
 * an outage. Never two LEDs at once.
 */
import { type Observable, type OperatorFunction, type SchedulerLike, asyncScheduler, concat, of, timer } from 'rxjs';
import { distinctUntilChanged, endWith, map, switchMap } from 'rxjs/operators';
import type { Mode } from './types';

export type LedColor = 'green' | 'yellow' | 'red';
export const LED_COLORS: readonly LedColor[] = ['green', 'yellow', 'red'];

export type LedPattern = 'blink-red' | 'steady-red' | 'heartbeat' | 'steady-yellow' | 'steady-green' | 'off';

/** The session's status as the LEDs need it. */
export interface LedStatus {
  readonly mode: Mode;
  /** The kill switch is latched (pressed and not yet reset by an operator). */
  readonly killLatched: boolean;
  /** False while the process is alive but does not trade: warm-up, a market-data outage. */
  readonly trading: boolean;
}

/** One state of the LEDs: the colors lit (at most one) and the pattern it belongs to. */
export interface LedFrame {
  readonly kind: 'led-frame';
  readonly pattern: LedPattern;
  readonly lit: LedColor | null;
}

export interface ShowLedPatternConfig {
  /** Half-period of the kill-latch blink, ms; default 500 (1 Hz). */
  readonly blinkMs?: number;
  /** Period of the heartbeat, ms; default 2000. */
  readonly heartbeatMs?: number;
  /** How long the heartbeat's green flash lasts, ms; default 100; less than `heartbeatMs`. */
  readonly flashMs?: number;
  /** Where blink times come from; default `asyncScheduler` (a TestScheduler in tests). */
  readonly scheduler?: SchedulerLike;
}

/** The pattern for a status (the table above, first matching row). */
export function ledPatternFor(status: LedStatus): LedPattern {
  if (status.killLatched) return 'blink-red';
  if (status.mode === 'Emergency') return 'steady-red';
  if (!status.trading) return 'heartbeat';
  if (status.mode === 'Paused' || status.mode === 'Reduced') return 'steady-yellow';
  if (status.mode === 'Normal') return 'steady-green';
  return 'steady-red'; // a mode we do not know is not safe
}

const frame = (pattern: LedPattern, lit: LedColor | null): LedFrame =>
  Object.freeze({ kind: 'led-frame', pattern, lit });

/**
 * Turns a status stream into LED frames: one frame per change of what is lit, blinking on the
 * scheduler. When the status stream completes the LEDs go off (`off` frame) and the output
 * completes; a status error is passed on (the LED sink then shows red, fail-safe).
 *
 * ```
 * status  -N------K---------|        (N = Normal trading, K = kill latched; blinkMs = 3 frames)
 * output  -g------r--x--r--x(o|)     (g green, r red, x all off, o off)
 * ```
 *
 * @example
 * status$.pipe(showLedPattern({ blinkMs: 500 })).subscribe(frame => drive(frame));
 * @param config blink and heartbeat periods (ms) and the scheduler.
 * @throws RangeError at once for periods that are not positive, or a flash not shorter than
 *   the heartbeat.
 */
export function showLedPattern(config: ShowLedPatternConfig = {}): OperatorFunction<LedStatus, LedFrame> {
  const blinkMs = config.blinkMs ?? 500;
  const heartbeatMs = config.heartbeatMs ?? 2000;
  const flashMs = config.flashMs ?? 100;
  const scheduler = config.scheduler ?? asyncScheduler;
  for (const [key, v] of [
    ['blinkMs', blinkMs],
    ['heartbeatMs', heartbeatMs],
    ['flashMs', flashMs],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0))
      throw new RangeError(`showLedPattern.${key}: expected a positive number of ms, found ${v}`);
  }
  if (flashMs >= heartbeatMs) {
    throw new RangeError(`showLedPattern.flashMs: expected less than heartbeatMs (${heartbeatMs}), found ${flashMs}`);
  }

  const framesOf = (pattern: LedPattern): Observable<LedFrame> => {
    switch (pattern) {
      case 'blink-red':
        return timer(0, blinkMs, scheduler).pipe(map((i) => frame(pattern, i % 2 === 0 ? 'red' : null)));
      case 'heartbeat':
        return timer(0, heartbeatMs, scheduler).pipe(
          switchMap(() =>
            concat(of(frame(pattern, 'green')), timer(flashMs, scheduler).pipe(map(() => frame(pattern, null)))),
          ),
        );
      case 'steady-red':
        return of(frame(pattern, 'red'));
      case 'steady-yellow':
        return of(frame(pattern, 'yellow'));
      case 'steady-green':
        return of(frame(pattern, 'green'));
      case 'off':
        return of(frame(pattern, null));
    }
  };

  return (status$) =>
    status$.pipe(map(ledPatternFor), endWith<LedPattern>('off'), distinctUntilChanged(), switchMap(framesOf));
}
