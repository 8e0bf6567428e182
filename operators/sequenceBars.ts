import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { timeframeMs, type Bar, type BarGap, type DeadLetter } from './types';

export interface SequenceBarsConfig {
  /** Clock for the `tsInit` of dead letters. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/**
 * Guards the order of a bar stream (replayed or from an exchange's kline feed), per venue,
 * symbol and timeframe: a bar at or before the last one is a duplicate or out of order and
 * becomes a dead letter (never a second decision on the same interval); a jump of more than one
 * interval passes the bar through after a {@link BarGap} saying how many bars are missing.
 *
 * ```
 * bars:  --a--b--b--d--|     (c missing, b repeated)
 * out:   --a--b--x--(gd)|    x dead letter · g gap of 1
 * ```
 */
export function sequenceBars(config: SequenceBarsConfig = {}): OperatorFunction<Bar, Bar | BarGap | DeadLetter> {
  return (source) =>
    new Observable<Bar | BarGap | DeadLetter>((subscriber) => {
      const scheduler = config.scheduler ?? asyncScheduler;
      const last = new Map<string, Bar>();
      return source.subscribe({
        next: (bar) => {
          const key = `${bar.venue}|${bar.symbol}|${bar.timeframe}`;
          const previous = last.get(key);
          if (previous) {
            if (bar.tsOpen < previous.tsEvent) {
              subscriber.next({
                kind: 'dead-letter',
                stage: 'sequenceBars',
                reason: `${bar.tsOpen === previous.tsOpen ? 'duplicate' : 'out-of-order'} ${bar.symbol} ${bar.timeframe} bar at ${bar.tsOpen}: last bar opened at ${previous.tsOpen}`,
                raw: bar,
                tsInit: scheduler.now(),
              });
              return;
            }
            if (bar.tsOpen > previous.tsEvent) {
              subscriber.next({
                kind: 'gap',
                venue: bar.venue,
                symbol: bar.symbol,
                timeframe: bar.timeframe,
                from: previous.tsEvent,
                to: bar.tsOpen,
                missing: Math.round((bar.tsOpen - previous.tsEvent) / timeframeMs(bar.timeframe)),
                tsEvent: bar.tsOpen,
              });
            }
          }
          last.set(key, bar);
          subscriber.next(bar);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
