import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { OutlierDetector, barValueProblem, type OutlierConfig } from './barChecks';
import { timeframeMs, type Bar, type BarGap, type DeadLetter } from './types';
import { routeThrows } from './routeThrows';

export interface SequenceBarsConfig {
  /** Clock for the `tsInit` of dead letters. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /**
   * Bad-tick detection per series (see {@link OutlierDetector}): an outlier bar becomes a dead
   * letter, never a decision. `false` switches it off. Default: the detector's defaults.
   */
  readonly outliers?: OutlierConfig | false;
}

/**
 * Guards a bar stream (replayed or from an exchange's kline feed), per venue, symbol and
 * timeframe. A bar with an impossible price (≤ 0, not finite, OHLC contradicting each other) or
 * an outlier against the recent closes (a bad tick) becomes a dead letter — the same checks a
 * CSV file passes before a backtest. A bar at or before the last one is a duplicate or out of order and
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
      const detectors = new Map<string, OutlierDetector>();
      const dead = (bar: Bar, reason: string): void =>
        subscriber.next({ kind: 'dead-letter', stage: 'sequenceBars', reason, raw: bar, tsInit: scheduler.now() });
      return source.subscribe({
        next: routeThrows(subscriber, (bar) => {
          const key = `${bar.venue}|${bar.symbol}|${bar.timeframe}`;
          const impossible = barValueProblem(bar);
          if (impossible) {
            dead(
              bar,
              `impossible ${bar.symbol} ${bar.timeframe} bar at ${bar.tsOpen}: ${impossible.column}: expected ${impossible.expected}, found ${impossible.found}`,
            );
            return;
          }
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
          if (config.outliers !== false) {
            let detector = detectors.get(key);
            if (!detector) {
              detector = new OutlierDetector(config.outliers);
              detectors.set(key, detector);
            }
            const outlier = detector.check(bar);
            if (outlier) {
              dead(
                bar,
                `outlier ${bar.symbol} ${bar.timeframe} bar at ${bar.tsOpen}: ${outlier.column}: expected ${outlier.expected}, found ${outlier.found}`,
              );
              return;
            }
          }
          last.set(key, bar);
          subscriber.next(bar);
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
