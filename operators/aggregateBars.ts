import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { timeframeMs, type Bar, type BarGap, type DeadLetter, type Timeframe, type TradeTick } from './types';
import { routeThrows } from './routeThrows';

export type AggregatedEvent = Bar | BarGap | DeadLetter;

export interface AggregateBarsConfig {
  /** Timeframes to build, in any order; bars of shorter timeframes are emitted first. */
  readonly timeframes: readonly Timeframe[];
  /**
   * Emit the still-open bars when the source completes. Default false: an unfinished bar is not
   * a bar (a backtest that ends mid-interval must not trade on a partial candle).
   */
  readonly emitPartialOnComplete?: boolean;
  /** Clock for the `tsInit` of dead letters. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /**
   * The first interval of a series whose first trade is later than the interval's open: the
   * stream was joined mid-interval, so the trades before it are missing and the bar would be
   * partial (a fraction of the true volume, a wrong open) while looking complete. `drop`
   * (default) does not emit it — the series starts with the next, whole interval; `emit` emits
   * it as it is. A first trade exactly at the open counts as a whole interval.
   */
  readonly partialFirstBar?: 'drop' | 'emit';
}

/**
 * Aggregates trade ticks into OHLCV bars per symbol and timeframe, in event time.
 *
 * A bar `[t, t + tf)` is emitted when the first tick at or after `t + tf` arrives — never on a wall
 * clock, so replay and live agree. Intervals with no trade produce no bar: a {@link BarGap} says
 * how many are missing. A tick out of order inside the open interval is placed by its event time
 * (the open is the earliest trade, the close the latest). A tick older than the open bar cannot
 * be placed without rewriting an emitted bar: it becomes a {@link DeadLetter}.
 *
 * ```
 * ticks (1m): -a-b----c--------d-|     a,b in minute 0 · c in minute 1 · d in minute 3
 * bars:       --------A--------(CG)|   A = bar of a,b · C = bar of c · G = gap of 1 bar (minute 2)
 * ```
 *
 * @example
 * ticks$.pipe(aggregateBars({ timeframes: ['1m', '5m'] }))
 */
export function aggregateBars(config: AggregateBarsConfig): OperatorFunction<TradeTick, AggregatedEvent> {
  const timeframes = [...new Set(config.timeframes)].sort((a, b) => timeframeMs(a) - timeframeMs(b));
  if (timeframes.length === 0)
    throw new RangeError('aggregateBars: config.timeframes must name at least one timeframe');
  return (source) =>
    new Observable<AggregatedEvent>((subscriber) => {
      const scheduler = config.scheduler ?? asyncScheduler;
      const dropPartial = (config.partialFirstBar ?? 'drop') === 'drop';
      const series = new Map<string, SeriesState[]>();
      // The last series used: a feed is mostly one symbol, so skip the map lookup when it repeats.
      let lastVenue: string | undefined;
      let lastSymbol: string | undefined;
      let lastStates: SeriesState[] = [];

      const statesFor = (tick: TradeTick): SeriesState[] => {
        if (tick.symbol === lastSymbol && tick.venue === lastVenue) return lastStates;
        const key = `${tick.venue}|${tick.symbol}`;
        let states = series.get(key);
        if (!states) {
          states = timeframes.map((tf) => new SeriesState(tick.venue, tick.symbol, tf));
          series.set(key, states);
        }
        lastVenue = tick.venue;
        lastSymbol = tick.symbol;
        lastStates = states;
        return states;
      };

      return source.subscribe({
        next: routeThrows(subscriber, (tick) => {
          const states = statesFor(tick);
          // A tick late for one timeframe is rejected for all of them, so that every timeframe is
          // built from the same trades.
          let late: SeriesState | undefined;
          for (let i = 0; i < states.length; i++) if (states[i]!.isLate(tick.tsEvent)) late = states[i];
          if (late) {
            subscriber.next({
              kind: 'dead-letter',
              stage: 'aggregateBars',
              reason: `late tick: ${tick.symbol} trade ${tick.tradeId} at ${tick.tsEvent} is before the open ${late.timeframe} bar (${late.tsOpen})`,
              raw: tick,
              tsInit: scheduler.now(),
            });
            return;
          }
          for (let i = 0; i < states.length; i++) states[i]!.add(tick, subscriber, dropPartial);
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          if (config.emitPartialOnComplete) {
            for (const states of series.values()) for (const state of states) state.flush(subscriber);
          }
          subscriber.complete();
        },
      });
    });
}

/** The bar being built for one (venue, symbol, timeframe). */
class SeriesState {
  readonly tfMs: number;
  tsOpen = -1;
  private open = 0;
  private high = 0;
  private low = 0;
  private close = 0;
  private volume = 0;
  private trades = 0;
  /** Event times of the trades that set open and close (ticks may arrive out of order within the interval). */
  private tsFirst = 0;
  private tsLast = 0;
  /** tsEvent of the last emitted bar, to detect gaps across intervals with no trade. */
  private lastClosedEnd = -1;
  /** True while the open bar is the series' first and began after its interval's open. */
  private partial = false;
  private started = false;

  constructor(
    readonly venue: string,
    readonly symbol: string,
    readonly timeframe: Timeframe,
  ) {
    this.tfMs = timeframeMs(timeframe);
  }

  isLate(ts: number): boolean {
    return this.tsOpen >= 0 && ts < this.tsOpen;
  }

  add(tick: TradeTick, out: { next(event: AggregatedEvent): void }, dropPartial: boolean): void {
    const ts = tick.tsEvent;
    const bucket = ts - (ts % this.tfMs);
    if (bucket !== this.tsOpen) {
      if (this.tsOpen >= 0) {
        if (this.partial) this.tsOpen = -1;
        else this.flush(out);
      }
      this.partial = dropPartial && !this.started && ts !== bucket;
      this.started = true;
      if (this.lastClosedEnd >= 0 && bucket > this.lastClosedEnd) {
        out.next({
          kind: 'gap',
          venue: this.venue,
          symbol: this.symbol,
          timeframe: this.timeframe,
          from: this.lastClosedEnd,
          to: bucket,
          missing: (bucket - this.lastClosedEnd) / this.tfMs,
          tsEvent: ts,
        });
      }
      this.tsOpen = bucket;
      this.open = this.high = this.low = this.close = tick.price;
      this.tsFirst = this.tsLast = ts;
      this.volume = tick.qty;
      this.trades = 1;
      return;
    }
    if (tick.price > this.high) this.high = tick.price;
    if (tick.price < this.low) this.low = tick.price;
    // Open and close follow event time, not arrival order.
    if (ts < this.tsFirst) {
      this.tsFirst = ts;
      this.open = tick.price;
    }
    if (ts >= this.tsLast) {
      this.tsLast = ts;
      this.close = tick.price;
    }
    this.volume += tick.qty;
    this.trades++;
  }

  flush(out: { next(event: AggregatedEvent): void }): void {
    if (this.tsOpen < 0 || this.partial) return;
    const tsEvent = this.tsOpen + this.tfMs;
    out.next({
      kind: 'bar',
      venue: this.venue,
      symbol: this.symbol,
      timeframe: this.timeframe,
      tsOpen: this.tsOpen,
      tsEvent,
      open: this.open,
      high: this.high,
      low: this.low,
      close: this.close,
      volume: this.volume,
      trades: this.trades,
    });
    this.lastClosedEnd = tsEvent;
    this.tsOpen = -1;
  }
}
