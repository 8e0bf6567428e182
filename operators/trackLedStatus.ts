/**
 * The session's status as the status LEDs show it (`operators/ledPattern.ts`), folded from what
 * the session already emits: mode changes, the end of the warm-up and the health of its feeds.
 *
 * - `mode` follows every `mode-changed`.
 * - `killLatched` is set when the mode enters Emergency because the kill switch was pressed (now,
 *   or in an earlier session: the latch restored from the journal), and cleared when the mode
 *   leaves Emergency. Emergency for another reason (drawdown, an operator) is steady red, not a
 *   blinking one.
 * - `trading` is false until the warm-up ends and while any feed stream is disconnected; data
 *   flowing again (`feed-connected`, `feed-healthy`) on that stream clears it.
 *
 * ```
 * input   -w--d--h--k--|      w warm-up done · d feed ticker down · h ticker healthy · k kill pressed (mode → Emergency)
 * output  a-b--c--b--e-|      a Normal, not trading · b Normal trading · c Normal, outage · e Emergency latched
 * ```
 *
 * @example
 * merge(modeChanged$, warmedUp$, feedEvents$).pipe(trackLedStatus('Normal'), showLedPattern()).subscribe(drive);
 * @param initial the mode before the first `mode-changed` (the config's initial mode).
 * @throws RangeError (to the error channel) for a mode change to a mode that is not one of the four.
 */
import type { OperatorFunction } from 'rxjs';
import { Observable } from 'rxjs';
import type { LedStatus } from './ledPattern';
import type { Mode, ModeChanged } from './types';

/** The warm-up is over: the session trades on live bars from now on. */
export interface WarmedUp {
  readonly kind: 'warmed-up';
}

/** A feed's health, as `sources/ccxtFeed.ts` reports it (only the fields the LEDs need). */
export interface FeedHealth {
  readonly kind: 'feed-disconnected' | 'feed-connected' | 'feed-healthy';
  readonly stream: string;
}

export type LedStatusInput = ModeChanged | WarmedUp | FeedHealth;

const MODES: ReadonlySet<string> = new Set<Mode>(['Normal', 'Reduced', 'Paused', 'Emergency']);
const KILL_REASON = /^kill switch/;

export function trackLedStatus(initial: Mode): OperatorFunction<LedStatusInput, LedStatus> {
  return (input$) =>
    new Observable<LedStatus>((subscriber) => {
      let mode: Mode = initial;
      let killLatched = false;
      let warm = false;
      const down = new Set<string>();
      let shown = '';
      const emit = (): void => {
        const status: LedStatus = { mode, killLatched, trading: warm && down.size === 0 };
        const key = `${status.mode}|${status.killLatched}|${status.trading}`;
        if (key === shown) return;
        shown = key;
        subscriber.next(status);
      };
      emit();
      return input$.subscribe({
        next: (input) => {
          try {
            switch (input.kind) {
              case 'mode-changed':
                if (!MODES.has(input.to))
                  throw new RangeError(`trackLedStatus: mode-changed to an unknown mode ${String(input.to)}`);
                if (input.to === 'Emergency' && mode !== 'Emergency') killLatched = KILL_REASON.test(input.reason);
                if (input.to !== 'Emergency') killLatched = false;
                mode = input.to;
                break;
              case 'warmed-up':
                warm = true;
                break;
              case 'feed-disconnected':
                down.add(input.stream);
                break;
              case 'feed-connected':
              case 'feed-healthy':
                down.delete(input.stream);
                break;
            }
            emit();
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
