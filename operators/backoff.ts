/**
 * The one retry delay of the project: every driver that waits before trying again (feed
 * reconnects, REST history pages, venue resends, lookups and cancels) asks this function, and
 * rxjs `retry({ delay })` or the driver's own scheduler does the waiting.
 *
 * ```
 * attempt:  1     2     3     4 …
 * delay:    i     i·m   i·m²  … ≤ max, each × (1 ± jitter)
 * ```
 */
export interface BackoffConfig {
  /** Wait before the first retry, ms. */
  readonly initialDelayMs: number;
  /** Longest wait, ms (after jitter). */
  readonly maxDelayMs: number;
  /** Growth per attempt (≥ 1). Default 2. */
  readonly multiplier?: number;
  /** Spread: the wait is multiplied by a uniform draw in [1 − jitter, 1 + jitter]. 0..1, default 0. */
  readonly jitter?: number;
}

/**
 * The wait before retry `attempt` (1-based): `initialDelayMs × multiplier^(attempt−1)`, capped at
 * `maxDelayMs`, spread by ±`jitter` with one draw of `random`, capped again; whole ms, ≥ 0.
 *
 * @example
 * source$.pipe(retry({ count: 5, delay: (_e, n) => timer(backoffDelayMs(n, { initialDelayMs: 250, maxDelayMs: 30_000 }), scheduler) }));
 * @param attempt 1 for the first retry; values below 1 count as 1.
 * @param random uniform [0, 1) numbers (a seeded generator in tests); only drawn when `jitter` > 0.
 */
export function backoffDelayMs(attempt: number, config: BackoffConfig, random: () => number = Math.random): number {
  const multiplier = config.multiplier ?? 2;
  const jitter = config.jitter ?? 0;
  const base = Math.min(config.maxDelayMs, config.initialDelayMs * multiplier ** Math.max(0, attempt - 1));
  const spread = jitter > 0 ? 1 - jitter + 2 * jitter * random() : 1;
  return Math.max(0, Math.min(config.maxDelayMs, Math.round(base * spread)));
}

/**
 * True for an exchange's "overloaded, try again" answer — Binance's HTTP 503 with code -1008
 * ("Server is currently overloaded with other requests"), which ccxt reports as a plain
 * `ExchangeError`, as if final. The request was refused before it was processed: a read is
 * retried, an order was not executed and may be sent again with the same client order id.
 * Decided from the error text (ccxt puts the exchange's body in the message), so that drivers of
 * any folder can share it.
 */
export function isOverloadAnswer(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /"code"\s*:\s*-1008\b|\bServer is currently overloaded\b/.test(error.message);
}
