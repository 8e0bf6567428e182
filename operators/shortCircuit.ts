import { Observable, Subscription, asapScheduler, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import type { OrderCommand, RiskDecision } from './types';

/** What the guard can sit on: the commands to a venue, or the risk gate's decisions. */
export type HaltableItem = OrderCommand | RiskDecision;

export interface HaltOnKillConfig<T extends HaltableItem> {
  /**
   * Where items are released: each item waits for a zero-delay action on this scheduler, i.e. until
   * everything already due in the current instant has run (a press in the same frame included),
   * and the latch is checked when it is released. Default `asapScheduler` (the end of the current
   * JS turn); a backtest passes its virtual scheduler.
   */
  readonly scheduler?: SchedulerLike;
  /** Whether a value of `kill$` means pressed. Default: anything but `false` (so `BehaviorSubject(false)` is "not pressed"). */
  readonly isPressed?: (value: unknown) => boolean;
  /** Whether an item would add risk. Default {@link increasesRisk}. A throw goes to the error channel. */
  readonly increasesRisk?: (item: T) => boolean;
  /**
   * Told of every item dropped because the switch was pressed, so the wiring can journal it
   * (nothing is dropped unseen). A throw goes to the error channel.
   */
  readonly onHalt?: (item: T) => void;
}

/**
 * True for an item that may add risk: an order or approval that is not `reducesRisk`, and any kind
 * this guard does not know (fail-closed). Cancels, cancel-alls and denials never add risk.
 */
export function increasesRisk(item: HaltableItem): boolean {
  switch (item.kind) {
    case 'order':
      return !item.reducesRisk;
    case 'approved':
      return !item.order.reducesRisk;
    case 'cancel':
    case 'cancel-all':
    case 'denied':
      return false;
    default:
      return true;
  }
}

/**
 * The kill switch's guarantee, as the last step before the venue: once `kill$` emits a pressed
 * value — or errors, or completes (fail-closed) — no risk-increasing order leaves this operator;
 * cancels and reduce-only orders still do, so the book can be cancelled and positions flattened.
 * The latch lasts as long as the subscription (the kill switch is latched; resubscribe to re-arm).
 *
 * Why subscription order cannot defeat it:
 * - `kill$` is subscribed before the source, so a press that is already there (BehaviorSubject,
 *   ReplaySubject, `of(true)`, a synchronous emission) is latched before the first item arrives;
 * - items are not passed on when they arrive but released by a zero-delay action on `scheduler`,
 *   and the latch is checked at release — so an order emitted in the same instant as the press,
 *   even before the press reached this operator, is dropped, and so is one still travelling
 *   between operators when the press came.
 * Items keep their order; completion and errors of the source follow the items before them.
 * The output never errors because of `kill$`.
 *
 * Place it after every asynchronous step, immediately before the venue sink.
 *
 * ```
 * kill$:   -----k-------      k pressed (or error, or complete)
 * source:  --a--b--c--x-|     a, b, c risk-increasing orders · x cancel / reduce-only
 * output:  --a--------x-|     b is in the same frame as the press: dropped
 * ```
 *
 * @example
 * ```ts
 * const toVenue$ = approvedOrders$.pipe(haltOnKill(killSwitch$, { scheduler }));
 * ```
 * @param kill$ the kill switch (e.g. GPIO BCM17, debounced): a pressed value, an error or completion latches.
 * @param config release scheduler and classifiers; see {@link HaltOnKillConfig}.
 */
export function haltOnKill<T extends HaltableItem>(
  kill$: Observable<unknown>,
  config: HaltOnKillConfig<T> = {},
): MonoTypeOperatorFunction<T> {
  const scheduler = config.scheduler ?? asapScheduler;
  const isPressed = config.isPressed ?? ((value: unknown) => value !== false);
  const addsRisk: (item: T) => boolean = config.increasesRisk ?? increasesRisk;

  return (source) =>
    new Observable<T>((subscriber) => {
      let killed = false;
      const queue: T[] = [];
      let end: { readonly error: unknown } | 'complete' | undefined;
      let pending = false;
      let release: Subscription | undefined;
      const subscriptions = new Subscription();

      const flush = (): void => {
        try {
          // Items that arrive while releasing (a synchronous feedback loop) join this same loop.
          while (queue.length > 0 && !subscriber.closed) {
            const item = queue.shift()!;
            if (killed && addsRisk(item)) {
              config.onHalt?.(item);
              continue;
            }
            subscriber.next(item);
          }
        } catch (err) {
          subscriber.error(err);
          return;
        }
        pending = false;
        if (release) subscriptions.remove(release);
        release = undefined;
        if (end === 'complete') subscriber.complete();
        else if (end) subscriber.error(end.error);
      };
      const scheduleRelease = (): void => {
        if (pending) return;
        pending = true;
        const action = scheduler.schedule(flush);
        // Still pending unless the scheduler ran the action at once (queueScheduler outside a queue).
        if (pending) {
          release = action;
          subscriptions.add(action);
        }
      };

      subscriptions.add(
        kill$.subscribe({
          next: (value) => {
            if (killed) return;
            try {
              if (isPressed(value)) killed = true;
            } catch (err) {
              killed = true;
              subscriber.error(err);
            }
          },
          error: () => {
            killed = true;
          },
          complete: () => {
            killed = true;
          },
        }),
      );
      if (subscriber.closed) return subscriptions;

      subscriptions.add(
        source.subscribe({
          next: (item) => {
            queue.push(item);
            scheduleRelease();
          },
          error: (err: unknown) => {
            end = { error: err };
            scheduleRelease();
          },
          complete: () => {
            end = 'complete';
            scheduleRelease();
          },
        }),
      );
      return subscriptions;
    });
}
