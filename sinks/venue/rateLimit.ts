/**
 * When the venue may send: our own cap on new orders (a token bucket, `ordersPerSecond` with a
 * burst of one second's worth) and the exchange's pauses (a 429 or 418 stops every request, per
 * IP, until its Retry-After or the ban's end). Pure state over the times it is given: the session
 * owns the clock and the timers.
 */
import { backoffDelayMs } from '../../operators/backoff';

/** A pause the exchange imposed. */
export interface Pause {
  /** 429 rate limit, 418 IP ban, null when the status is not known. */
  readonly status: 429 | 418 | null;
  readonly retryAfterMs: number;
  readonly until: number;
}

export class RateGate {
  private pausedUntil = 0;
  private throttleStreak = 0;
  private tokens: number;
  private tokensAt: number;

  /**
   * @param ordersPerSecond our cap on new orders.
   * @param maxBackoffMs longest fallback pause after repeated 429s without a Retry-After, ms.
   * @param now the clock's time at start, ms.
   */
  constructor(
    private readonly ordersPerSecond: number,
    private readonly maxBackoffMs: number,
    now: number,
  ) {
    this.tokens = ordersPerSecond;
    this.tokensAt = now;
  }

  /** Starts the bucket's refill at `now` (the session's start). */
  restart(now: number): void {
    this.tokensAt = now;
  }

  /** 0 when a request may go at `now` (an order also takes a token), else ms to wait. */
  waitMs(now: number, isOrder: boolean): number {
    if (now < this.pausedUntil) return this.pausedUntil - now;
    if (!isOrder) return 0;
    const rate = this.ordersPerSecond;
    const capacity = Math.max(1, rate);
    this.tokens = Math.min(capacity, this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate));
  }

  /** True while an exchange pause lasts. */
  pausedAt(now: number): boolean {
    return now < this.pausedUntil;
  }

  /** A request got through: the next 429 without Retry-After starts the fallback from 1 s again. */
  succeeded(): void {
    this.throttleStreak = 0;
  }

  /**
   * A 429 or 418 at `now`: nothing is sent until Retry-After (or the ban's end) has passed.
   * Returns the new pause, or null when it ends no later than the current one.
   *
   * @param retryAfterHeader the response's `Retry-After` (seconds or an HTTP date), if any.
   */
  throttle(now: number, error: Error, retryAfterHeader: unknown): Pause | null {
    const status = /\b418\b/.test(error.message) ? 418 : /\b429\b/.test(error.message) ? 429 : null;
    this.throttleStreak += 1;
    // Without a Retry-After: a ban lasts at least 2 minutes on Binance; a rate limit doubles from 1 s.
    const fallback =
      status === 418
        ? 120_000
        : backoffDelayMs(this.throttleStreak, {
            initialDelayMs: 1_000,
            maxDelayMs: Math.max(this.maxBackoffMs, 1_000),
          });
    const retryAfterMs = retryAfterOf(error, retryAfterHeader, now) ?? fallback;
    const until = now + retryAfterMs;
    if (until <= this.pausedUntil) return null;
    this.pausedUntil = until;
    return { status, retryAfterMs, until };
  }
}

/** How long an answer asks to wait, ms: Binance's "banned until <ms>", else `Retry-After`; null when neither. */
export function retryAfterOf(error: Error, header: unknown, now: number): number | null {
  const banned = /banned until (\d{12,})/.exec(error.message);
  if (banned) return Math.max(0, Number(banned[1]) - now);
  if (header === undefined || header === null || header === '') return null;
  const text = String(header).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
