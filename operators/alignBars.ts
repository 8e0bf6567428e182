import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Bar, Symbol } from './types';
import { routeThrows } from './routeThrows';

export interface AlignBarsConfig {
  /**
   * The universe's symbols, in the order the bars of one close time are released — the order a
   * backtest replays them in (`mergeByEventTime` keeps the config's order at equal times). Bars of
   * other symbols pass straight through.
   */
  readonly symbols: readonly Symbol[];
  /**
   * Longest wait, in ms of scheduler time, for the other symbols after the first bar of a close
   * time arrived; then that close time is released without them (a symbol with a gap or a slow
   * feed delays the others by at most this much, never stalls them). Default 15 000.
   */
  readonly waitMs?: number;
  /** Clock for the wait. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/**
 * Aligns the live bars of several symbols (each series in order, as `makeCcxtOhlcvSource` emits
 * them) by close time: the bars of one close time are released together in the universe's order
 * once every symbol has sent its bar for it — or a bar of a later close time arrived (that close
 * time is over), or `waitMs` passed. A live session thus hands the pipeline the same sequence a
 * backtest over the same bars replays, whatever order the exchange's streams interleave in, so
 * both decide and fill alike. A bar arriving after its close time was released passes at once.
 *
 * ```
 * symbols [A, B]
 * in:   --b1-a1--a2-------b2--a3--|      (b3 never comes)
 * out:  -----(a1 b1)-------(a2 b2)-(a3)|  a3 released by the completion (or by the wait)
 * ```
 *
 * @example
 * liveBars$.pipe(alignBars({ symbols: ['BTC/USDT', 'ETH/USDT'], waitMs: 10_000 }))
 */
export function alignBars(config: AlignBarsConfig): OperatorFunction<Bar, Bar> {
  const waitMs = config.waitMs ?? 15_000;
  if (!(waitMs >= 0) || !Number.isFinite(waitMs))
    throw new RangeError(`alignBars: waitMs: expected a finite number of ms ≥ 0, found ${waitMs}`);
  const order = new Map(config.symbols.map((s, i) => [s, i]));
  if (order.size !== config.symbols.length)
    throw new RangeError(`alignBars: symbols: expected each symbol once, found ${config.symbols.join(', ')}`);
  return (source) =>
    new Observable<Bar>((subscriber) => {
      const scheduler = config.scheduler ?? asyncScheduler;
      /** Bars waiting, by close time; each slot holds one bar per symbol index. */
      const pending = new Map<number, (Bar | undefined)[]>();
      const timers = new Map<number, Subscription>();
      /** Newest close time seen per symbol index. */
      const seen: number[] = config.symbols.map(() => -Infinity);
      /** Every close time up to this one has been released. */
      let released = -Infinity;

      const release = (upTo: number): void => {
        const times = [...pending.keys()].filter((t) => t <= upTo).sort((a, b) => a - b);
        for (const t of times) {
          const slot = pending.get(t)!;
          pending.delete(t);
          timers.get(t)?.unsubscribe();
          timers.delete(t);
          released = Math.max(released, t);
          for (const bar of slot) if (bar) subscriber.next(bar);
        }
      };
      /** The newest close time every symbol has reached. */
      const complete = (): number => {
        let min = Infinity;
        for (const t of seen) min = Math.min(min, t);
        return min;
      };

      const subscription = source.subscribe({
        next: routeThrows(subscriber, (bar) => {
          const index = order.get(bar.symbol);
          if (index === undefined || bar.tsEvent <= released) {
            subscriber.next(bar);
            return;
          }
          seen[index] = Math.max(seen[index]!, bar.tsEvent);
          let slot = pending.get(bar.tsEvent);
          if (!slot) {
            slot = config.symbols.map(() => undefined);
            pending.set(bar.tsEvent, slot);
            const t = bar.tsEvent;
            timers.set(
              t,
              scheduler.schedule(() => release(t), waitMs),
            );
          }
          // A repeat of a bar (same symbol, same close) replaces nothing: the first is kept, the
          // repeat passes on for the sequence guard downstream to dead-letter.
          if (slot[index]) subscriber.next(bar);
          else slot[index] = bar;
          // Earlier close times are over as soon as a later one arrives; this one once complete.
          release(Math.max(complete(), largestBelow(pending, bar.tsEvent)));
        }),
        error: (err: unknown) => {
          // What was accepted is not lost: waiting bars go out before the error.
          release(Infinity);
          subscriber.error(err);
        },
        complete: () => {
          release(Infinity);
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        for (const timer of timers.values()) timer.unsubscribe();
        timers.clear();
        pending.clear();
      };
    });
}

function largestBelow(pending: ReadonlyMap<number, unknown>, t: number): number {
  let best = -Infinity;
  for (const k of pending.keys()) if (k < t && k > best) best = k;
  return best;
}
