/**
 * Closed bars of one symbol and timeframe from ccxt's `watchOHLCV` candles, gap-free across
 * reconnects: the state machine behind `makeCcxtOhlcvSource`.
 *
 * `watchOHLCV` hands out the candle still forming, updated again and again. A bar is *closed*,
 * and emitted, when
 *   (a) the stream delivers a candle of a later interval — the exchange has moved on, so the
 *       earlier candle's last update was its final one; or
 *   (b) its interval ended `closeGraceMs` ago by the scheduler's clock and no later candle came
 *       (a quiet market, a stalled stream): then its final values are fetched over REST rather
 *       than trusting the last streamed update.
 *
 * Bars come out in order, each exactly once: `nextOpen` is the open time of the next bar owed.
 * A closed bar after a hole (missed while disconnected; the stream's first candle after a
 * reconnect is later than `nextOpen`) waits while the hole is backfilled with fetchOHLCV
 * (`makeOhlcvHistorySource`, which pages and returns closed bars only); bars REST does not have
 * are reported as missing, never invented. A candle already emitted (a late update, or one REST
 * delivered first) is dropped. The candle forming when a connection is lost is discarded — updates
 * to it may have been missed — and comes back complete from the new stream or from REST.
 *
 * ```
 * stream:   k0 k0 k1 k1 ✕ (reconnect)  k4 k4 k5
 * REST:                   [k1 k2 k3]
 * bars:           B0       B1 B2 B3       B4
 * ```
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { Bar, Symbol, Timeframe, Timestamp, VenueId } from '../operators/types';
import { timeframeMs } from '../operators/types';
import type { FeedBarsBackfilled } from './ccxtFeed';

/** A candle as ccxt returns it: [open time ms, open, high, low, close, volume]. */
export type Candle = readonly [number, number, number, number, number, number];

/** Closed bars held while a backfill runs, at most (older ones are refetched by the next backfill). */
const MAX_HELD = 1_000;

export interface BarSeriesConfig {
  readonly venue: VenueId;
  readonly symbol: Symbol;
  readonly timeframe: Timeframe;
  readonly scheduler: SchedulerLike;
  /** Wait after a bar's end before fetching it over REST when the stream has not closed it, ms. */
  readonly closeGraceMs: number;
  /** Removes float noise from prices / volumes (the instrument's grids). */
  readonly roundPrice: (value: number) => number;
  readonly roundQty: (value: number) => number;
  readonly emitBar: (bar: Bar) => void;
  readonly emitEvent: (event: FeedBarsBackfilled) => void;
  /**
   * True when a failed backfill may succeed later (the exchange overloaded or unreachable): the
   * hole is then fetched again, the bars after it held, never written off as missing. Default: never.
   */
  readonly isTransient?: (error: unknown) => boolean;
  /** Wait before fetching a hole again after the `failures`-th transient failure in a row, ms. Default 1000. */
  readonly retryDelayMs?: (failures: number) => number;
  /**
   * Fetches closed bars opening at or after `since`, ascending, up to the last closed one (REST).
   * Calls `next` per page, then exactly one of `done` / `failed`. Returns what cancels it.
   */
  readonly fetchClosedBars: (
    since: Timestamp,
    handlers: { next: (bars: readonly Bar[]) => void; done: () => void; failed: (error: unknown) => void },
  ) => Subscription;
}

export class BarSeries {
  private readonly step: number;
  /** Open time of the next bar owed downstream; null until the first candle. */
  private nextOpen: Timestamp | null = null;
  /** The latest candle of the stream (still forming, as far as we know). */
  private pending: Candle | null = null;
  /** Closed bars from the stream waiting for a backfill, ascending. */
  private held: Bar[] = [];
  private backfill: Subscription | null = null;
  private backfillAgain = false;
  /** Transient backfill failures in a row (the hole is still owed). */
  private backfillFailures = 0;
  private closeTimer: Subscription | null = null;

  constructor(private readonly config: BarSeriesConfig) {
    this.step = timeframeMs(config.timeframe);
  }

  /** Candles from one `watchOHLCV` result, in the order ccxt gives them. Invalid rows are returned for dead-lettering. */
  onCandles(rows: readonly (readonly unknown[])[]): unknown[] {
    const invalid: unknown[] = [];
    for (const row of rows) {
      if (isCandle(row, this.step)) this.onCandle(row);
      else invalid.push(row);
    }
    return invalid;
  }

  /** The connection was lost: the forming candle may have missed updates, so it is dropped. */
  onSessionEnded(): void {
    this.pending = null;
    this.closeTimer?.unsubscribe();
    this.closeTimer = null;
  }

  dispose(): void {
    this.onSessionEnded();
    this.backfill?.unsubscribe();
    this.backfill = null;
    this.held = [];
  }

  private onCandle(candle: Candle): void {
    const tsOpen = candle[0];
    if (this.nextOpen !== null && tsOpen < this.nextOpen) return; // already emitted
    const pending = this.pending;
    if (pending === null) {
      this.pending = candle;
      if (this.nextOpen === null) this.nextOpen = tsOpen;
      else if (tsOpen > this.nextOpen) this.requestBackfill(); // bars between were missed
      this.armCloseTimer();
      return;
    }
    if (tsOpen < pending[0]) return; // a stale update of an interval the stream has left
    if (tsOpen === pending[0]) {
      this.pending = candle;
      return;
    }
    this.pending = candle;
    this.armCloseTimer();
    this.offer(this.toBar(pending));
  }

  /** A bar the stream closed. */
  private offer(bar: Bar): void {
    const nextOpen = this.nextOpen!;
    if (bar.tsOpen < nextOpen) return;
    if (this.backfill !== null) {
      this.hold(bar);
      return;
    }
    if (bar.tsOpen === nextOpen) {
      this.emit(bar);
      return;
    }
    this.hold(bar);
    this.requestBackfill();
  }

  private hold(bar: Bar): void {
    this.held.push(bar);
    if (this.held.length > MAX_HELD) this.held.shift();
  }

  private emit(bar: Bar): void {
    this.nextOpen = bar.tsOpen + this.step;
    this.config.emitBar(bar);
  }

  private armCloseTimer(): void {
    this.closeTimer?.unsubscribe();
    const pending = this.pending;
    if (pending === null) {
      this.closeTimer = null;
      return;
    }
    const { scheduler, closeGraceMs } = this.config;
    const due = pending[0] + this.step + closeGraceMs;
    this.closeTimer = scheduler.schedule(
      () => {
        this.closeTimer = null;
        // Still the same forming candle after its interval ended: ask REST for the final bar.
        if (this.pending === pending) this.requestBackfill();
      },
      Math.max(0, due - scheduler.now()),
    );
  }

  private requestBackfill(): void {
    if (this.backfill !== null) {
      this.backfillAgain = true;
      return;
    }
    const from = this.nextOpen;
    if (from === null) return;
    let bars = 0;
    let finished = false;
    const finish = (error: unknown): void => {
      if (finished) return;
      finished = true;
      this.backfill = null;
      if (error !== null && this.config.isTransient?.(error) === true) {
        // Not final: the exchange could not answer now. The held bars wait; the hole is fetched again.
        this.backfillFailures += 1;
        const retryInMs = this.config.retryDelayMs?.(this.backfillFailures) ?? 1_000;
        this.report(from, bars, 0, error, retryInMs);
        this.backfill = this.config.scheduler.schedule(() => {
          this.backfill = null;
          this.backfillAgain = false;
          this.requestBackfill();
        }, retryInMs);
        return;
      }
      this.backfillFailures = 0;
      if (this.backfillAgain && error === null) {
        this.backfillAgain = false;
        this.report(from, bars, 0, null);
        this.requestBackfill();
        return;
      }
      this.backfillAgain = false;
      // What REST could not provide stays missing: the held bars go out after the hole.
      let missing = 0;
      for (const bar of this.held) {
        if (bar.tsOpen < this.nextOpen!) continue;
        missing += Math.round((bar.tsOpen - this.nextOpen!) / this.step);
        this.emit(bar);
      }
      this.held = [];
      this.report(from, bars, missing, error);
    };
    const subscription = this.config.fetchClosedBars(from, {
      next: (page) => {
        for (const bar of page) {
          if (bar.tsOpen < this.nextOpen!) continue;
          bars += 1;
          this.emit(this.normalise(bar));
        }
      },
      done: () => finish(null),
      failed: (error) => finish(error ?? new Error('backfill failed')),
    });
    if (!finished) this.backfill = subscription;
  }

  private report(
    from: Timestamp,
    bars: number,
    missing: number,
    error: unknown,
    retryInMs: number | null = null,
  ): void {
    this.config.emitEvent(
      Object.freeze({
        kind: 'feed-bars-backfilled',
        venue: this.config.venue,
        stream: 'ohlcv',
        symbol: this.config.symbol,
        timeframe: this.config.timeframe,
        bars,
        from,
        to: this.nextOpen ?? from,
        missing,
        error: error === null ? null : error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        retryInMs,
        tsInit: this.config.scheduler.now(),
      }),
    );
  }

  private normalise(bar: Bar): Bar {
    const { roundPrice, roundQty, venue, symbol } = this.config;
    return Object.freeze({
      ...bar,
      venue,
      symbol,
      open: roundPrice(bar.open),
      high: roundPrice(bar.high),
      low: roundPrice(bar.low),
      close: roundPrice(bar.close),
      volume: roundQty(bar.volume),
    });
  }

  private toBar(candle: Candle): Bar {
    const { roundPrice, roundQty, venue, symbol, timeframe } = this.config;
    return Object.freeze({
      kind: 'bar',
      venue,
      symbol,
      timeframe,
      tsOpen: candle[0],
      tsEvent: candle[0] + this.step,
      open: roundPrice(candle[1]),
      high: roundPrice(candle[2]),
      low: roundPrice(candle[3]),
      close: roundPrice(candle[4]),
      volume: roundQty(candle[5]),
      // ccxt's unified OHLCV carries no trade count.
      trades: 0,
    });
  }
}

function isCandle(row: readonly unknown[], step: number): row is Candle {
  if (row.length < 6) return false;
  for (let i = 0; i < 6; i++) {
    const v = row[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  }
  // Open times are on the timeframe's grid (UTC); anything else is not a bar of this series.
  return (row[0] as number) % step === 0;
}
