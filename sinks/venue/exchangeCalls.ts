/**
 * Every request a live venue session makes to its exchange goes through here: the pause after a
 * 429/418 (nothing is sent until it has passed — limits are per IP), our order cap, a watchdog
 * on each call (ccxt's timeout stops at the response headers; a body that never completes would
 * hang forever), and the one retry policy of the project for reads: rxjs `retry({ delay })` with
 * `operators/backoff.ts`' delays, on the session's scheduler.
 *
 * ```
 * retrying(fetchBalance):  --x(503 -1008)--[backoff 1]--x--[backoff 2]--v|     v the balance
 *                          --x(429, Retry-After 2 s)--[pause: nothing sent]--v|
 *                          --x(AuthenticationError)|                          final: thrown at once
 * ```
 *
 * Waits end early when the session closes: a call then rejects with {@link Closed}.
 */
import * as ccxt from 'ccxt';
import {
  defer,
  firstValueFrom,
  lastValueFrom,
  map,
  type Observable,
  of,
  race,
  retry,
  Subject,
  type SchedulerLike,
  type Subscription,
  throwError,
  timer,
} from 'rxjs';
import { backoffDelayMs } from '../../operators/backoff';
import type { CcxtVenueSettings } from './config';
import type { Pause, RateGate } from './rateLimit';
import { Closed, isTransientReadError, WatchdogTimeout } from './submitOutcome';

/** What the calls need of the session that owns them. */
export interface ExchangeCallsHost {
  readonly settings: CcxtVenueSettings;
  readonly exchange: ccxt.Exchange;
  readonly scheduler: SchedulerLike;
  readonly rate: RateGate;
  /** A timer that dies with the session. */
  schedule(work: () => void, delayMs: number): Subscription;
  /** A 429/418 started a pause (the session reports it, and its end). */
  throttled(pause: Pause, error: Error, now: number): void;
}

export class ExchangeCalls {
  private isClosed = false;
  private readonly closed$ = new Subject<void>();

  constructor(private readonly host: ExchangeCallsHost) {}

  /** Every wait ends, every later call rejects with {@link Closed}. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closed$.next();
    this.closed$.complete();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * One exchange call: waits out a pause, then runs `fn` under the watchdog. A 429/418 answer
   * starts a pause for every request. Throws what `fn` throws (or WatchdogTimeout, Closed).
   * Synchronous when nothing has to be waited for: an order reaches ccxt in the tick it arrived.
   */
  call<T>(label: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Closed());
    if (this.waitBeforeSend(false) > 0) return this.waitForPause().then(() => this.call(label, fn));
    let pending: Promise<T>;
    try {
      pending = fn();
    } catch (error) {
      pending = Promise.reject(error);
    }
    return this.withWatchdog(label, pending).then(
      (value) => {
        this.host.rate.succeeded();
        return value;
      },
      (error: unknown) => {
        if (this.closed) throw new Closed();
        if (error instanceof ccxt.DDoSProtection || error instanceof ccxt.RateLimitExceeded) this.throttle(error);
        throw error;
      },
    );
  }

  /**
   * {@link call} for reads and idempotent calls, retried with rxjs `retry({ delay })` on transient
   * failures (network, timeouts, 5xx, Binance -1008) and rate limits, at most `retry.maxRetries`
   * times; a backoff before each retry (none after a rate limit: the pause is the wait). Anything
   * else is thrown at once.
   */
  retrying<T>(label: string, fn: () => Promise<T>): Promise<T> {
    return lastValueFrom(
      defer(() => this.call(label, fn)).pipe(
        retry({
          count: this.host.settings.retry.maxRetries,
          delay: (error: unknown, retryCount: number): Observable<unknown> => {
            if (error instanceof Closed || !isTransientReadError(error)) return throwError(() => error);
            if (error instanceof ccxt.DDoSProtection || error instanceof ccxt.RateLimitExceeded) return of(0);
            return this.delay$(this.backoff(retryCount));
          },
        }),
      ),
    );
  }

  /** The backoff before retry `attempt` (1-based), from the venue's retry settings. */
  backoff(attempt: number): number {
    return backoffDelayMs(attempt, this.host.settings.retry);
  }

  /** Resolves after `ms` on the scheduler, or as soon as the session closes. */
  wait(ms: number): Promise<void> {
    return firstValueFrom(this.delay$(ms).pipe(map(() => undefined)));
  }

  /** 0 when a request may go now (an order also takes a token), else ms to wait. */
  waitBeforeSend(isOrder: boolean): number {
    return this.host.rate.waitMs(this.host.scheduler.now(), isOrder);
  }

  /** Waits until no pause is on; rejects with Closed when the session closes. */
  async waitForPause(): Promise<void> {
    for (;;) {
      if (this.closed) throw new Closed();
      const wait = this.waitBeforeSend(false);
      if (wait <= 0) return;
      await this.wait(wait);
    }
  }

  /** Waits for the pause and a token of the order cap; rejects with Closed when the session closes. */
  async acquireOrderSlot(): Promise<void> {
    for (;;) {
      if (this.closed) throw new Closed();
      const wait = this.waitBeforeSend(true);
      if (wait <= 0) return;
      await this.wait(wait);
    }
  }

  private delay$(ms: number): Observable<unknown> {
    if (this.isClosed) return of(0);
    return race(timer(Math.max(0, ms), this.host.scheduler), this.closed$);
  }

  private withWatchdog<T>(label: string, promise: Promise<T>): Promise<T> {
    const ms = this.host.settings.timeoutMs + this.host.settings.watchdogGraceMs;
    return new Promise<T>((resolve, reject) => {
      const timer = this.host.schedule(() => reject(new WatchdogTimeout(label, ms)), ms);
      promise.then(
        (value) => {
          timer.unsubscribe();
          resolve(value);
        },
        (error: unknown) => {
          timer.unsubscribe();
          reject(error);
        },
      );
    });
  }

  /** A 429 or 418: nothing is sent until Retry-After (or the ban's end) has passed. */
  private throttle(error: Error): void {
    const now = this.host.scheduler.now();
    const pause = this.host.rate.throttle(now, error, this.host.exchange.last_response_headers?.['Retry-After']);
    if (pause !== null) this.host.throttled(pause, error, now);
  }
}
